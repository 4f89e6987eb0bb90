"""`ChatBot`: the public API. Guard → query → retrieve → select → compose → verify → output guard.

Fail closed: an exception anywhere ends in a calm, safe reply and a logged error, never a traceback or an
unguarded answer. The bot keeps no state between calls; the conversation is the `history` passed in.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from typing import Any, Iterator

import prompts
from ingest.safety import DOSING
from ingest.settings import Settings

from .compose import PassageSelector, QuoteComposer
from .guard import ALLOW, EMERGENCY, OUT_OF_SCOPE, REFUSAL, GuardDecision, InputGuard, OutputGuard
from .library import Library
from .query import QueryBuilder
from .retrieval import HybridRetriever, merge_ranked
from .types import Reply

log = logging.getLogger("verbatim.bot")

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")

# A message with no health word at all must match the documents this well to be answered (else out_of_scope).
OFF_TOPIC_MIN_COSINE = 0.5

SAFE_FALLBACK = (
    "I'm sorry — I can't answer that right now. Please ask your doctor or care team. "
    "In an emergency, call 112 (Europe) or 911 (US and Canada)."
)


def _message(key: str, **values: str) -> str:
    try:
        return prompts.message(key, **values)
    except Exception:  # the wording file itself is broken: still say something safe
        log.exception("message %s could not be rendered", key)
        return SAFE_FALLBACK


def clean_history(history: Any, limit: int) -> list[dict[str, str]]:
    """Keep well-formed {"role", "content"} turns; anything else in the history is ignored, not fatal."""
    out: list[dict[str, str]] = []
    if not isinstance(history, (list, tuple)):
        return out
    for m in history[-20:]:
        if isinstance(m, dict) and m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str):
            out.append({"role": m["role"], "content": _CONTROL.sub(" ", m["content"])[:limit]})
    return out


class ChatBot:
    def __init__(
        self,
        library: Library,
        input_guard: InputGuard,
        query_builder: QueryBuilder,
        retriever: HybridRetriever,
        selector: PassageSelector,
        composer: QuoteComposer,
        output_guard: OutputGuard,
        settings: Settings,
    ) -> None:
        self.library = library
        self.input_guard = input_guard
        self.query_builder = query_builder
        self.retriever = retriever
        self.selector = selector
        self.composer = composer
        self.output_guard = output_guard
        self.settings = settings

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> "ChatBot":
        """Build the bot from `VERBATIM_*` settings; raises an error naming `python -m ingest` on an empty index."""
        from .factory import build

        return build(settings or Settings())

    # ---- public API -------------------------------------------------------------------------------
    def ask(self, message: str, history: list[dict] | None = None) -> Reply:
        return self._respond(message, history)

    def stream(self, message: str, history: list[dict] | None = None) -> Iterator[str | Reply]:
        """Text increments, then the final Reply. Nothing is streamed before the reply passed every check."""
        reply = self._respond(message, history)
        pieces = reply.text.split("\n\n")
        for i, piece in enumerate(pieces):
            yield piece + ("\n\n" if i < len(pieces) - 1 else "")
        yield reply

    def health(self) -> dict[str, Any]:
        """Whether this bot can answer: the index version it answers from, its vectors reachable."""
        version = self.library.version
        try:
            vectors = self.library.collection.count()
        except Exception as exc:  # the collection gone or the Chroma server unreachable
            return {"status": "unavailable", "index_version": version, "reason": f"vectors unreachable ({exc.__class__.__name__})"}
        if not vectors:
            return {"status": "unavailable", "index_version": version, "reason": "the index has no vectors"}
        return {"status": "ok", "index_version": version}

    # ---- the pipeline -----------------------------------------------------------------------------
    def _respond(self, message: Any, history: Any) -> Reply:
        trace: dict[str, Any] = {"timings_ms": {}}
        started = time.perf_counter()
        stage = "input"
        try:
            problem = self._input_problem(message)
            if problem:
                trace["input_problem"] = problem[0]
                if problem[0] == "too_long":  # declined, but crisis language anywhere in it still escalates
                    stage = "input_guard"
                    crisis = self.input_guard.screen_crisis(_CONTROL.sub(" ", message))
                    if crisis is not None:
                        trace["input_guard"] = crisis.to_dict()
                        return self._guarded(crisis, trace)
                return Reply("no_answer", problem[1], None, (), trace)
            message = _CONTROL.sub(" ", unicodedata.normalize("NFC", message)).strip()
            history = clean_history(history, self.settings.max_message_chars)

            stage = "query"
            t = time.perf_counter()
            query = self.query_builder.build(message, history)
            texts = list(dict.fromkeys([message, query.text]))  # one encoder call
            vectors = dict(zip(texts, self.library.embeddings.encode(texts)))
            msg_vec, query_vec = vectors[message], vectors[query.text]
            trace["timings_ms"]["embed"] = _ms(t)

            stage = "input_guard"
            t = time.perf_counter()
            decision = self.input_guard.check(message, history, msg_vec, query.corrected)
            trace["input_guard"] = decision.to_dict()
            trace["timings_ms"]["input_guard"] = _ms(t)
            if decision.action != ALLOW:
                return self._guarded(decision, trace)
            trace["query"] = query.to_dict()

            stage = "retrieval"
            t = time.perf_counter()
            search = {"embedding": query_vec.tolist(), "terms": list(query.terms)}
            # A mixed library: its subject's documents are also searched on their own, and only they are
            # searched when the question is about the subject.
            about = self.selector.about_subject(query)
            docs = [] if about else self.retriever.invoke(query.text, **search)
            if self.selector.focus:
                docs = merge_ranked(docs, self.retriever.invoke(query.text, sources=sorted(self.selector.focus), **search))
            candidates = [dict(d.metadata) for d in docs]
            trace["candidates"] = [{**c, "section": " › ".join(self.library.chunks[c["chunk_id"]].section)} for c in candidates]
            trace["timings_ms"]["retrieval"] = _ms(t)

            stage = "selection"
            t = time.perf_counter()
            selection = self.selector.select(query, query_vec, candidates, about)
            trace["passages"] = [s.to_dict() for s in selection.scored[:12]]
            trace["abstain"] = {"abstain": selection.abstain, "why": selection.why, **selection.evidence}
            trace["timings_ms"]["selection"] = _ms(t)
            on_topic = (
                decision.on_topic
                or bool(query.expansions)
                or self.input_guard.mentions_health(query.corrected)
                or bool(self.library.technical_words(query.corrected))
            )
            off_topic = not on_topic and selection.evidence.get("best_cosine", 0) < OFF_TOPIC_MIN_COSINE
            if selection.abstain or off_topic:
                kind = "no_answer" if on_topic else "out_of_scope"
                trace["abstain"]["abstain"] = True
                if off_topic and not selection.abstain:
                    trace["abstain"]["why"] = f"no health word and best cosine < {OFF_TOPIC_MIN_COSINE}"
                return Reply(kind, _message(kind), None, (), trace)

            stage = "compose"
            groups = [[s.passage for s in g] for g in selection.groups]
            withheld = [p.id for g in groups for p in g if not self.library.eligible(p.id)]  # checked again
            if withheld:
                log.warning("composition withheld tagged passages: %s", withheld)
                trace["withheld"] = [{"passage_id": pid, "why": "tagged " + ",".join(sorted(
                    self.library.passages[pid].tags)) if pid in self.library.passages else "unknown passage"}
                    for pid in withheld]
            groups = [[p for p in g if p.id not in withheld] for g in groups]
            groups = [g for g in groups if g]
            text, quotes = self.composer.compose(groups, followup=bool(query.carried))

            stage = "verify"
            verified = tuple(q for q in quotes if self.library.verify(q.source, q.start, q.end, q.text))
            dropped = [q.passage_id for q in quotes if q not in verified]
            trace["verify"] = {"quotes": len(quotes), "dropped": dropped}
            if not verified:
                return Reply("no_answer", _message("no_answer"), None, (), trace)
            if dropped:
                kept = [[p for p in g if p.id not in dropped] for g in groups]
                text, verified = self.composer.compose([g for g in kept if g], followup=bool(query.carried))
            trace["chosen"] = [q.passage_id for q in verified]
            trace["why"] = _why(selection, len(verified))

            stage = "output_guard"
            violations = self.output_guard.violations(text, verified)
            trace["output_guard"] = {"violations": violations}
            if violations:
                log.warning("output guard replaced a reply: %s", violations)
                return Reply("refusal", _message("refusal_dosing", topic=_message("refusal_default_topic")), DOSING, (), trace)
            return Reply("answer", text, None, verified, trace)
        except Exception as exc:  # fail closed
            log.exception("stage %s failed", stage)
            trace["error"] = {"stage": stage, "type": exc.__class__.__name__, "message": str(exc)[:500]}
            return Reply("no_answer", _message("safe_failure"), None, (), trace)
        finally:
            trace["timings_ms"]["total"] = _ms(started)

    def _guarded(self, decision: GuardDecision, trace: dict) -> Reply:
        if decision.action == EMERGENCY:
            key = "emergency_self_harm" if decision.reason == "self_harm" else "emergency"
            return Reply("emergency", _message(key), None, (), trace)
        if decision.action == REFUSAL:
            if decision.reason == DOSING:
                topic = decision.topic or _message("refusal_default_topic")
                return Reply("refusal", _message("refusal_dosing", topic=topic), DOSING, (), trace)
            return Reply("refusal", _message("refusal_unproven_remedy"), decision.reason, (), trace)
        if decision.action == OUT_OF_SCOPE:
            return Reply("out_of_scope", _message("out_of_scope"), None, (), trace)
        raise ValueError(f"unknown guard action {decision.action!r}")

    def _input_problem(self, message: Any) -> tuple[str, str] | None:
        if not isinstance(message, str):
            return "not_text", _message("unreadable")
        if not message.strip():
            return "empty", _message("empty_message")
        limit = self.settings.max_message_chars
        if len(message) > limit:
            return "too_long", _message("too_long", length=f"{len(message):,}", limit=f"{limit:,}")
        visible = _CONTROL.sub("", message)
        letters = sum(ch.isalpha() for ch in visible)
        if "\ufffd" in message or letters < 2 or letters < 0.3 * len(visible.strip()):
            return "unreadable", _message("unreadable")
        return None


def _why(selection, quotes: int) -> str:
    """In words a support worker reads: why these quotes were chosen."""
    top = selection.groups[0][0] if selection.groups else None
    if top is None:
        return ""
    runner = next((s for s in selection.scored if all(s is not x for g in selection.groups for x in g)), None)
    section = " › ".join(top.passage.section) or "Introduction"
    text = (f"Quoted {quotes} passage(s). The best, from \"{section}\", contains {top.lexical:.0%} of the question's "
            f"weighted words, meaning similarity {top.cosine:.2f}, overall score {top.score:.2f}")
    if runner is not None:
        text += f"; the best passage not quoted scored {runner.score:.2f}"
    return text + f". Learned answerability (shadow, not deciding yet): {top.answerability:.2f}."


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)
