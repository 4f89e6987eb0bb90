"""The answer pipeline's stages after the message checks (`bot.checks`):

    query → input guard → subject focus (`bot.focus`) → retrieval → selection → compose → verify → output guard

Each stage is a small class: what it is built from in `__init__`, one question's data in `run`, and a
dataclass out that carries what the next stages read and the stage's own part of the trace (`.trace`).
The stages wrap the components that do the work (`QueryBuilder`, `InputGuard`, `HybridRetriever`,
`PassageSelector`, `QuoteComposer`, `OutputGuard`) and add nothing to their decisions; `ChatBot` runs them
in order and turns their outputs into a `Reply`. `Pipeline` holds one of each, built by `bot.factory`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np

from ingest.embeddings import Encoder
from ingest.settings import Settings
from ingest.structure import Passage

from .checks import SCREENED, CheckedMessage, MessageChecks
from .compose import Composition, PassageSelector, QuoteComposer, Selection
from .focus import FocusDecision, SubjectFocus
from .guard import ALLOW, GuardDecision, InputGuard, OutputGuard
from .library import Library
from .query import Query, QueryBuilder
from .replies import Replies
from .retrieval import Candidate, HybridRetriever, merge_ranked

log = logging.getLogger("verbatim.bot")

# A message with no health word at all must match the documents this well to be answered (else out_of_scope).
OFF_TOPIC_MIN_COSINE = 0.5


def _require(value: Any, kind: type, stage: str) -> None:
    if not isinstance(value, kind):
        raise TypeError(f"{stage} takes a {kind.__name__}, not {type(value).__name__}")


# ---- query ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PreparedQuery:
    """The search query built from the message and the conversation, and both embedded (one encoder call)."""

    query: Query
    message_vector: np.ndarray  # of the message itself: what the input guard's learned layer reads
    vector: np.ndarray  # of `query.text`: what retrieval and selection search with
    shown: str = ""  # for a request for more: the bot's earlier replies (`CheckedMessage.shown`)
    alone: "PreparedQuery | None" = None  # the message searched on its own (`Query.may_stand_alone`)

    @property
    def trace(self) -> dict[str, Any]:
        return {"query": self.query.to_dict()}


class QueryStage:
    def __init__(self, builder: QueryBuilder, encoder: Encoder) -> None:
        self.builder = builder
        self.encoder = encoder

    def run(self, checked: CheckedMessage) -> PreparedQuery:
        _require(checked, CheckedMessage, "QueryStage")
        if checked.problem:
            raise ValueError(f"a message with a problem ({checked.problem}) is not searched for")
        query = self.builder.build(checked.message, checked.history, earlier=list(checked.user_turns),
                                   folded=checked.folded)
        alone = self.builder.build(checked.message, [], earlier=[], folded=checked.folded) if query.may_stand_alone else None
        texts = list(dict.fromkeys([checked.message, query.text] + ([alone.text] if alone else [])))  # one encoder call
        vectors = dict(zip(texts, self.encoder.encode(texts)))
        return PreparedQuery(query, vectors[checked.message], vectors[query.text], checked.shown,
                             alone and PreparedQuery(alone, vectors[checked.message], vectors[alone.text], checked.shown))


# ---- input guard ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GuardOutcome:
    decision: GuardDecision
    trace: dict[str, Any] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        return self.decision.action == ALLOW


class InputGuardStage:
    def __init__(self, guard: InputGuard, documented: Callable[[Query], str | None] | None = None,
                 undocumented: Callable[[Query], str | None] | None = None,
                 names_medicine: Callable[[str], bool] | None = None) -> None:
        """`documented` / `undocumented`: this library's reading of what an efficacy question asks about, when the
        documents describe it as care, or when neither they, the medicine dictionary nor NIH's treatment pages know it
        (`PassageSelector.documented_subject` / `undocumented_subject`); `names_medicine`: whether the documents name
        a medicine (`PassageSelector.names_medicine`); the guard itself knows no library."""
        self.guard = guard
        self.documented = documented
        self.undocumented = undocumented
        self.names_medicine = names_medicine

    def _offered(self, decision: GuardDecision) -> GuardDecision:
        """A dose refusal offers what the documents say about the medicine asked about (`topic`), only when they name
        it: "share what the documents say about sertraline" would promise what they don't have."""
        if decision.topic and self.names_medicine is not None and not self.names_medicine(decision.topic):
            return replace(decision, topic=None)
        return decision

    def run(self, checked: CheckedMessage, prepared: PreparedQuery) -> GuardOutcome:
        _require(checked, CheckedMessage, "InputGuardStage")
        _require(prepared, PreparedQuery, "InputGuardStage")
        query = prepared.query
        decision = self.guard.check(checked.message, checked.history, prepared.message_vector, query.corrected,
                                    self.documented(query) if self.documented is not None else None,
                                    self.undocumented(query) if self.undocumented is not None else None)
        decision = self._offered(decision)
        return GuardOutcome(decision, {"input_guard": decision.to_dict()})

    def screen(self, checked: CheckedMessage) -> GuardOutcome | None:
        """A message declined as too long or unreadable (`SCREENED`): crisis or emergency language anywhere in it
        still escalates, and a dose or remedy request in it is still refused (`InputGuard.screen`): a question after
        a page of digits or Morse code is declined as unreadable, and may be a crisis."""
        _require(checked, CheckedMessage, "InputGuardStage")
        if checked.problem not in SCREENED:
            raise ValueError(f"only a message declined as too long or unreadable is screened, not one that is {checked.problem or 'fine'}")
        decision = self.guard.screen(checked.message, checked.history)
        if decision is None:
            return None
        decision = self._offered(decision)
        return GuardOutcome(decision, {"input_guard": decision.to_dict()})


