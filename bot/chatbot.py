"""`ChatBot`: the public API, and the orchestrator of the answer pipeline (`bot.stages`):

    checks → query → input guard → subject focus → retrieval → selection → compose → verify → output guard

Each stage decides; `ChatBot` only runs them in order, collects their trace parts and turns the outcome into
a `Reply`. Fail closed: an exception anywhere ends in a calm, safe reply and a logged error, never a
traceback or an unguarded answer. The bot keeps no state between calls; the conversation is the `history`
passed in.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Iterator

from ingest.settings import Settings

from .checks import SCREENED
from .compose import md_escape
from .factory import build_pipeline
from .guard import EMERGENCY
from .stages import Pipeline
from .types import Reply

log = logging.getLogger("verbatim.bot")


class ChatBot:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> "ChatBot":
        """Build the bot from `VERBATIM_*` settings; raises an error naming `python -m ingest` on an empty index."""
        return cls(build_pipeline(settings or Settings()))

    # ---- public API -------------------------------------------------------------------------------
    def ask(self, message: str, history: list[dict] | None = None) -> Reply:
        return self._respond(message, history)[0]

    def stream(self, message: str, history: list[dict] | None = None) -> Iterator[str | Reply]:
        """Text increments — an answer's lead-in, each quote with its source, the care-team pointer; any other
        reply whole — then the final Reply. Nothing is streamed before the reply passed every check."""
        reply, pieces = self._respond(message, history)
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

    # ---- what the stages share and the components they wrap (tests, benchmarks, the web page's library list)
    settings = property(lambda self: self.pipeline.settings)
    library = property(lambda self: self.pipeline.library)
    replies = property(lambda self: self.pipeline.replies)
    focus = property(lambda self: self.pipeline.focus)
    input_guard = property(lambda self: self.pipeline.input_guard.guard)
    query_builder = property(lambda self: self.pipeline.query.builder)
    retriever = property(lambda self: self.pipeline.retrieval.retriever)
    selector = property(lambda self: self.pipeline.selection.selector)
    composer = property(lambda self: self.pipeline.compose.composer)
    output_guard = property(lambda self: self.pipeline.output_guard.guard)

    # ---- the pipeline -----------------------------------------------------------------------------
    def _respond(self, message: Any, history: Any) -> tuple[Reply, tuple[str, ...]]:
        """The reply and the pieces `stream` yields (whose concatenation is the reply's text)."""
        p = self.pipeline
        trace: dict[str, Any] = {"timings_ms": {}}
        timings = trace["timings_ms"]
        started = time.perf_counter()
        stage = "input"
        try:
            checked = p.checks.run(message, history)
            trace.update(checked.trace)
            if checked.problem:
                if checked.problem in SCREENED:  # declined, unless the guard escalates or refuses it
                    stage = "input_guard"
                    screened = p.input_guard.screen(checked)
                    if screened is not None:
                        trace.update(screened.trace)
                        return _whole(p.replies.guarded(screened.decision, trace))
                return _whole(Reply("no_answer", checked.reply_text, None, (), trace))

            stage = "query"
            t = time.perf_counter()
            prepared = p.query.run(checked)
            timings["embed"] = _ms(t)

            stage = "input_guard"
            t = time.perf_counter()
            guarded = p.input_guard.run(checked, prepared)
            trace.update(guarded.trace)
            timings["input_guard"] = _ms(t)
            # "tell me more": the last question again, nothing quoted already quoted again (the guard has judged the
            # request in its conversation: after a refusal it is pressure, after an emergency that emergency still)
            more = p.checks.more(checked) if checked.small_talk == "more" and guarded.allowed else None
            if more is not None:
                trace["more_of"] = more.message
                checked, prepared = more, p.query.run(more)
            # "thanks" / "ok" / "hi" ask nothing, so there is nothing to refuse (a refusal here can only be carried
            # from an earlier question); an emergency, whichever turn raised it, is said again
            elif checked.small_talk and checked.small_talk != "more" and guarded.decision.action != EMERGENCY:
                return _whole(p.replies.small_talk(checked.small_talk, trace))
            if not guarded.allowed:
                return _whole(p.replies.guarded(guarded.decision, trace))
            trace.update(prepared.trace)

            stage = "subject_focus"
            t = time.perf_counter()  # deciding what to search is part of retrieval's time
            focus = p.focus.run(prepared.query)

            stage = "retrieval"
            retrieved = p.retrieval.run(prepared, focus)
            trace.update(retrieved.trace)
            timings["retrieval"] = _ms(t)

            stage = "selection"
            t = time.perf_counter()
            chosen = p.selection.run(prepared, retrieved, focus, guarded)
            if prepared.alone is not None:
                # "is it curable?" after "what are the eye symptoms?": "it" may be the eyes or the library's
                # subject; the reading the documents answer better (learned coverage) is kept, the earlier one on a tie
                stage = "reading"
                alone = prepared.alone
                alone_focus = p.focus.run(alone.query)
                alone_retrieved = p.retrieval.run(alone, alone_focus)
                alone_chosen = p.selection.run(alone, alone_retrieved, alone_focus, guarded)
                on_its_own = alone_chosen.support > chosen.support
                trace["reading"] = {"with_earlier_question": round(chosen.support, 4),
                                    "on_its_own": round(alone_chosen.support, 4),
                                    "kept": "on_its_own" if on_its_own else "with_earlier_question"}
                if on_its_own:
                    prepared, retrieved, chosen = alone, alone_retrieved, alone_chosen
                    trace.update(prepared.trace)
                    trace.update(retrieved.trace)
            trace.update(chosen.trace)
            timings["selection"] = _ms(t)
            if chosen.abstain_kind:
                evidence = chosen.selection.evidence
                instead = evidence.get("shown_instead")
                if instead:
                    stage = "shown_instead"
                    shown = self._shown_instead(p, instead, trace)
                    if shown is not None:
                        return shown
                return _whole(p.replies.not_answered(chosen.abstain_kind, trace, evidence.get("names_not_quoted", []),
                                                     evidence.get("names_in_passing", []), evidence.get("all_shown", False)))

            lead = ("answer_lead_more" if more else "answer_lead_personal" if checked.personal
                    else "answer_lead_followup" if prepared.query.carried else "answer_lead")
            stage = "compose"
            composed = p.compose.run(chosen, lead)
            trace.update(composed.trace)

            stage = "verify"
            verified = p.verify.run(composed, chosen, lead)
            trace.update(verified.trace)
            if "reading" in trace and trace.get("why"):
                trace["why"] += _reading_why(trace["reading"])
            if verified.composition is None:
                return _whole(p.replies.not_answered("no_answer", trace))

            stage = "output_guard"
            output = p.output_guard.run(verified.composition)
            trace.update(output.trace)
            if output.violations:
                log.warning("output guard replaced a reply: %s", output.violations)
                return _whole(p.replies.dosing_refusal(trace))
            answer = verified.composition
            return Reply("answer", answer.text, None, answer.quotes, trace), answer.pieces
        except Exception as exc:  # fail closed
            log.exception("stage %s failed", stage)
            trace["error"] = {"stage": stage, "type": exc.__class__.__name__, "message": str(exc)[:500]}
            return _whole(p.replies.safe_failure(trace))
        finally:
            timings["total"] = _ms(started)

    @staticmethod
    def _shown_instead(p: Pipeline, instead: dict[str, str], trace: dict[str, Any]) -> tuple[Reply, tuple[str, ...]] | None:
        """A `no_answer` that shows what the documents say instead of an answer, after a lead that says it is not one
        (`instead["lead"]`, naming `instead["names"]`): a medicine's side-effect list without the effect asked about
        ("Does methylprednisolone cause weight gain?"), the one sentence that mentions what a patient asks the
        meaning of ("What is periostitis?"). Composed, verified and guarded as an answer is; None (the plain
        `no_answer`) if the passage may not be quoted or its quote fails a check."""
        passage = p.library.passages.get(instead["passage_id"])
        if passage is None or not p.library.eligible(passage.id):
            return None
        composition = p.compose.composer.compose([[passage]], lead=instead["lead"], close="no_answer_shown_close",
                                                 names=md_escape(instead["names"], addresses=True))
        if not all(p.library.verify(q.source, q.start, q.end, q.text) for q in composition.quotes):
            return None
        if p.output_guard.run(composition).violations:
            return None
        trace["shown_instead"] = [q.passage_id for q in composition.quotes]
        return Reply("no_answer", composition.text, None, composition.quotes, trace), composition.pieces


def _reading_why(reading: dict[str, Any]) -> str:
    """The staff's "why" for a follow-up read two ways (`Query.may_stand_alone`)."""
    names = {"on_its_own": "on its own", "with_earlier_question": "with the earlier question"}
    said = {k: f"probability {reading[k]:.2f}" if reading[k] >= 0 else "not answered" for k in names}
    kept = reading["kept"]
    other = next(k for k in names if k != kept)
    return f" The follow-up was read {names[kept]} ({said[kept]}; {names[other]}: {said[other]})."


def _whole(reply: Reply) -> tuple[Reply, tuple[str, ...]]:
    """A reply that is not an answer streams in one piece."""
    return reply, (reply.text,)


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)
