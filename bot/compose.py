"""Choosing the sentences that answer, and writing the reply around them.

`PassageSelector` scores the passages of the retrieved chunks and decides whether the evidence is strong
enough; `QuoteComposer` turns the chosen passages into Markdown: a lead-in, the quotes as blockquotes with
their source, and a pointer to the care team. The bot's own words never carry medical facts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

import prompts
from ingest.safety import fold
from ingest.structure import Passage
from ingest.text import analyze

from .answerability import AnswerabilityModel, overlap
from .disorders import DisorderFinder
from .library import Library
from .query import Query
from .types import Quote

# Weights of the passage score and the abstention thresholds; calibrated on eval/sets (docs/benchmarks.md).
W_COSINE, W_LEXICAL, W_CHUNK = 0.55, 0.35, 0.10
MIN_COSINE = 0.32  # below this and below MIN_LEXICAL: the documents do not cover the question
MIN_LEXICAL = 0.12
TOPIC_IDF = 1.9  # idf below this: a word in more than ~15% of passages, the library's topic itself
UNKNOWN_WORD_MAX_COSINE = 0.5  # a question word the library never uses, no word matched: abstain below this
KEEP_RATIO = 0.88  # further quotes must score at least this share of the best
GROUP_RATIO = 0.75  # neighbouring list items join a quote above this share of the best
MAX_GROUP = 4
DIRECT_PASSAGES = 12  # passages found by their own embedding (small libraries) join the chunk candidates
MAX_DOCUMENT_PASSAGES = 400  # per focus document (below)
# Mixed libraries (other subjects next to the library's own): every passage of the documents about the
# library's subject competes. A question about the subject (`about_subject`) is answered from them alone
# (the head start then lifts every candidate alike); in any other question they get this head start, unless
# it names another document's subject that they never mention ("How is asthma treated?"). Calibrated with
# benchmarks/distractors.py on the core set and all 5,483 MedQuAD pages (docs/benchmarks.md); it does not
# enter the abstention decision.
FOCUS_PRIOR = 0.4


@dataclass
class Scored:
    passage: Passage
    score: float
    cosine: float
    lexical: float
    chunk: float
    answerability: float = 0.0  # the learned model's probability that the passage answers the question

    def to_dict(self) -> dict:
        return {
            "passage_id": self.passage.id,
            "section": " › ".join(self.passage.section),
            "text": self.passage.text[:160],
            "score": round(self.score, 4),
            "cosine": round(self.cosine, 4),
            "lexical": round(self.lexical, 4),
            "chunk": round(self.chunk, 4),
            "answerability": round(self.answerability, 4),
        }


@dataclass
class Selection:
    groups: list[list[Scored]] = field(default_factory=list)
    scored: list[Scored] = field(default_factory=list)
    abstain: bool = False
    why: str = ""
    evidence: dict = field(default_factory=dict)


class PassageSelector:
    def __init__(self, library: Library, max_quotes: int = 3, config: dict | None = None, focus=(),
                 model: AnswerabilityModel | None = None, disorders: DisorderFinder | None = None) -> None:
        """`focus`: the documents about the library's subject, when other subjects share the library;
        `model`: the learned answerability scorer (scores every candidate; in shadow, decides nothing);
        `disorders`: disorder names (bot/disorders.py): a question naming one that no chosen quote names is
        not answered."""
        cfg = config or prompts.load("answering")
        self.library = library
        self.model = model
        self.disorders = disorders
        self.focus = frozenset(focus)
        self._focus_terms = library.term_stats(tuple(sorted(self.focus))) if self.focus else library.terms
        self._focus_ids = [pid for s in sorted(self.focus) for pid in library.eligible_by_source.get(s, [])[:MAX_DOCUMENT_PASSAGES]]
        library.passage_vectors(self._focus_ids)  # embedded once, at start, not at the first question
        # title words of the other documents -> (the title's words, the title), to see a question name one
        self._titles: dict[str, list[tuple[frozenset[str], str]]] = {}
        for source, doc in library.documents.items() if self.focus else ():
            title_terms = frozenset(analyze(doc.title))
            if source not in self.focus and title_terms:
                for t in title_terms:
                    self._titles.setdefault(t, []).append((title_terms, doc.title))
        self._topic = frozenset(analyze(cfg.get("library_topic") or ""))
        self._refers = re.compile(cfg["refers_to_subject"], re.I)
        self.max_quotes = max_quotes
        self._generic = set(analyze(" ".join(cfg["generic_words"])))
        self._types = [
            (name, re.compile(t["question"], re.I), re.compile(t["answer"], re.I), float(t["boost"]))
            for name, t in cfg["question_types"].items()
        ]

    def uncovered(self, query: Query, stems: frozenset[str] | None = None) -> list[str]:
        """Words of the question the library (or only `stems`) never uses, and no synonym explains: it does
        not cover them."""
        stems = self.library.terms.stems if stems is None else stems
        return [
            t for t, w in query.terms.items()
            if w >= 1.0 and t not in stems and t not in self._generic and not (query.alternatives.get(t, set()) & stems)
        ]

    def other_subject(self, query: Query) -> list[str]:
        """Titles of other documents the question names and the subject's own documents never mention:
        "How is asthma treated?" names "Asthma"; "Does lymphoma cause it?" names "Lymphoma", but the
        subject's documents speak of lymphoma, so the question may well be about the subject."""
        own = self._focus_terms.stems
        terms = {t for t, w in query.terms.items() if w >= 1.0}  # the question's words, not synonyms added…
        terms |= set(analyze(query.carried or ""))  # …but a subject carried from the previous turn counts
        named = []
        for t in terms - own:
            for title_terms, title in self._titles.get(t, ()):
                if title_terms <= terms:
                    named.append(title)
        return sorted(set(named))[:5]

    def about_subject(self, query: Query) -> str:
        """Why, in a mixed library, the question is about the library's subject ("" if it is not), so that
        only the subject's documents may answer it; another page's sentence that happens to match "Is it
        contagious?" is about something else. Not when it names another page's subject (`other_subject`)."""
        if not self.focus or self.other_subject(query):
            return ""
        if self._topic and self._topic <= query.terms.keys():
            return "names the subject"
        if self._refers.search(fold(query.message)):
            return "refers to the subject"
        # Not "uses only the subject's words": their vocabulary is large ("What is Down syndrome?" would
        # never reach the Down syndrome pages).
        return ""

    def lexical(self, query: Query, p: Passage, content_only: bool = False) -> float:
        """Share of the question's (idf-weighted) words that the passage or its headings contain.

        `content_only` leaves out the library's topic words (in more than ~15% of passages, such as
        "paraneoplastic syndrome"): what is left says whether the passage is about what was asked.
        """
        lib = self.library
        own = lib.passage_terms.get(p.id, frozenset())
        heading = lib.heading_terms.get(p.section, frozenset())
        stats = self._focus_terms if p.source in self.focus else lib.terms
        total = got = 0.0
        for term, weight in query.terms.items():
            if content_only and (stats(term) < TOPIC_IDF or term in self._generic):
                continue
            idf = stats(term) * weight
            total += idf
            alts = query.alternatives.get(term, set()) | {term}
            if alts & own:
                got += idf
            elif alts & heading:
                got += 0.6 * idf
        return got / total if total else 0.0

    def select(self, query: Query, vector: np.ndarray, candidates: list[dict], about: str | None = None) -> Selection:
        """`about`: `about_subject(query)`, when the caller already knows it."""
        lib = self.library
        about = self.about_subject(query) if about is None else about
        best_fused = max((c["fused"] for c in candidates), default=1.0) or 1.0
        seen: dict[str, Scored] = {}
        chunk_prior: dict[str, float] = {}
        for c in candidates:
            for p in lib.neighbours(lib.chunks[c["chunk_id"]]):
                if lib.eligible(p.id):  # tagged passages are never eligible (checked again at output)
                    chunk_prior[p.id] = max(chunk_prior.get(p.id, 0.0), c["fused"] / best_fused)
        for pid in lib.nearest_passages(vector, DIRECT_PASSAGES):
            chunk_prior.setdefault(pid, 0.0)
        for pid in self._focus_ids:
            chunk_prior.setdefault(pid, 0.0)
        ids = [pid for pid in chunk_prior if not about or lib.passages[pid].source in self.focus]
        if not ids:
            return Selection(abstain=True, why="no eligible passage retrieved")
        vectors = lib.passage_vectors(ids)
        cosines = vectors @ vector
        other = self.other_subject(query) if self.focus else []
        head_start = FOCUS_PRIOR if self.focus and not other else 0.0
        question = fold(query.message)
        boosts = [(a, b) for _, q, a, b in self._types if q.search(question)]
        for pid, cos in zip(ids, cosines):
            p = lib.passages[pid]
            lex = self.lexical(query, p)
            score = W_COSINE * float(cos) + W_LEXICAL * lex + W_CHUNK * chunk_prior[pid]
            score += sum(b for a, b in boosts if a.search(fold(p.text)))
            score += head_start if p.source in self.focus else 0.0
            seen[pid] = Scored(p, score, float(cos), lex, chunk_prior[pid])
        if self.model is not None:
            weights = {t: (self._focus_terms if about else lib.terms)(t) * w for t, w in query.terms.items()}
            lexical = np.array([(overlap(weights, lib.passage_terms.get(pid, frozenset())),
                                 overlap(weights, lib.heading_terms.get(lib.passages[pid].section, frozenset())))
                                for pid in ids], dtype=np.float32).reshape(-1, 2)
            for pid, prob in zip(ids, self.model.score(vector, vectors, lexical)):
                seen[pid].answerability = float(prob)
        ranked = sorted(seen.values(), key=lambda s: -s.score)
        top = ranked[0]
        best_cos = max(s.cosine for s in ranked)
        best_lex = max(s.lexical for s in ranked)
        content = max(self.lexical(query, s.passage, content_only=True) for s in ranked[:8])
        missing = self.uncovered(query, self._focus_terms.stems if about else None)
        evidence = {"best_cosine": round(best_cos, 3), "best_lexical": round(best_lex, 3),
                    "content_lexical": round(content, 3), "unknown_words": missing}
        if self.focus:
            evidence["subject_only"] = about
            evidence["focus_head_start"] = head_start
            evidence["names_other_subject"] = other
        if missing and best_lex < MIN_LEXICAL and best_cos < UNKNOWN_WORD_MAX_COSINE:
            return Selection(scored=ranked, abstain=True, evidence=evidence,
                             why=f"the documents never use {', '.join(missing)}; best lexical {best_lex:.2f}")
        if best_cos < MIN_COSINE and best_lex < MIN_LEXICAL:
            return Selection(scored=ranked, abstain=True, evidence=evidence,
                             why=f"weak evidence: best cosine {best_cos:.2f} < {MIN_COSINE} and best lexical {best_lex:.2f} < {MIN_LEXICAL}")
        groups: list[list[Scored]] = []
        used: set[str] = set()
        for s in ranked:
            if len(groups) >= self.max_quotes:
                break
            if s.passage.id in used or (groups and s.score < KEEP_RATIO * top.score):
                continue
            group = self._group(s, seen, top.score, used)
            groups.append(group)
            used.update(g.passage.id for g in group)
        unnamed = self.unnamed_disorders(query, [s for g in groups for s in g])
        if unnamed:
            evidence["disorders_not_quoted"] = unnamed
            mentioned = [n for n in unnamed if set(analyze(n)) <= lib.terms.stems]
            why = (f"the question is about {', '.join(unnamed)}; the documents mention "
                   f"{'it' if len(unnamed) == 1 else 'them'} only in passing, none of the chosen quotes does"
                   if mentioned else f"the question is about {', '.join(unnamed)}, which the documents never name")
            return Selection(scored=ranked, abstain=True, evidence=evidence, why=why)
        return Selection(groups=groups, scored=ranked, evidence=evidence)

    def unnamed_disorders(self, query: Query, chosen: list[Scored]) -> list[str]:
        """The disorders the question (or the topic carried into it) names, when no chosen quote or its
        headings names any of them: "What is Lambert-Eaton syndrome?" answered with the definition of
        paraneoplastic syndrome would answer another question."""
        if self.disorders is None:
            return []
        named = self.disorders.find(query.message) or self.disorders.find(query.carried or "")
        if not named or not chosen:
            return []
        lib = self.library
        quoted = frozenset().union(*(lib.passage_terms.get(s.passage.id, frozenset())
                                     | lib.heading_terms.get(s.passage.section, frozenset()) for s in chosen))
        if any(set(analyze(n)) <= quoted for n in named):
            return []
        return named

    def _group(self, s: Scored, seen: dict[str, Scored], best: float, used: set[str]) -> list[Scored]:
        """Neighbouring list items of the same list that also answer join the quote."""
        if s.passage.kind != "list_item":
            return [s]
        items = sorted(
            (x for x in seen.values()
             if x.passage.kind == "list_item" and x.passage.block == s.passage.block
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


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def md_escape(text: str) -> str:
    """Show text literally in Markdown: no emphasis, links, headings or HTML from a document or a user."""
    text = text.replace("&", "&amp;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return re.sub(r"^(\s*)([-=])", r"\1\\\2", text)


class QuoteComposer:
    def __init__(self, library: Library) -> None:
        self.library = library

    def quote(self, p: Passage) -> Quote:
        doc = self.library.documents[p.source]
        return Quote(p.text, p.source, doc.title, self.library.section_label(p), p.start, p.end, doc.last_reviewed, p.id)

    def compose(self, groups: list[list[Passage]], followup: bool = False) -> tuple[str, tuple[Quote, ...]]:
        parts = [prompts.message("answer_lead_followup" if followup else "answer_lead")]
        quotes: list[Quote] = []
        for group in groups:
            qs = [self.quote(p) for p in group]
            quotes.extend(qs)
            if len(qs) == 1:
                parts.append("> " + md_escape(qs[0].text))
            else:
                parts.append("\n".join("> - " + md_escape(q.text) for q in qs))
            first = qs[0]
            reviewed = " " + prompts.message("quote_reviewed", date=prompts.date_text(first.last_reviewed)) if first.last_reviewed else ""
            parts.append(
                prompts.message("quote_attribution", title=md_escape(first.title), section=md_escape(first.section), reviewed=reviewed)
            )
        parts.append(prompts.message("care_team_pointer"))
        return "\n\n".join(parts), tuple(quotes)