# ---- retrieval --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Retrieved:
    candidates: tuple[Candidate, ...]

    @property
    def trace(self) -> dict[str, Any]:
        return {"candidates": [c.to_dict() for c in self.candidates]}


class RetrievalStage:
    def __init__(self, retriever: HybridRetriever) -> None:
        self.retriever = retriever

    def run(self, prepared: PreparedQuery, focus: FocusDecision) -> Retrieved:
        """The whole library (unless only the subject's documents may answer), and, in a mixed library, the
        subject's documents on their own: a chunk keeps its best fused score (`merge_ranked`)."""
        _require(prepared, PreparedQuery, "RetrievalStage")
        _require(focus, FocusDecision, "RetrievalStage")
        text = prepared.query.text
        search = {"embedding": prepared.vector.tolist(), "terms": list(prepared.query.terms)}
        docs = [] if focus.subject_only else self.retriever.invoke(text, **search)
        if focus.documents:
            docs = merge_ranked(docs, self.retriever.invoke(text, sources=sorted(focus.documents), **search))
        chunks = self.retriever.library.chunks
        return Retrieved(tuple(Candidate.from_document(d, chunks[d.id].section) for d in docs))


# ---- selection --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Chosen:
    """The scored passages, the chosen groups, and whether (and how) the bot abstains."""

    selection: Selection
    abstain_kind: str | None  # "no_answer" | "out_of_scope" | None: answer
    trace: dict[str, Any] = field(default_factory=dict)

    @property
    def groups(self) -> list[list[Passage]]:
        return [[s.passage for s in g] for g in self.selection.groups]

    @property
    def support(self) -> float:
        """How well the documents answer this reading: the learned coverage probability, -1 when it abstains."""
        if self.abstain_kind:
            return -1.0
        return float(self.selection.evidence.get("coverage", {}).get("probability", 0.0))


class SelectionStage:
    def __init__(self, selector: PassageSelector, mentions_health: Callable[[str], bool],
                 technical_words: Callable[[str], list[str]]) -> None:
        """`mentions_health` (the input guard's) and `technical_words` (the library's): whether a message
        the selector cannot answer is on the library's subject (no_answer) or not (out_of_scope)."""
        self.selector = selector
        self.mentions_health = mentions_health
        self.technical_words = technical_words

    def run(self, prepared: PreparedQuery, retrieved: Retrieved, focus: FocusDecision, guard: GuardOutcome) -> Chosen:
        _require(prepared, PreparedQuery, "SelectionStage")
        _require(retrieved, Retrieved, "SelectionStage")
        query = prepared.query
        selection = self.selector.select(query, prepared.vector, list(retrieved.candidates), focus, prepared.shown,
                                         tuple(guard.decision.asked_about))
        abstain = {"abstain": selection.abstain, "why": selection.why, **selection.evidence}
        # The twelve best, and every chosen passage below them (a labelled question's answer may lead from further down).
        chosen = {s.passage.id for g in selection.groups for s in g}
        trace = {"passages": [s.to_dict() for i, s in enumerate(selection.scored) if i < 12 or s.passage.id in chosen],
                 "abstain": abstain}
        expanded = " ".join([query.corrected, *query.expansions])  # lay words' synonyms count, "what is" -> "definition" not
        on_topic = (guard.decision.on_topic or self.mentions_health(expanded) or bool(self.technical_words(expanded))
                    # it names a disorder or a medicine
                    or bool(set(selection.evidence.get("names_not_quoted", ())) - set(selection.evidence.get("names_unknown", ()))))
        off_topic = not on_topic and selection.evidence.get("best_cosine", 0) < OFF_TOPIC_MIN_COSINE
        # Which abstention: health or not, as the learned intent model reads it, also counts. "What is
        # hypercalcemia?" uses no word of the health list but is a medical question the documents don't cover
        # (`no_answer`, pointing to the care team), not one the bot can't help with (`out_of_scope`). Whether
        # to abstain stays the evidence's and the rules' call.
        learned = guard.decision.votes.get("model", {}).get("probabilities", {})
        kind = None
        if selection.abstain or off_topic:
            kind = "no_answer" if on_topic or learned.get("off_topic", 1.0) < 0.5 else "out_of_scope"
            abstain["abstain"] = True
            if off_topic and not selection.abstain:
                abstain["why"] = f"no health word and best cosine < {OFF_TOPIC_MIN_COSINE}"
        return Chosen(selection, kind, trace)


