"""Subject focus: in a library that shares its shelves with other subjects, which documents are about the
library's own subject, and whether a question is about it.

`library_topic` (prompts/answering.yaml) names the subject; the documents whose title names it are its
documents, when they are fewer than half of the library (with 5,483 MedQuAD pages mixed in they are what
keeps "What causes it?" on the subject, docs/benchmarks.md); in the bundled corpus every document is about
it and there is no focus. For each question `SubjectFocus.run` decides, once, what retrieval searches and
how the selector weighs the subject's passages (`FocusDecision`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import prompts
from ingest.structure import Passage
from ingest.text import analyze, fold

from .library import Library, TermStats
from .query import Query

MAX_DOCUMENT_PASSAGES = 400  # per focus document: all compete in the selection
# Every passage of the documents about the library's subject competes. A question about the subject
# (`about_subject`) is answered from them alone (the head start then lifts every candidate alike); in any
# other question they get this head start, unless it names another document's subject that they never
# mention ("How is asthma treated?"). Calibrated with benchmarks/distractors.py on the core set and all 5,483
# MedQuAD pages (docs/benchmarks.md); it does not enter the abstention decision.
FOCUS_PRIOR = 0.4


def subject_documents(library: Library, topic: str) -> list[str]:
    """The documents about the library's subject, when other subjects share the library; none when most
    documents are about it anyway (the bundled corpus)."""
    topic = (topic or "").strip()
    about = library.sources_about(topic) if topic else []
    return about if library.documents and len(about) / len(library.documents) < 0.5 else []


@dataclass(frozen=True)
class FocusDecision:
    """What one question may be answered from. Without focus documents everything is searched alike."""

    documents: frozenset[str] = frozenset()  # the subject's documents (none: no focus)
    subject_only: str = ""  # why only they may answer ("" when any document may)
    other_subjects: list[str] = field(default_factory=list)  # titles of other documents the question names
    head_start: float = 0.0  # added to the score of the subject's passages

    @property
    def trace(self) -> dict[str, Any]:
        """The focus part of the selection's evidence (nothing without focus documents)."""
        if not self.documents:
            return {}
        return {"subject_only": self.subject_only, "focus_head_start": self.head_start,
                "names_other_subject": self.other_subjects}


class SubjectFocus:
    def __init__(self, library: Library, config: dict | None = None, documents: list[str] | None = None) -> None:
        """`documents`: the subject's documents, instead of those whose title names `library_topic`
        (an empty list turns the focus off)."""
        cfg = config or prompts.load("answering")
        self.library = library
        topic = cfg.get("library_topic") or ""
        self.documents = frozenset(subject_documents(library, topic) if documents is None else documents)
        key = tuple(sorted(self.documents))
        # the subject's documents weigh words among themselves: "stage" says much among them
        self.terms: TermStats = library.term_stats(key) if self.documents else library.terms
        # the words the subject's documents use where they may be quoted ("the documents never use this word")
        self.quotable_stems = frozenset().union(*(library.source_stems.get(s, frozenset()) for s in key))
        self.passage_ids = [pid for s in key for pid in library.eligible_by_source.get(s, [])[:MAX_DOCUMENT_PASSAGES]]
        library.passage_vectors(self.passage_ids)  # embedded once, at start, not at the first question
        library.chunk_matrix(key)  # read once, at start: retrieval searches them on their own
        # title words of the other documents -> (the title's words, the title), to see a question name one
        self._titles: dict[str, list[tuple[frozenset[str], str]]] = {}
        for source, doc in library.documents.items() if self.documents else ():
            title_terms = frozenset(analyze(doc.title))
            if source not in self.documents and title_terms:
                for t in title_terms:
                    self._titles.setdefault(t, []).append((title_terms, doc.title))
        self._topic = frozenset(analyze(topic))
        self._refers = re.compile(cfg["refers_to_subject"], re.I)

    def stats_for(self, p: Passage) -> TermStats:
        """The term statistics a passage competes in: its subject's documents, or the whole library."""
        return self.terms if p.source in self.documents else self.library.terms

    def other_subject(self, query: Query) -> list[str]:
        """Titles of other documents the question names and the subject's own documents never mention:
        "How is asthma treated?" names "Asthma"; "Does lymphoma cause it?" names "Lymphoma", but the
        subject's documents speak of lymphoma, so the question may well be about the subject."""
        own = self.terms.stems
        terms = {t for t, w in query.terms.items() if w >= 1.0}  # the question's words, not synonyms added…
        terms |= set(analyze(query.carried or ""))  # …but a subject carried from the previous turn counts
        named = []
        for t in terms - own:
            for title_terms, title in self._titles.get(t, ()):
                if title_terms <= terms:
                    named.append(title)
        return sorted(set(named))[:5]

    def about_subject(self, query: Query, other: list[str] | None = None) -> str:
        """Why the question is about the library's subject ("" if it is not), so that only the subject's
        documents may answer it; another page's sentence that happens to match "Is it contagious?" is about
        something else. Not when it names another page's subject (`other_subject`, or `other` when known)."""
        if not self.documents or (self.other_subject(query) if other is None else other):
            return ""
        if self._topic and self._topic <= query.terms.keys():
            return "names the subject"
        if self._refers.search(query.folded or fold(query.message)):
            return "refers to the subject"
        # Not "uses only the subject's words": their vocabulary is large ("What is Down syndrome?" would
        # never reach the Down syndrome pages).
        return ""

    def run(self, query: Query) -> FocusDecision:
        if not isinstance(query, Query):
            raise TypeError(f"SubjectFocus.run takes a Query, not {type(query).__name__}")
        if not self.documents:
            return FocusDecision()
        other = self.other_subject(query)
        return FocusDecision(self.documents, self.about_subject(query, other), other,
                             0.0 if other else FOCUS_PRIOR)
