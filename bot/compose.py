"""Choosing the sentences that answer, and writing the reply around them.

`PassageSelector` scores the passages of the retrieved chunks and decides whether the evidence is strong
enough; `QuoteComposer` turns the chosen passages into Markdown: a lead-in, the quotes as blockquotes with
their source, and a pointer to the care team. The bot's own words never carry medical facts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from rapidfuzz import fuzz, process

import prompts
from ingest.structure import Passage, heading_path
from ingest.text import STOPWORDS, analyze, collapse, fold, words

from .answerability import AnswerabilityModel, overlap
from .care import CareWords
from .coverage import CoverageModel
from .disorders import DisorderFinder
from .drugs import MISSPELT, DrugFinder, misspelt, name_words
from .english import English
from .focus import FocusDecision, SubjectFocus
from .library import Library, opening
from .query import EFFECT, POINTS_BACK, Query, sentences_of
from .retrieval import Candidate
from .synonyms import SynonymGroups, stems as name_stems
from .types import Quote

# Weights of the passage score and the abstention thresholds; calibrated on eval/sets (docs/benchmarks.md).
W_COSINE, W_LEXICAL, W_CHUNK = 0.55, 0.35, 0.10
MIN_COSINE = 0.32  # below this and below MIN_LEXICAL: the documents do not cover the question
MIN_LEXICAL = 0.12
TOPIC_IDF = 1.9  # idf below this: a word in more than ~15% of passages, the library's topic itself
UNKNOWN_WORD_MAX_COSINE = 0.5  # a word the best passages' documents never use, no word matched: abstain below this
KEEP_RATIO = 0.88  # further quotes must score at least this share of the best
GROUP_RATIO = 0.75  # neighbouring list items join a quote above this share of the best
MAX_GROUP = 4
MAX_UNKNOWN_WORDS = 3  # the coverage check's count of words the documents never use is capped here
DIRECT_PASSAGES = 12  # passages found by their own embedding (small libraries) join the chunk candidates
# A question about medicines in general, naming none ("Can the tablets make me sleepy?"): a medicine's own
# section may answer it (`about_medicines`).
_MEDICINE_WORDS = re.compile(r"\b(?:drugs?|medicines?|medications?|meds|tablets?|pills?|side.?effects?|"
                             r"steroids?|chemo\w*|prescri\w*)\b")


def misspelt_little(stem: str, message: str) -> bool:
    """Whether a word of the message with this stem, of three letters or fewer, is a little word with a letter
    missing: a stopword of one letter more without one of its letters ("wat", "wen", "hav"), not "eat" or "fly"."""
    written = [w for w in words(message) if analyze(w) == [stem]]
    if not written:  # not written as such (corrected, or carried from an earlier message): by its length, as before
        return len(stem) <= 3
    return all(len(w) <= 3 for w in written) and any(
        len(s) == len(w) + 1 and any(s[:i] + s[i + 1:] == w for i in range(len(s))) for w in written for s in STOPWORDS)


@dataclass
class Scored:
    passage: Passage
    score: float
    cosine: float
    lexical: float
    chunk: float
    answerability: float = 0.0  # the learned model's probability that the passage answers the question
    bank: float = 0.0  # similarity of the labelled question it answers, when quoted first for it (`bank_answer`)

    def to_dict(self) -> dict:
        return {
            "passage_id": self.passage.id,
            "section": self.passage.heading,
            "text": self.passage.text[:160],
            "score": round(self.score, 4),
            "cosine": round(self.cosine, 4),
            "lexical": round(self.lexical, 4),
            "chunk": round(self.chunk, 4),
            "answerability": round(self.answerability, 4),
            "bank": round(self.bank, 4),
        }


@dataclass
class Selection:
    groups: list[list[Scored]] = field(default_factory=list)
    scored: list[Scored] = field(default_factory=list)
    abstain: bool = False
    why: str = ""
    evidence: dict = field(default_factory=dict)

    @property
    def more(self) -> bool:
        """Whether passages that would join the best one were left out (a request for more would quote them)."""
        return bool(self.evidence.get("more_available"))

    def explain(self, quotes: int) -> str:
        """In words a support worker reads: why these quotes were chosen."""
        top = self.groups[0][0] if self.groups else None
        if top is None:
            return ""
        runner = next((s for s in self.scored if all(s is not x for g in self.groups for x in g)), None)
        text = f"Quoted {quotes} passage(s). "
        led = next((s for g in self.groups for s in g if s.bank), None)
        if led is not None:
            bank = self.evidence["bank_answer"]
            text += (f"{'The first' if any(s.bank for s in self.groups[0]) else 'One'}, from \"{led.passage.heading}\", "
                     f"answers a labelled question close to this one, \"{bank['question']}\" (similarity "
                     f"{bank['similarity']:.2f}). ")
            top = next((g[0] for g in self.groups if not any(s.bank for s in g)), led)
        text += (f"The best by the ranking, from \"{top.passage.heading}\", contains {top.lexical:.0%} of "
                 f"the question's weighted words, meaning similarity {top.cosine:.2f}, overall score {top.score:.2f}")
        if runner is not None:
            text += f"; the best passage not quoted scored {runner.score:.2f}"
        if "not_quoted" in self.evidence:
            text += f"; left out, as quotes and as evidence: {self.evidence['not_quoted']}"
        if self.more:
            text += f"; {self.evidence['more_available']} more passage(s) as good were left for \"tell me more\""
        if "side_effect_list" in self.evidence:
            text += f"; the question asks about an effect of the side-effect list: {self.evidence['side_effect_list']}"
        coverage = self.evidence.get("coverage", {})
        if "probability" in coverage:
            text += (f". The learned coverage check says the documents answer this with probability "
                     f"{coverage['probability']:.2f} (below {coverage['threshold']:.2f} the bot says they don't)")
        # Not the learned answerability score (shadow): it puts most of the own sets' right answers below 0.5, which
        # would tell a support worker the opposite of what happened; it stays in each passage's row of the trace.
        return text + "."


# A medicine's side-effects heading (`PassageSelector.unanswered_aspect`).
_SIDE_EFFECTS = re.compile(r"\bside.?effects?\b|\badverse\b", re.I)
# "Does X help / improve / cure ...?", "How effective is X?": X is what the question is about. A subject never runs
# past the end of its sentence: "Is chemo part of the treatment? Please help!" asks nothing of "chemo ... Please".
_EFFICACY = re.compile(rf"^\W*(?:does|do|can|could|will|would|is|are|should)\s+(?P<subject>[^?!]{{2,60}}?)\s+"
                       rf"(?:really\s+|actually\s+|also\s+|(?:used|given|taken|prescribed)\s+to\s+)?{EFFECT}\b"
                       r"|\bhow (?:effective|good|helpful|useful) (?:is|are)\s+(?P<subject2>.{2,60}?)(?:\s+(?:for|against|in|at|with)\b|[?.!]|$)"
                       r"|^\W*(?:should|could|can|shall) (?:i|we|he|she|my \w+) (?:try|give|use) (?P<subject3>[^?!]{2,60}?)\s+(?:for|on|against|to)\b")
_OPENING_CLAUSE = re.compile(r"[,:;]\s+")


def _efficacy_subjects(text: str) -> Iterator[str]:
    """The subjects of the efficacy questions (`_EFFICACY`) of each sentence, read from its start and after the clause
    that opens it; a subject read after that clause is one clause too ("Rash on my leg, will not go away, doctors
    can't help" asks nothing of "not go away, doctors can't")."""
    for sentence in sentences_of(text):
        after_opening = _OPENING_CLAUSE.split(sentence, maxsplit=1)[1:]
        for i, part in enumerate([sentence, *after_opening]):
            m = _EFFICACY.search(part)
            subject = (m.group("subject") or m.group("subject2") or m.group("subject3") or "").strip() if m else ""
            if subject and not (i and _OPENING_CLAUSE.search(subject)):
                yield subject


# Words of a subject slot that name no thing ("taking regular extra doses of ..."), besides stop words.
_NOT_A_SUBJECT = STOPWORDS | {"taking", "eating", "drinking", "using", "treating", "intake", "regular", "daily", "extra", "high",
                              "low", "dose", "doses", "any", "some", "products", "product", "treatment", "therapy",
                              "therapies", "supplement", "supplements", "people", "patients", "children", "adults",
                              "things", "thing", "something", "anything", "there", "anyone"}
# A subject slot that is no treatment: a person or "it" ("Can you tell me ...", "Is it safe ..."), or a thing that is
# itself treated ("Can kidney cysts be cured?").
_NO_TREATMENT = re.compile(r"^(?:you|i|we|they|he|she|it|this|that|these|those|there|anyone|someone|anybody|somebody)\b"
                           r"|\b(?:be|being|been)$")


def about_another_disorder(query: Query, lib: Library, disorders: list[str]) -> bool:
    """The question is about a disorder the library has no section or page about and no sentence opening with
    its name ("What are the symptoms of breast cancer?" where breast cancer is one item of a risk-factor list):
    whatever sentence names it, the documents only mention it in passing. Not when the question also points at
    the library's own subject, by a pronoun ("Can it cause anaemia?"), a carried topic or a word of the titles,
    also through a synonym ("Can paraneoplastic syndrome cause anaemia?", "Can melanoma cause PNS?"): then a quote
    naming the disorder may well answer it."""
    if points_at_subject(query, lib):
        return False
    return not any(described(n, lib) for n in disorders)


def described(name: str, lib: Library) -> bool:
    """Whether the library has a section or a page about `name` (every word of it in a heading or title) or a
    sentence that opens with it ("Cushing's syndrome is hypercorticism caused by ...")."""
    return set(analyze(name)) <= lib.described_terms or " ".join(opening(name)) in lib.sentence_openings


def points_at_subject(query: Query, lib: Library) -> bool:
    """Whether the question points at the library's own subject: by a pronoun ("Does lymphoma cause it?"), a
    carried topic, or a word of the titles, also through a synonym ("Can melanoma cause PNS?")."""
    question = query.folded or fold(query.message)
    return bool(query.carried or POINTS_BACK.search(question)
                or set(words(" ".join([question, *query.expansions]))) & lib.subject_words)


def as_written(name: str, text: str) -> str:
    """A name found in lower-case words ("guillain barr syndrome": the finders drop accents and hyphens) as the
    patient wrote it ("Guillain-Barré syndrome"), for the reply; the name itself when the text does not hold it."""
    parts = name.split()
    m = re.search(r"\b" + r"[\W_]+".join(re.escape(p) + r"\w*" for p in parts), text, re.I) if parts else None
    return m.group(0) if m else name


class PassageSelector:
    def __init__(self, library: Library, focus: SubjectFocus, max_quotes: int = 3, config: dict | None = None,
                 model: AnswerabilityModel | None = None, disorders: DisorderFinder | None = None,
                 medicines: DrugFinder | None = None, coverage: CoverageModel | None = None,
                 care: CareWords | None = None, english: English | None = None,
                 synonyms: SynonymGroups | None = None, embed: Callable[[list[str]], np.ndarray] | None = None) -> None:
        """`focus`: the documents about the library's subject, when other subjects share the library
        (`SubjectFocus`, the one retrieval uses too); `model`: the learned answerability scorer (scores every
        candidate; in shadow, decides nothing); `disorders` (bot/disorders.py) and `medicines` (bot/drugs.py):
        the names a question is about; a question naming some that no chosen quote names is not answered;
        `coverage` (bot/coverage.py): whether the evidence says the documents answer at all; `care`
        (bot/care.py): the words of conventional care, for `undocumented_subject`; `english` (bot/english.py): tells
        a name no dictionary holds from a word, for `unnamed`; `synonyms` (bot/synonyms.py): the patient's names of
        the effects a side-effect list names, and `embed` (the retrieval encoder), for `listed_effect`."""
        cfg = config or prompts.load("answering")
        self.english = english
        self.library = library
        self.model = model
        self.disorders = disorders
        self.synonyms = synonyms
        self.embed = embed
        self._effect_vectors: dict[str, np.ndarray] = {}
        self.medicines = medicines
        self._section_medicines: dict[tuple[str, ...], frozenset[str]] = {}
        self.coverage = coverage
        self._bank_index: tuple[object, list[tuple[str, ...]]] = (None, [])  # (bank, its answers' passages)
        self.care = care
        self.focus = focus
        self.max_quotes = max_quotes
        self._generic = set(analyze(" ".join(cfg["generic_words"])))
        self._types = [
            (name, re.compile(t["question"], re.I), re.compile(t["answer"], re.I), float(t["boost"]))
            for name, t in cfg["question_types"].items()
        ]
        self._definition = next((q for name, q, _, _ in self._types if name == "definition"), None)

    def question_types(self, query: Query) -> list[tuple[re.Pattern, float]]:
        """The answer shape and boost of each question type (prompts/answering.yaml) that reads the message or one
        of its sentences: a type that reads a question's opening words ("What is ...?") reads it also after a
        sentence before it ("Help! What is PNS?")."""
        message = query.folded or fold(query.message)
        texts = [message, *sentences_of(message)[1:]]
        return [(a, b) for _, q, a, b in self._types if any(q.search(t) for t in texts)]

    def uncovered(self, query: Query, stems: frozenset[str] | None = None) -> list[str]:
        """Words of the question the library (or only `stems`) never uses where it may be quoted, and no synonym
        explains: it does not cover them."""
        stems = self.library.quotable_stems if stems is None else stems
        return [
            t for t, w in query.terms.items()
            if w >= 1.0 and t not in stems and t not in self._generic and not (query.alternatives.get(t, set()) & stems)
        ]

    def content_terms(self, query: Query) -> list[str]:
        """The question's words beyond the library's topic and generic words (as `lexical(content_only=True)`)."""
        return [t for t in query.terms if not self._topic_term(query, t, self.library.terms)]

    def _topic_term(self, query: Query, term: str, stats) -> bool:
        """A topic word (in more than ~15% of passages), a generic one, or a name of the topic ("PNS", whose
        synonyms are all topic words: the documents never write it, and its synonyms match every passage)."""
        alternatives = query.alternatives.get(term, set())
        return (stats(term) < TOPIC_IDF or term in self._generic
                or bool(alternatives) and all(stats(a) < TOPIC_IDF for a in alternatives))

    def lexical(self, query: Query, p: Passage, content_only: bool = False) -> float:
        """Share of the question's (idf-weighted) words that the passage or its headings contain.

        `content_only` leaves out the library's topic words (in more than ~15% of passages, such as
        "paraneoplastic syndrome"): what is left says whether the passage is about what was asked.
        """
        lib = self.library
        own = lib.passage_terms.get(p.id, frozenset())
        heading = lib.heading_terms.get(p.section, frozenset())
        stats = self.focus.stats_for(p)
        total = got = 0.0
        for term, weight in query.terms.items():
            if content_only and self._topic_term(query, term, stats):
                continue
            idf = stats(term) * weight
            total += idf
            alts = query.alternatives.get(term, set()) | {term}
            if alts & own:
                got += idf
            elif alts & heading:
                got += 0.6 * idf
        return got / total if total else 0.0

    def select(self, query: Query, vector: np.ndarray, candidates: list[Candidate], focus: FocusDecision,
               shown: str = "", findings: tuple[str, ...] = ()) -> Selection:
        """`focus`: what `SubjectFocus` decided for this question (the documents that may answer it, and
        their head start); `shown`: for a request for more, the bot's earlier replies, whose quotes are not
        quoted again; `findings`: the urgent symptoms the question asks about (`GuardDecision.asked_about`),
        which a quote must name, as it must a disorder or a medicine the question names."""
        lib = self.library
        about = focus.subject_only
        best_fused = max((c.fused for c in candidates), default=1.0) or 1.0
        seen: dict[str, Scored] = {}
        chunk_prior: dict[str, float] = {}
        for c in candidates:
            for p in lib.neighbours(lib.chunks[c.chunk_id]):
                if lib.eligible(p.id):  # tagged passages are never eligible (checked again at output)
                    chunk_prior[p.id] = max(chunk_prior.get(p.id, 0.0), c.fused / best_fused)
        for pid in lib.nearest_passages(vector, DIRECT_PASSAGES):
            chunk_prior.setdefault(pid, 0.0)
        retrieved = set(chunk_prior)  # found for this question (not only as one of the subject's passages)
        for pid in self.focus.passage_ids:
            chunk_prior.setdefault(pid, 0.0)
        ids = [pid for pid in chunk_prior if not about or lib.passages[pid].source in focus.documents]
        asked = self.asked_medicines(query)
        not_quoted = ""
        # Never another medicine's section for a question about one (`other_medicine`; if nothing else was retrieved,
        # `unnamed` below says the documents don't mention the medicine asked about), and no medicine's section for
        # a question about no medicine at all: in a leaflet table "the drug" is that row's medicine, and "Long-term
        # treatment with the drug is not recommended." (under Methylprednisolone) read as the answer to "How long
        # does treatment last?". Left out before scoring, they are no evidence either: the evidence is read from
        # passages that may be quoted. Kept when nothing else was retrieved.
        if asked or (self.medicines is not None and not self.about_medicines(query)):
            kept = [pid for pid in ids if not self.other_medicine(lib.passages[pid].section, asked)]
            if not asked and kept and len(kept) < len(ids):
                not_quoted = "passages under a medicine's own heading (the question names no medicine)"
            ids = kept or ids
        if not ids:
            return Selection(abstain=True, why="no eligible passage retrieved")
        vectors = lib.passage_vectors(ids)
        cosines = vectors @ vector
        boosts = self.question_types(query)
        for pid, cos in zip(ids, cosines):
            p = lib.passages[pid]
            lex = self.lexical(query, p)
            score = W_COSINE * float(cos) + W_LEXICAL * lex + W_CHUNK * chunk_prior[pid]
            score += sum(b for a, b in boosts if a.search(fold(p.text)))
            score += focus.head_start if p.source in focus.documents else 0.0
            seen[pid] = Scored(p, score, float(cos), lex, chunk_prior[pid])
        if self.model is not None:
            weights = {t: (self.focus.terms if about else lib.terms)(t) * w for t, w in query.terms.items()}
            lexical = np.array([(overlap(weights, lib.passage_terms.get(pid, frozenset())),
                                 overlap(weights, lib.heading_terms.get(lib.passages[pid].section, frozenset())))
                                for pid in ids], dtype=np.float32).reshape(-1, 2)
            for pid, prob in zip(ids, self.model.score(vector, vectors, lexical)):
                seen[pid].answerability = float(prob)
        ranked = sorted(seen.values(), key=lambda s: -s.score)
        # The evidence is read from the passages the answer would come from: with a subject focus, those on the
        # best passage's side of the head start (the subject's documents, or the others), not the whole library
        # ("Can I still donate blood?" was answered from a blood-count sentence because a MedQuAD page, never
        # quoted, matched the question). Without focus (the bundled corpus) every passage is on one side.
        side = ranked[0].passage.source in focus.documents
        evident = [s for s in ranked if (s.passage.source in focus.documents) == side]
        best_cos = max(s.cosine for s in evident)
        best_lex = max(s.lexical for s in evident)
        content = max(self.lexical(query, s.passage, content_only=True) for s in evident[:8])
        # Words of the question that the documents of the best passages never use: the documents the answer would
        # come from, not the whole library (in a library of thousands of pages almost every word is used somewhere).
        missing = self.uncovered(query, self.focus.quotable_stems if side else frozenset().union(
            *(lib.source_stems.get(d, frozenset()) for d in {s.passage.source for s in evident[:8]})))
        # Only what is asked: not a word told after the question (`Query.told`: "What is it? My doctor said it today").
        asked_missing = [w for w in missing if w not in query.told]
        evidence = {"best_cosine": round(best_cos, 3), "best_lexical": round(best_lex, 3),
                    "content_lexical": round(content, 3), "unknown_words": missing}
        if not_quoted:
            evidence["not_quoted"] = not_quoted
        evidence.update(focus.trace)
        evidence["coverage"] = {
            "best_cosine": round(best_cos, 4), "best_lexical": round(best_lex, 4), "content_lexical": round(content, 4),
            "top_answerability": round(max(s.answerability for s in evident[:8]), 4),
            "unknown_words": min(len(asked_missing), MAX_UNKNOWN_WORDS),
            "question_words": min(sum(1 for w in query.terms.values() if w >= 1.0), 8),
            "documents": sorted({s.passage.source for s in evident[:8]}),
        }
        if any(not misspelt_little(w, query.message) for w in asked_missing) and content == 0.0 and self.content_terms(query):
            # Its only words beyond the topic are ones no good passage has, one of them a word the library never
            # uses: "Is paraneoplastic syndrome contagious?" (the topic alone carries the meaning similarity), "What
            # should I eat with PNS?". Not for a misspelt little word ("wat is paraneoplastic syndrom").
            self.name_unnamed(query, ranked[: self.max_quotes], evidence, findings)
            return Selection(scored=ranked, abstain=True, evidence=evidence,
                             why=f"no passage has a word of the question beyond the topic; the documents never use "
                                 f"{', '.join(asked_missing)}")
        aspect, listed = self.unanswered_aspect(query, vector, ranked, asked, boosts, evidence)
        if aspect:
            self.name_unnamed(query, ranked[: self.max_quotes], evidence, findings)
            if listed is not None and not evidence.get("names_not_quoted"):  # the reply shows the list instead
                evidence["shown_instead"] = {"passage_id": listed.id, "lead": "no_answer_listed", "names": listed.section[-2]}
            return Selection(scored=ranked, abstain=True, evidence=evidence,
                             why=f"the passages about {', '.join(sorted(asked))} never use {', '.join(aspect)}"
                                 + (f"; of its side-effect list, {evidence['side_effect_list']}" if listed else ""))
        explained = evidence.get("explained_by_list")
        if explained:  # the coverage check reads what is still unknown once the side-effect list is read
            still = [w for w in asked_missing if w not in explained]
            evidence["coverage"]["unknown_words"] = min(len(still), MAX_UNKNOWN_WORDS)
        passing = self.mentioned_only(query, ranked)
        if passing:
            subject, mention = passing
            evidence["names_not_quoted"] = evidence["names_in_passing"] = [subject]
            evidence["names_unknown"] = []
            if mention is not None:
                evidence["shown_instead"] = {"passage_id": mention.id, "lead": "no_answer_mentioned", "names": subject}
            return Selection(scored=ranked, abstain=True, evidence=evidence,
                             why=f'asked what "{subject}" is: the documents mention it only in passing (no heading is '
                                 f"about it, no sentence opens with it)")
        if asked_missing and best_lex < MIN_LEXICAL and best_cos < UNKNOWN_WORD_MAX_COSINE:
            self.name_unnamed(query, ranked[: self.max_quotes], evidence, findings)  # the reply says which name
            return Selection(scored=ranked, abstain=True, evidence=evidence,
                             why=f"the documents never use {', '.join(asked_missing)}; best lexical {best_lex:.2f}")
        if best_cos < MIN_COSINE and best_lex < MIN_LEXICAL:
            self.name_unnamed(query, ranked[: self.max_quotes], evidence, findings)
            return Selection(scored=ranked, abstain=True, evidence=evidence,
                             why=f"weak evidence: best cosine {best_cos:.2f} < {MIN_COSINE} and best lexical {best_lex:.2f} < {MIN_LEXICAL}")
        # A sentence that asks a question states nothing, however close its words are to the patient's: "What is
        # meant by the term ...?" is the document's lead-in to its answer, never the answer. It is evidence that the
        # documents take the question up (above): without it "What does paraneoplastic mean in simple words"
        # abstained (tried on 2026-12-06).
        quotable = [s for s in ranked if not asks(s.passage.text)]
        # As good as the answer: a passage that would join the best one. What a request for more quotes (not yet
        # quoted, `shown`), and what the answer says is left for one (`Selection.more`).
        bar = GROUP_RATIO * quotable[0].score if quotable else 0.0
        if shown:
            quotable = [s for s in quotable if md_escape(s.passage.text) not in shown and s.score >= bar]
            if not quotable:
                evidence["all_shown"] = True
                return Selection(scored=ranked, abstain=True, evidence=evidence, why="every passage that answers was quoted already")
        if not quotable:
            return Selection(scored=ranked, abstain=True, evidence=evidence, why="only questions matched, no statement")
        # The answer to a labelled question this one nearly repeats leads; the ranking's own choices follow. Only a
        # passage retrieval found for this question (in a library where the subject's passages all compete, not
        # just as one of them) and the ranking could quote (`quotable`): the nearest labelled
        # question may ask about something else ("What is PNS?" is 0.86 from "what decides pns prognosis"). A
        # passage naming what the question names still comes first (`naming_first`).
        bank_ids, similarity, question = self.bank_answer(vector)
        lead = next((s for s in quotable if s.passage.id in bank_ids and s.passage.id in retrieved), None)
        top = self.naming_first(query, quotable)[0]  # the ranking's best: the bar further quotes are held to
        if lead is not None:
            lead.bank = similarity
            evidence["bank_answer"] = {"question": question, "similarity": round(similarity, 4),
                                       "passage_id": lead.passage.id}
            quotable = [lead, *(s for s in quotable if s is not lead)]
        quotable = self.naming_first(query, quotable)
        groups: list[list[Scored]] = []
        used: set[str] = set()
        for s in quotable:
            if len(groups) >= self.max_quotes:
                break
            if s.passage.id in used or (groups and s is not lead and s.score < KEEP_RATIO * top.score):
                continue
            group = self._with_list(self._group(s, seen, top.score, used), seen, used)
            groups.append(group)
            used.update(g.passage.id for g in group)
        left = sum(1 for s in quotable if s.passage.id not in used and s.score >= bar)
        if left:
            evidence["more_available"] = left
        why = self.name_unnamed(query, [s for g in groups for s in g], evidence, findings)
        if why:
            return Selection(scored=ranked, abstain=True, evidence=evidence, why=why)
        if self.coverage is not None:
            values = evidence["coverage"]
            values.update(self.coverage.bank.nearest(vector, set(values["documents"]), lib.source_stems))
            covered = self.coverage.probability(values)
            values.update(probability=round(covered, 4), threshold=round(self.coverage.threshold, 4))
            if covered < self.coverage.threshold:
                nearest = ""
                if values.get("nearest_unanswered", 0.0) > values.get("nearest_answered", 1.0):
                    nearest = (f"; the closest labelled question, \"{values['nearest_unanswered_question']}\" "
                               f"({values['nearest_unanswered']:.2f}), is one they don't answer")
                return Selection(scored=ranked, abstain=True, evidence=evidence,
                                 why=f"the best passages match only in part: learned coverage {covered:.2f} < "
                                     f"{self.coverage.threshold:.2f} (best cosine {best_cos:.2f}, words {best_lex:.0%}"
                                     + (f"; the documents never use {', '.join(asked_missing)}" if asked_missing else "")
                                     + nearest + ")")
        return Selection(groups=groups, scored=ranked, evidence=evidence)

    def bank_answer(self, vector: np.ndarray) -> tuple[tuple[str, ...], float, str]:
        """The passages (quotable ones) that answer the labelled question nearest to this one in the coverage model's
        question bank, its similarity and its text, when it is at least the bank's trained `near`; nothing for a
        library without the documents the bank was labelled against. MiniLM compares questions with questions far
        better than with passages (bot/coverage.py): a near repeat of a labelled question reads what is asked where
        the ranking sees the shared topic ("Are cancers of the lymph system a known trigger?" -> the list item
        "malignant lesions of the lymphatic system", not "any type of cancer can trigger ...")."""
        bank = self.coverage.bank if self.coverage is not None else None
        if bank is None or not bank.holds(self.library.source_stems):
            return (), 0.0, ""
        found = bank.nearest_answer(vector)
        if found is None:
            return (), 0.0, ""
        if self._bank_index[0] is not bank:
            texts = [(p.id, collapse(fold(p.text))) for p in self.library.passages.values()
                     if p.source in bank.documents and self.library.eligible(p.id)]
            phrases = [[collapse(fold(a)) for a in answer.splitlines() if a.strip()] for answer in bank.answers]
            self._bank_index = (bank, [tuple(pid for pid, t in texts if any(ph in t for ph in ps)) for ps in phrases])
        i, similarity = found
        return self._bank_index[1][i], similarity, bank.texts[i]

    def efficacy_subject(self, query: Query) -> tuple[str, list[str], set[str], list[tuple[str, str]]] | None:
        """What an efficacy question asks about ("Does cat's claw improve joint pain?", "How effective is
        ashwagandha?"): the words as written, its content words, those of them that name a medicine or a
        disorder, and the medicines it names (written form, generic). None when the question has no such shape.
        Read in each sentence, and after a clause that opens one ("Dear doctor, does ...?", "Quick question: can
        ...?"): the question may come after a story, a salutation or a role-play template."""
        text = query.corrected or query.folded or fold(query.message)
        subject = next((s for s in _efficacy_subjects(text) if not _NO_TREATMENT.search(s)), None)
        if subject is None:
            return None
        medicines = self.medicines.find(subject) if self.medicines is not None else []
        # names `unnamed` checks on its own: medicines with a leaflet and their classes (a substance the dictionary
        # knows without a leaflet, "medical cannabis", is checked here, as a word the documents never use)
        named = name_words(self.medicines.medicines(subject, classes=True)) if self.medicines is not None else set()
        if self.disorders is not None:
            named |= {w for name in self.disorders.find(subject) for w in name.split()}
        content = [w for w in words(subject) if len(w) > 2 and not w.isdigit() and w not in _NOT_A_SUBJECT]
        return subject, content, named, medicines

    def unknown_subject(self, query: Query) -> str | None:
        """The subject of an efficacy question when a word of it is one the documents never use and no medicine
        or disorder name (those have their own check): a sentence matching the rest of the question ("joint
        pain") is not about it."""
        found = self.efficacy_subject(query)
        return found[0] if found is not None and self._unknown_words(found, query) else None

    def _unknown_words(self, found: tuple[str, list[str], set[str], list[tuple[str, str]]], query: Query) -> list[str]:
        """The content words of an efficacy subject (`efficacy_subject`) that the documents never use, not even as a
        synonym ("steroids": "corticosteroids"), and that are no medicine or disorder name. Not by stem: "cupping"
        would be "cup", a word of a folk recipe."""
        _, content, named, _ = found
        vocabulary, stems = self.library.vocabulary, self.library.terms.stems
        return [w for w in content if w not in vocabulary and w not in named
                and not any(query.alternatives.get(t, set()) & stems for t in analyze(w))]

    def undocumented_subject(self, query: Query) -> str | None:
        """The subject of an efficacy question when a word of it is one that neither the documents, the medicine
        dictionary nor NIH's pages on treatment (`care`) use ("Does cat's claw improve joint pain?", "Do static
        magnets help?"): a remedy the bot cannot vouch for. Care the documents don't cover ("Can plasma exchange
        help?") and a medicine or substance the dictionary knows ("Does IVIG help?") are not: `no_answer`."""
        found = self.efficacy_subject(query)
        if found is None or self.care is None or found[3]:
            return None
        return found[0] if any(w not in self.care for w in self._unknown_words(found, query)) else None

    def documented_subject(self, query: Query) -> str | None:
        """The subject of an efficacy question when the documents describe it as care ("Does physiotherapy
        help?", "Can treating the tumour help?", "Does chemo help?"): every content word is one of the quotable
        passages or headings (not only of a remedy passage), a synonym of one (prompts/synonyms.yaml: "chemo",
        "steroids"), or names a medicine the documents name. The learned intent layer reads "does X help?" as a
        remedy question whatever X is; this is what tells it otherwise. Not care the documents don't cover ("Can
        radiotherapy help?"): NIH's pages on treatment (`care`) use "fasting", "acupuncture" and "diet" as often as
        "radiotherapy", and letting them in lost real remedy refusals (docs/benchmarks.md, session 16)."""
        found = self.efficacy_subject(query)
        if found is None or not found[1]:
            return None
        subject, content, _, medicines = found
        # words of the medicines it names that the documents name too (under any name)
        known = {w for written, generic in medicines if generic in self.documented_medicines for w in words(written)}

        def described(word: str) -> bool:
            return (word in self.library.documented_words or word in known
                    or any(query.alternatives.get(t, set()) & self.library.documented_stems for t in analyze(word)))

        return subject if all(described(w) for w in content) else None

    @cached_property
    def documented_medicines(self) -> frozenset[str]:
        """Generic names of the medicines the quotable passages name (Mestinon's pyridostigmine), looked up
        word by word (a name of two words the documents use is missed: then the remedy vote stands)."""
        if self.medicines is None:
            return frozenset()
        return frozenset(generic for _, generic in self.medicines.find("\n".join(sorted(self.library.documented_words))))

    def names_medicine(self, name: str) -> bool:
        """Whether the quotable passages name this medicine under any of its names (Tegretol: carbamazepine)."""
        return self.medicines is not None and any(g in self.documented_medicines for _, g in self.medicines.find(name))

    def asked_medicines(self, query: Query) -> frozenset[str]:
        """Generic names of the medicines and substances the question (or the topic carried into it) names; not
        classes: the dictionary does not say which medicines are anticonvulsants."""
        if self.medicines is None:
            return frozenset()
        for text in (query.message, query.carried or ""):
            found = frozenset(generic for _, generic in self.medicines.substances(text))
            if found:
                return found
        return frozenset()

    def unanswered_aspect(self, query: Query, vector: np.ndarray, ranked: list[Scored], asked: frozenset[str],
                          types: list[tuple[re.Pattern, float]], evidence: dict) -> tuple[list[str], Passage | None]:
        """The words the question asks about a medicine the documents describe, when its own passages (its table
        cells and their headings) have none of them: "Can I drink alcohol while on methylprednisolone?" was
        answered with two methylprednisolone cells, about long-term use and side effects. The medicine's name is
        the question's topic there, as "paraneoplastic syndrome" is for "Is PNS contagious?" (the rule in
        `select`). Not when a question type reads what is asked and a passage naming the medicine has that type's
        answer ("What is Imuran used for?": "immunosuppressant drugs (cyclophosphamide, azathioprine);"; `types`:
        the question's `question_types`). When its side effects come first, the effect asked about must be one
        they list, in their words or a patient's (`listed_effect`): "Does methylprednisolone cause weight gain?"
        had been answered with a list without it; that list is returned with the words, for the reply to show as
        what the documents say instead, and the check's why is in `evidence` (`side_effect_list`). A misspelt
        little word alone does not count, as in that rule (`misspelt_little`)."""
        if not asked or query.ambiguous:  # "it" may be the library's subject as well as the medicine: not its aspect
            return [], None
        lib = self.library
        own = [s for s in ranked if self._names(s.passage.section) & asked]
        if not own:
            return [], None
        side_effects = bool(_SIDE_EFFECTS.search(own[0].passage.section[-1]))
        named = [set(analyze(g)) for g in asked]
        naming = [s.passage.text for s in ranked
                  if s in own or self._mentions(s, named)]
        if any(a.search(text) for a, _ in types for text in naming):
            return [], None
        names = set().union(*named)
        for text in (query.message, query.carried or ""):
            names.update(analyze(" ".join(written for written, _ in self.medicines.substances(text))))
        aspect = [t for t in self.content_terms(query)
                  if query.terms[t] >= 1.0 and t not in names and t not in query.told]
        stems = frozenset().union(*(lib.passage_terms.get(s.passage.id, frozenset())
                                    | lib.heading_terms.get(s.passage.section, frozenset()) for s in own))
        found = any(({t} | query.alternatives.get(t, set())) & stems for t in aspect)
        if side_effects and not found:
            how, evidence["side_effect_list"] = self.listed_effect(query, vector, own[0].passage)
            found = bool(how)
            if how == "name":  # the question names a listed effect in other words: they are not unknown to the list
                evidence["explained_by_list"] = aspect
        if found or all(misspelt_little(t, query.message) for t in aspect):
            return [], None
        return aspect, own[0].passage if side_effects else None

    def mentioned_only(self, query: Query, ranked: list[Scored]) -> tuple[str, Passage | None] | None:
        """What a patient asks the meaning of ("What is periostitis?", "What exactly is Raynaud's syndrome?"), as they
        wrote it, and the best passage that names it, eligible to quote (None if none is), when the documents only
        name it in passing: in a list or a table cell ("Painful enlargement of fingers and toes, periostitis, joint
        pain."), which says nothing of what it is. Not when a heading is about it (the table row "Myasthenic
        syndrome") or a sentence opens with it ("Cushing's syndrome is hypercorticism ..."); not for the library's
        subject, a medicine (its own checks), or a thing the documents never name (the unknown-word checks)."""
        if self._definition is None:
            return None
        for sentence in sentences_of(query.message):  # as written: the reply names it so
            m = self._definition.search(sentence)
            if m:
                break
        else:
            return None
        if any(q.search(sentence) for name, q, _, _ in self._types if name != "definition"):
            return None  # "What is diaminopyridine for?" asks what it is used for
        inside = re.search(r"\bdoes (.+?) mean\b", m.group(0))
        subject = inside.group(1) if inside else re.split(r"[?.!,;:]", sentence[m.end():], maxsplit=1)[0]
        subject = re.sub(r"[^\w\s'’-]", "", subject)  # the patient's words only, no markup ("**periostitis**")
        subject = re.sub(r"^(?:\s|exactly\b|actually\b|really\b|a\b|an\b|the\b)+", "", subject).strip()
        if POINTS_BACK.match(fold(subject)):
            return None  # "What is that and how does it show itself?" after a story: a pronoun names nothing
        lib = self.library
        subject_stems = set(analyze(" ".join(lib.subject_words)))
        own = analyze(subject)
        if any(t in subject_stems or query.alternatives.get(t, set()) & subject_stems for t in own):
            return None  # the library's subject ("What is PNS in layman's terms?")
        content = {t for t in own if t not in self._generic and not self._topic_term(query, t, lib.terms)}
        if not content or (self.medicines is not None and self.medicines.substances(subject)):
            return None
        naming = [s.passage for s in ranked if content <= lib.passage_terms.get(s.passage.id, frozenset())]
        if not naming or described(subject, lib):
            return None
        return subject, next((p for p in naming if lib.eligible(p.id)), None)

    def listed_effect(self, query: Query, vector: np.ndarray, listed: Passage) -> tuple[str, str]:
        """Whether the question asks about an effect of the side-effect list `listed` in words other than the
        list's ("name" or "meaning", how it was found; "" if not), and why, in words for the staff: every word of
        another name of one (`SynonymGroups.same_as`: "upset stomach" for dyspepsia, "loss of appetite" for
        anorexia), or a question closer in meaning (`vector`) to "Does <medicine> cause <effect>?" for one of its
        effects than to "Does <medicine> cause side effects?" ("Can carbamazepine make me sleepy?": drowsiness; not
        "Does methylprednisolone cause weight gain?"). The comparison, not a threshold: a patient's words for an
        effect the list names bring the question closer to that effect than to side effects at large."""
        effects = [e.strip() for e in re.split(r"[,;]", listed.text.rstrip(". ")) if e.strip()]
        if self.synonyms is not None:
            asked = set(query.terms).union(*query.alternatives.values())
            for effect in effects:
                for name in self.synonyms.same_as(effect):
                    if name_stems(name) <= asked:
                        return "name", f'the question says "{name}", a name of "{effect}" in the list (MedQuAD synonyms)'
        if self.embed is None or len(listed.section) < 2:
            return "", "no name of a listed effect in the question"
        if listed.id not in self._effect_vectors:
            medicine = listed.section[-2]
            texts = [f"Does {medicine} cause {e[0].lower() + e[1:]}?" for e in effects]
            self._effect_vectors[listed.id] = self.embed(texts + [f"Does {medicine} cause side effects?"])
        similarity = self._effect_vectors[listed.id] @ vector
        best = int(similarity[:-1].argmax())
        closer = bool(similarity[best] > similarity[-1])
        return "meaning" if closer else "", (
            f'by meaning the question is {"closer to" if closer else "no closer to"} "{effects[best]}" '
            f"({similarity[best]:.2f}) than to side effects at large ({similarity[-1]:.2f})")

    def about_medicines(self, query: Query) -> bool:
        """Whether the question (or the topic carried into it) names a medicine, a class of them or a substance,
        or asks about medicines in general ("the side effects of the treatment", "the tablets")."""
        texts = (query.message, query.corrected, query.carried or "")
        if any(_MEDICINE_WORDS.search(fold(t)) for t in texts):
            return True
        if self.medicines is None:  # no dictionary: no section is known to be a medicine's either
            return False
        if any(self.medicines.find(t) for t in texts):
            return True
        # a misspelt name of a medicine the documents name ("pyridostigmin"), read as the input guard reads it
        names = sorted(fold(n) for n in self.documented_medicines)
        return any(misspelt(fold(t), names) for t in texts)

    def other_medicine(self, section: tuple[str, ...], asked: frozenset[str]) -> bool:
        """Whether the section's headings name medicines, none of them asked about: "The drug is clinically
        incompatible with alcohol." under Carbamazepine would read as the answer to "Is methylprednisolone safe
        with alcohol?" ("the drug" is whichever the patient asked about)."""
        named = self._names(section)
        return bool(named) and not named & asked

    def _names(self, section: tuple[str, ...]) -> frozenset[str]:
        """The generic names of the medicines the section's headings name (cached per section)."""
        named = self._section_medicines.get(section)
        if named is None:
            named = self._section_medicines[section] = frozenset(g for _, g in self.medicines.find("\n".join(section)))
        return named

    def name_unnamed(self, query: Query, chosen: list[Scored], evidence: dict, findings: tuple[str, ...] = ()) -> str | None:
        """Records in `evidence` the names the question asks about that `chosen` does not name (`unnamed`), and
        those the documents mention only in passing, for the reply to say; returns why, or None if none."""
        names, unknown = self.unnamed(query, chosen, findings)
        unnamed = [as_written(n, " ".join(filter(None, (query.message, query.carried)))) for n in names]
        if not unnamed:
            return None
        evidence["names_not_quoted"] = unnamed
        # names no dictionary holds say nothing of whether the message is about health (`SelectionStage`)
        evidence["names_unknown"] = unnamed if unknown else []
        mentioned = [n for n in unnamed if set(analyze(n)) <= self.library.terms.stems]
        evidence["names_in_passing"] = mentioned
        them = "it" if len(unnamed) == 1 else "them"
        return (f"the question is about {', '.join(unnamed)}; the documents mention {them} only in passing (no heading, "
                f"title or chosen quote is about {them})"
                if mentioned else f"the question is about {', '.join(unnamed)}, which the documents never name")

    def unnamed(self, query: Query, chosen: list[Scored], findings: tuple[str, ...] = ()) -> tuple[list[str], bool]:
        """The disorders and medicines the question (or the topic carried into it) names, when no chosen quote
        or its headings names any of them: "What is Lambert-Eaton syndrome?" answered with the definition of
        paraneoplastic syndrome, or "How do I come off sertraline?" with another medicine's table cell, would
        answer another question. A medicine counts as named under any of its names (Tegretol: carbamazepine).
        Else the names no dictionary holds (`_unnamed_strangers`; then the flag is True). Then the `findings` no
        chosen quote names: "Can pyridostigmine cause seizures?" is not answered by its side effects if seizures are
        not among them."""
        if not chosen:
            return [], False
        subject = self.unknown_subject(query)
        if subject:
            return [subject], False
        names = self._unnamed_names(query, chosen)
        if names:
            return names, False
        strangers = self._unnamed_strangers(query, chosen)
        if strangers:
            return strangers, True
        quoted = self._quoted_terms(chosen)
        return [f for f in findings if not set(analyze(f)) <= quoted], False

    def _unnamed_strangers(self, query: Query, chosen: list[Scored]) -> list[str]:
        """Words of the question that neither the documents nor English use (`English.unknown`), no misspelling of a
        document word ("cyclofosfamide", "fisiotherapy") and no name the medicine or disorder dictionaries hold
        (`_unnamed_names` reads those, under any of their names: Tegretol is carbamazepine), when no chosen quote
        names them: a name no dictionary of ours holds ("Levonelle side effects?" had been answered with two other
        medicines' side effects)."""
        if self.english is None:
            return []
        vocabulary, text = self.library.vocabulary, query.question or query.message
        found = [w for w in dict.fromkeys(words(text))
                 if w not in vocabulary and w not in query.corrections and self.english.unknown(w)]
        if not found:  # most questions: no dictionary lookup at all
            return []
        quoted = self._quoted_terms(chosen)
        named = (self.disorders.words_in(text) if self.disorders is not None else set()) | (
            name_words(self.medicines.find(text)) if self.medicines is not None else set())
        return [w for w in found if w not in named and not set(analyze(w)) <= quoted
                and not process.extractOne(w, vocabulary.keys(), scorer=fuzz.ratio, score_cutoff=MISSPELT)]

    def _quoted_terms(self, chosen: list[Scored]) -> frozenset[str]:
        lib = self.library
        return frozenset().union(*(lib.passage_terms.get(s.passage.id, frozenset())
                                   | lib.heading_terms.get(s.passage.section, frozenset()) for s in chosen))

    def _unnamed_names(self, query: Query, chosen: list[Scored]) -> list[str]:
        disorders, medicines = [], []
        texts = (query.message, "" if query.ambiguous else query.carried or "")
        if query.question and set(words(query.folded)) & self.library.subject_words:
            # A story that names the library's subject, or a question that does: the disorders of the story are
            # the patient's context ("My husband has lung cancer and they said paraneoplastic. What is that?")
            texts = (query.question,)
        for text in texts:
            disorders = self.disorders.find(text) if self.disorders is not None else []
            medicines = self.medicines.medicines(text, classes=True) if self.medicines is not None else []
            if disorders or medicines:
                break
        if not disorders and not medicines:
            return []
        lib = self.library
        if disorders and not medicines and about_another_disorder(query, lib, disorders) and not self.relates(query, chosen, disorders):
            return disorders
        quoted = self._quoted_terms(chosen)
        if medicines:
            text = "\n".join(f"{s.passage.heading}\n{s.passage.text}" for s in chosen)
            generics = {generic for _, generic in self.medicines.find(text)}  # any name: "steroid" leaflets too
            # Every medicine the question itself asks about: "Does azathioprine interact with allopurinol?" answered
            # with azathioprine's side effects says nothing of allopurinol. A story's medicines are context, unless
            # the question names none ("My doctor gave me Mestinon. What is it for?") or points back to them ("I take
            # Keppra. Does it interact with prednisolone?").
            asked = self.medicines.medicines(query.question, classes=True) if query.question else []
            if not asked or POINTS_BACK.search(fold(query.question)):
                asked = list(dict.fromkeys(asked + medicines))
            return [written for written, generic in asked if not set(analyze(written)) <= quoted and generic not in generics]
        return [] if any(set(analyze(n)) <= quoted for n in disorders) else disorders

    def naming_first(self, query: Query, quotable: list[Scored]) -> list[Scored]:
        """The passages that name a disorder the question names, first (in their order), then the rest: for "Can
        ovarian cancer cause paraneoplastic syndrome?" the definitions outscore "in ovarian cancer;" (an item of the
        list of cancers it most often appears in), and the answer must name what was asked about (`unnamed`). Only
        when the question relates it to the library's subject (`points_at_subject`): "I think I may have lymphoma
        or lupus, what to do next?" and "What is the outlook for lung cancer?" ask about the cancer itself."""
        if self.disorders is None or not points_at_subject(query, self.library):
            return quotable
        found = self.disorders.find(query.question or query.message)
        if not found:
            return quotable
        names = [set(analyze(n)) for n in found]
        naming = [s for s in quotable if self._mentions(s, names)]
        return naming + [s for s in quotable if s not in naming] if naming else quotable

    def relates(self, query: Query, chosen: list[Scored], names: list[str]) -> bool:
        """Whether a chosen quote names one of `names` and another word the question asks about (beyond the topic):
        "In case of thyroid cancer, hypocalcemia may develop." is about how the two relate, as "How is hypocalcemia
        related to thyroid cancer?" asks, not a passing mention ("in breast cancer;", an item of a risk-factor list,
        for "What are the symptoms of breast cancer?", whose only other word is the topic's)."""
        stems = [set(analyze(n)) for n in names]
        others = [t for t in self.content_terms(query) if t not in set().union(*stems)]
        for s in chosen:
            terms = self.library.passage_terms.get(s.passage.id, frozenset())
            if self._mentions(s, stems) and any(({t} | query.alternatives.get(t, set())) & terms for t in others):
                return True
        return False

    def _mentions(self, s: Scored, names: list[set[str]]) -> bool:
        """Whether the passage holds every word (stem) of one of the names."""
        terms = self.library.passage_terms.get(s.passage.id, frozenset())
        return any(n <= terms for n in names)

    def _with_list(self, group: list[Scored], seen: dict[str, Scored], used: set[str]) -> list[Scored]:
        """A list and the sentence that introduces it are quoted together: items open with their lead-in ("in
        ovarian cancer;" alone does not say what the list is of), and a lead-in quoted alone ("the following
        physiotherapy procedures are allowed ...:") is followed by the list's first items (never a tagged one),
        unless they are quoted already."""
        leads, items = self.library.lists
        first = group[0].passage
        if first.kind == "list_item":
            lead = leads.get((first.source, first.block))
            if lead is None or lead.id in used or lead.section != first.section:
                return group
            return [seen.get(lead.id) or Scored(lead, 0.0, 0.0, 0.0, 0.0), *group]
        key = (first.source, first.block + 1)
        if len(group) > 1 or leads.get(key) is not first:
            return group
        follow = [p for p in items[key] if not p.tags and p.id not in used and p.section == first.section][:MAX_GROUP]
        return [*group, *(seen.get(p.id) or Scored(p, 0.0, 0.0, 0.0, 0.0) for p in follow)]

    def _group(self, s: Scored, seen: dict[str, Scored], best: float, used: set[str]) -> list[Scored]:
        """Neighbouring list items of the same list that also answer join the quote."""
        if s.passage.kind != "list_item":
            return [s]
        items = sorted(
            (x for x in seen.values()
             if x.passage.kind == "list_item" and x.passage.block == s.passage.block and not asks(x.passage.text)
             and x.passage.source == s.passage.source and x.passage.id not in used),
            key=lambda x: x.passage.start,
        )
        idx = next(i for i, x in enumerate(items) if x.passage.id == s.passage.id)
        group = [s]
        lo, hi = idx - 1, idx + 1
        while len(group) < MAX_GROUP:
            options = [(j, items[j]) for j in (lo, hi) if 0 <= j < len(items) and items[j].score >= GROUP_RATIO * best]
            if not options:
                break
            j, x = max(options, key=lambda o: o[1].score)
            group.append(x)
            lo, hi = (lo - 1, hi) if j == lo else (lo, hi + 1)
        return sorted(group, key=lambda x: x.passage.start)


def asks(text: str) -> bool:
    """Whether a passage is a question (ends with a question mark, before closing quotes or brackets)."""
    return text.rstrip().rstrip("\"')]”’").endswith("?")


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")
_MD_ADDRESS = re.compile(r"([\\`*_{}\[\]()#+!|~\-.:@])")  # also what the renderer turns into links


def md_escape(text: str, addresses: bool = False) -> str:
    """Show text literally in Markdown: no HTML (`&`, `<`, `>` become entities), no emphasis, links, lists or
    headings. `addresses`: also escape ":", "@", "." and "-", so that "http://…", "www.…" or an e-mail address a
    person typed is never turned into a link (document quotes keep "2.5 mg" as written, for the output guard).
    The one escaper for the patient's words (web/ui.py) and for the documents' words in a reply."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = (_MD_ADDRESS if addresses else _MD_SPECIAL).sub(r"\\\1", text)
    return re.sub(r"^(\s*)([-=])", r"\1\\\2", text)


@dataclass(frozen=True)
class Composition:
    """A composed answer: its pieces (the lead-in, each quote with its attribution, the care-team pointer),
    which are also what `ChatBot.stream` yields, and its quotes."""

    pieces: tuple[str, ...]
    quotes: tuple[Quote, ...]

    @property
    def text(self) -> str:
        return "\n\n".join(self.pieces)


class QuoteComposer:
    def __init__(self, library: Library) -> None:
        self.library = library

    def quote(self, p: Passage) -> Quote:
        doc = self.library.documents[p.source]
        return Quote(p.text, p.source, doc.title, p.heading, p.start, p.end, doc.last_reviewed, p.id)

    def compose(self, groups: list[list[Passage]], lead: str = "answer_lead", more: bool = False,
                close: str = "care_team_pointer", **values: str) -> Composition:
        """`lead`: the message key of the reply's first line (`answer_lead`, `answer_lead_followup`, `answer_lead_more`,
        `no_answer_listed`, `no_answer_mentioned`), rendered with `values`; `close`: the key of its last
        (`care_team_pointer`; for a passage shown instead of an answer `no_answer_shown_close`); `more`: the documents hold more passages that answer as
        well (`Selection.more`): the reply says how to see them."""
        pieces = [prompts.message(lead, **values)]
        quotes: list[Quote] = []
        for group in groups:
            qs = [self.quote(p) for p in group]
            quotes.extend(qs)
            # a list's lead-in sentence (`PassageSelector._with_list`) opens it, its items follow
            if len(qs) == 1:
                block = "> " + md_escape(qs[0].text)
            else:
                opens = group[0].kind != "list_item"
                block = ("> " + md_escape(qs[0].text) + "\n>\n" if opens else "") + "\n".join(
                    "> - " + md_escape(q.text) for q in qs[opens:])
            first = qs[0]
            reviewed = " " + prompts.message("quote_reviewed", date=prompts.date_text(first.last_reviewed)) if first.last_reviewed else ""
            attribution = prompts.message("quote_attribution", title=md_escape(first.title), section=md_escape(first.section), reviewed=reviewed)
            pieces.append(block + "\n\n" + attribution)
        pieces.append(prompts.message(close) + (" " + prompts.message("more_available") if more else ""))
        return Composition(tuple(pieces), tuple(quotes))
