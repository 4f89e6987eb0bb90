"""The library as the bot sees it: the catalogue loaded once, the vectors, the keyword index built from it.

One index version, loaded read-only; `python -m ingest` running meanwhile flips a new version in, which a
server picks up by building a new Library (`bot.live`). Vectors the catalogue does not list (a crashed or
running ingest) are ignored.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ingest import index as ix
from ingest.chunking import Chunk
from ingest.embeddings import Encoder
from ingest.keyword import KeywordIndex
from ingest.settings import IndexSettings
from ingest.structure import Passage
from ingest.text import STOPWORDS, analyze, fold, is_verbatim, stem, words


@dataclass(frozen=True)
class TermStats:
    """Inverse document frequency of stems over a set of passages (BM25's idf, passages as documents)."""

    idf: dict[str, float]
    max_idf: float  # of a stem none of the passages has

    def __call__(self, stem: str) -> float:
        return self.idf.get(stem, self.max_idf)

    @cached_property
    def stems(self) -> frozenset[str]:
        """Every stem these passages use."""
        return frozenset(self.idf)


@dataclass(frozen=True)
class DocInfo:
    source: str
    title: str
    last_reviewed: str | None
    publisher: str | None
    text: str


def opening(text: str) -> list[str]:
    """The words of a text as `Library.sentence_openings` compares them: stemmed, without a leading article or a
    possessive ("The final stage", "Cushing's syndrome" and "cushings syndrome" open alike), every other word kept."""
    w = words(text)
    while w and w[0] in ("the", "a", "an"):
        w = w[1:]
    return [stem(re.sub(r"['’]s?$", "", x)) for x in w]


def _vocabulary_words(text: str) -> list[str]:
    """The words of a passage that `Library.vocabulary` counts."""
    return [w for w in words(text) if w not in STOPWORDS and len(w) > 2 and not w.isdigit()]


class Library:
    def __init__(self, settings: IndexSettings, embeddings: Encoder) -> None:
        with ix.Catalogue.from_settings(settings) as catalogue:
            meta, stored, passages, chunks = catalogue.snapshot()  # one version
        if not stored:
            raise ix.EmptyIndexError(
                f"The index under {settings.data_dir} is empty. Build it with: python -m ingest "
                "(or `make run`, which builds it before starting the app)."
            )
        ix.check_model(meta.get("embedding_model"), embeddings.model_id)
        self.documents = {
            s: DocInfo(s, d.title, d.metadata.get("last_reviewed"), d.metadata.get("publisher"), d.text)
            for s, d in stored.items()
        }
        self.version = meta.get("index_version", "0")
        self.passages: dict[str, Passage] = {p.id: p for p in passages}
        self.chunks: dict[str, Chunk] = {c.id: c for c in chunks}
        self.keyword = KeywordIndex.build(chunks)  # in memory, from this version's rows (see ingest.keyword)
        self.collection, self.client = ix.open_collection(settings, embeddings.model_id, create=False,
                                                          name=ix.active_collection(settings, meta))
        self.embeddings = embeddings
        # Lexical statistics over passages (inverse document frequency of stems) for passage scoring.
        self.passage_terms: dict[str, frozenset[str]] = {}
        self.heading_terms: dict[tuple[str, ...], frozenset[str]] = {}
        for pid, p in self.passages.items():
            self.passage_terms[pid] = frozenset(analyze(p.text))
            if p.section not in self.heading_terms:
                self.heading_terms[p.section] = frozenset(analyze(" ".join(p.section)))
        self.terms = self.term_stats(None)
        # every stem each document uses where it may be quoted (text and headings of untagged passages): what
        # "the documents never use this word" reads; a word only a dosing line uses ("per kilogram of weight")
        # is one no answer can quote
        stems: dict[str, set[str]] = {}
        for pid, p in self.passages.items():
            if not p.tags:
                stems.setdefault(p.source, set()).update(self.passage_terms[pid], self.heading_terms[p.section])
        self.source_stems: dict[str, frozenset[str]] = {s: frozenset(v) for s, v in stems.items()}
        self.quotable_stems: frozenset[str] = frozenset().union(*self.source_stems.values())
        self._vectors: dict[str, np.ndarray] = {}
        self._warm_ids: list[str] = []
        self._warm_matrix: np.ndarray | None = None

    # ---- vocabulary (typo tolerance) --------------------------------------------------------------
    @cached_property
    def vocabulary(self) -> dict[str, int]:
        """Words of the documents with their frequency, for correcting misspelled query words."""
        counts: Counter[str] = Counter()
        for p in self.passages.values():
            counts.update(_vocabulary_words(p.text))
        for c in self.chunks.values():  # headings too
            counts.update(w for w in words(" ".join(c.section)) if w not in STOPWORDS and len(w) > 2)
        return dict(counts)

    @cached_property
    def described_terms(self) -> frozenset[str]:
        """Stems of every heading and document title: what the library has a section or a page about."""
        titles = (analyze(d.title) for d in self.documents.values())
        return frozenset().union(*self.heading_terms.values(), *map(frozenset, titles))

    @cached_property
    def documented_words(self) -> frozenset[str]:
        """Words of the documents (`vocabulary`) that a passage a patient may be quoted uses, not only a dosing
        or remedy passage: what the documents describe as care, not what they only list as a folk remedy."""
        tagged: Counter[str] = Counter()
        for p in self.passages.values():
            if p.tags:
                tagged.update(_vocabulary_words(p.text))
        return frozenset(w for w, n in self.vocabulary.items() if n > tagged[w])

    @cached_property
    def documented_stems(self) -> frozenset[str]:
        """The stems of `documented_words`, for a synonym of a question's word ("chemo": "chemotherapy")."""
        return frozenset(t for w in self.documented_words for t in analyze(w))

    @cached_property
    def lists(self) -> tuple[dict[tuple[str, int], Passage], dict[tuple[str, int], list[Passage]]]:
        """Each list's lead-in sentence ("But most often the syndrome appears in the following pathologies:": the
        last passage of the block before it, an untagged statement ending with a colon) and its items, in order, by
        the list's document and block."""
        last: dict[tuple[str, int], Passage] = {}
        items: dict[tuple[str, int], list[Passage]] = {}
        for p in sorted(self.passages.values(), key=lambda p: (p.source, p.start)):
            last[(p.source, p.block)] = p
            if p.kind == "list_item":
                items.setdefault((p.source, p.block), []).append(p)
        leads = {(src, block + 1): p for (src, block), p in last.items()
                 if p.kind == "sentence" and p.text.rstrip().endswith(":") and not p.tags and (src, block + 1) in items}
        return leads, items

    @cached_property
    def sentence_openings(self) -> frozenset[str]:
        """The first one to six words of every passage (`opening`): a name a sentence opens with is what it describes
        ("Cushing's syndrome is hypercorticism caused by ...", "The final stage is the outcome ..."); not a list item
        that opens with a preposition ("in breast cancer;"), nor a name that is all of its clause, a list's first item
        ("Myasthenia gravis, drooping eyelid, diplopia." names myasthenia gravis without saying what it is)."""
        out: set[str] = set()
        for p in self.passages.values():
            w = opening(p.text[:120])
            clause = len(opening(re.split(r"[,;:]", p.text[:120])[0]))  # the words before the first comma
            out.update(" ".join(w[:k]) for k in range(1, min(6, len(w), clause - 1) + 1))
        return frozenset(out)

    @cached_property
    def subject_words(self) -> frozenset[str]:
        """Words of the document titles that everyday English does not use ("paraneoplastic"): a question that
        uses one asks about the library's own subject."""
        return frozenset(w for d in self.documents.values() for w in words(d.title)
                         if len(w) > 4 and w not in self.embeddings.dictionary)

    def technical_words(self, text: str) -> list[str]:
        """Words of the text that the documents use and everyday English does not ("electrosleep")."""
        common = self.embeddings.dictionary
        return [w for w in words(text) if len(w) > 4 and w in self.vocabulary and w not in common]

    @functools.lru_cache(maxsize=4)
    def term_stats(self, sources: tuple[str, ...] | None) -> TermStats:
        """Term statistics over the passages of these documents (None: the whole library).

        A word's weight depends on the documents a passage competes in: "stage" says little in a library
        of cancer pages and much among the pages about paraneoplastic syndrome.
        """
        df: Counter[str] = Counter()
        n = 0
        for pid, p in self.passages.items():
            if sources is None or p.source in sources:
                df.update(self.passage_terms[pid] | self.heading_terms[p.section])
                n += 1
        n = max(1, n)
        return TermStats({t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}, math.log(1 + (n + 0.5) / 0.5))

    # ---- passages ---------------------------------------------------------------------------------
    def eligible(self, passage_id: str) -> bool:
        p = self.passages.get(passage_id)
        return p is not None and not p.tags

    def neighbours(self, chunk: Chunk) -> list[Passage]:
        return [self.passages[pid] for pid in chunk.passage_ids if pid in self.passages]

    def passage_vectors(self, ids: list[str], encode=None) -> np.ndarray:
        """Passage embeddings, computed on first use and kept (small: 384 floats per passage). `encode`: instead
        of the encoder's own, e.g. an `ingest.embeddings.VectorCache` that keeps them across restarts."""
        missing = [i for i in ids if i not in self._vectors]
        if missing:
            vecs = (encode or self.embeddings.encode)([self.context_text(self.passages[i]) for i in missing])
            self._vectors.update(zip(missing, vecs))
        return np.stack([self._vectors[i] for i in ids]) if ids else np.zeros((0, 384), dtype=np.float32)

    def warm(self, limit: int = 20000, encode=None) -> None:
        """Embed every eligible passage up front when the library is small enough (bundled corpus: 0.3 s, or
        read from `encode`'s cache).

        A warm library also searches passages directly (one matrix product), next to the chunk retrieval.
        """
        ids = [pid for pid, p in self.passages.items() if not p.tags]
        if len(ids) <= limit:
            self._warm_ids = ids
            self._warm_matrix = self.passage_vectors(ids, encode)

    @property
    def warm_search(self) -> bool:
        return self._warm_matrix is not None and bool(len(self._warm_ids))

    def sources_about(self, topic: str) -> list[str]:
        """Documents whose title names the topic ("Paraneoplastic Syndromes" is about "paraneoplastic syndrome")."""
        t = fold(topic)
        return [s for s, d in self.documents.items() if t and t in fold(d.title)]

    @functools.lru_cache(maxsize=4)
    def chunk_matrix(self, sources: tuple[str, ...]) -> tuple[list[str], np.ndarray]:
        """The stored vectors of these documents' unblocked chunks, read from Chroma once and kept."""
        ids = [cid for cid, c in self.chunks.items() if c.source in sources and not c.blocked]
        if not ids:
            return [], np.zeros((0, 384), dtype=np.float32)
        got = self.collection.get(ids=ids, include=["embeddings"])
        return list(got["ids"]), np.asarray(got["embeddings"], dtype=np.float32)

    def nearest_chunks(self, vector: np.ndarray, sources: tuple[str, ...], k: int) -> list[tuple[str, float]]:
        """(chunk id, cosine) of these documents' nearest unblocked chunks (vectors are normalised)."""
        ids, matrix = self.chunk_matrix(sources)
        sims = matrix @ vector
        return [(ids[i], float(sims[i])) for i in np.argsort(-sims)[:k]]

    @functools.lru_cache(maxsize=4)
    def keyword_mask(self, sources: tuple[str, ...]) -> np.ndarray:
        """The keyword index restricted to these documents (cached: the focus documents are fixed)."""
        return self.keyword.mask({cid for cid, c in self.chunks.items() if c.source in sources})

    @cached_property
    def eligible_by_source(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for pid, p in self.passages.items():
            if not p.tags:
                out.setdefault(p.source, []).append(pid)
        return out

    def nearest_passages(self, vector: np.ndarray, k: int) -> list[str]:
        if not self.warm_search:
            return []
        sims = self._warm_matrix @ vector
        top = np.argsort(-sims)[:k]
        return [self._warm_ids[i] for i in top]

    def context_text(self, p: Passage) -> str:
        """A passage with the headings that give it meaning ("Carbamazepine › Side effects: Drowsiness…")."""
        return (" › ".join(p.section[-2:]) + ": " if p.section else "") + p.text

    # ---- verification -----------------------------------------------------------------------------
    def verify(self, source: str, start: int, end: int, text: str) -> bool:
        """A quote is verbatim when the source text at start:end equals it (whitespace collapsed)."""
        doc = self.documents.get(source)
        return doc is not None and is_verbatim(doc.text, start, end, text)