# ---- compose ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Composed:
    groups: list[list[Passage]]  # the chosen groups, less any passage withheld
    composition: Composition
    trace: dict[str, Any] = field(default_factory=dict)


class ComposeStage:
    def __init__(self, composer: QuoteComposer, library: Library) -> None:
        self.composer = composer
        self.library = library

    def run(self, chosen: Chosen, lead: str = "answer_lead") -> Composed:
        _require(chosen, Chosen, "ComposeStage")
        if chosen.abstain_kind:
            raise ValueError(f"nothing to compose: the selection abstained ({chosen.abstain_kind})")
        lib = self.library
        groups = chosen.groups
        trace: dict[str, Any] = {}
        withheld = [p.id for g in groups for p in g if not lib.eligible(p.id)]  # checked again
        if withheld:
            log.warning("composition withheld tagged passages: %s", withheld)
            trace["withheld"] = [{"passage_id": pid, "why": "tagged " + ",".join(sorted(
                lib.passages[pid].tags)) if pid in lib.passages else "unknown passage"} for pid in withheld]
        groups = [[p for p in g if p.id not in withheld] for g in groups]
        groups = [g for g in groups if g]
        return Composed(groups, self.composer.compose(groups, lead=lead, more=chosen.selection.more), trace)


# ---- verify -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Verified:
    """The composition with every quote verbatim (composed again without any that was not); None when no
    quote was."""

    composition: Composition | None
    trace: dict[str, Any] = field(default_factory=dict)


class VerifyStage:
    def __init__(self, library: Library, composer: QuoteComposer) -> None:
        self.library = library
        self.composer = composer

    def run(self, composed: Composed, chosen: Chosen, lead: str = "answer_lead") -> Verified:
        _require(composed, Composed, "VerifyStage")
        quotes = composed.composition.quotes
        verified = tuple(q for q in quotes if self.library.verify(q.source, q.start, q.end, q.text))
        dropped = [q.passage_id for q in quotes if q not in verified]
        trace: dict[str, Any] = {"verify": {"quotes": len(quotes), "dropped": dropped}}
        if not verified:
            return Verified(None, trace)
        composition = composed.composition
        if dropped:
            kept = [[p for p in g if p.id not in dropped] for g in composed.groups]
            composition = self.composer.compose([g for g in kept if g], lead=lead, more=chosen.selection.more)
        trace["chosen"] = [q.passage_id for q in composition.quotes]
        trace["why"] = chosen.selection.explain(len(composition.quotes))
        return Verified(composition, trace)


# ---- output guard -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class OutputCheck:
    violations: list[str]

    @property
    def trace(self) -> dict[str, Any]:
        return {"output_guard": {"violations": self.violations}}


class OutputGuardStage:
    def __init__(self, guard: OutputGuard) -> None:
        self.guard = guard

    def run(self, composition: Composition) -> OutputCheck:
        _require(composition, Composition, "OutputGuardStage")
        return OutputCheck(self.guard.violations(composition.text, composition.quotes))


# ---- all of them ------------------------------------------------------------------------------------
@dataclass
class Pipeline:
    """One of each stage, and what they share: built once by `bot.factory.build_pipeline`."""

    settings: Settings
    library: Library
    replies: Replies
    checks: MessageChecks
    query: QueryStage
    input_guard: InputGuardStage
    focus: SubjectFocus
    retrieval: RetrievalStage
    selection: SelectionStage
    compose: ComposeStage
    verify: VerifyStage
    output_guard: OutputGuardStage
