"""The keyword index: bm25s over the same chunk ids as the vectors.

Nothing is saved: every reader builds it in memory from the catalogue's chunks of the version it loads
(`bot.library.Library`). So workers on several hosts, each with its own data dir, search the very same index
(built from the same rows in the same order), it can never disagree with the catalogue, and a flip needs no
files. Building it is cheap next to loading the rest of a version (docs/benchmarks.md, "Keyword index": 0.3 s
for 3,285 chunks on one core).
"""

from __future__ import annotations

import logging
from collections.abc import Collection

import bm25s
import numpy as np

from .chunking import Chunk
from .text import analyze

# bm25s sets its own logger to DEBUG, so "Building index from tokens" reached every ingest's output.
logging.getLogger("bm25s").setLevel(logging.WARNING)


class KeywordIndex:
    def __init__(self, retriever: bm25s.BM25, ids: list[str], blocked: np.ndarray) -> None:
        self._bm25 = retriever
        self.ids = ids
        self._allowed = (~blocked).astype(np.float32)  # weight mask: blocked chunks never come back

    def mask(self, chunk_ids: Collection[str]) -> np.ndarray:
        return np.fromiter((i in chunk_ids for i in self.ids), dtype=np.float32, count=len(self.ids))

    @classmethod
    def build(cls, chunks: list[Chunk]) -> "KeywordIndex":
        retriever = bm25s.BM25()
        # create_empty_token keeps ids aligned even when a chunk has no content words
        retriever.index([analyze(c.text) or [""] for c in chunks], show_progress=False)
        return cls(retriever, [c.id for c in chunks], np.array([c.blocked for c in chunks], dtype=bool))

    def search(self, terms: list[str], k: int, only: np.ndarray | None = None) -> list[tuple[str, float]]:
        """Top-k (chunk id, BM25 score) for already analysed query terms; blocked chunks excluded.

        `only`: a mask from `mask()`, to search some chunks only.
        """
        vocab = self._bm25.vocab_dict
        terms = [t for t in terms if t in vocab]
        if not terms or not self.ids:
            return []
        mask = self._allowed if only is None else self._allowed * only
        k = min(k, len(self.ids))
        docs, scores = self._bm25.retrieve([terms], k=k, show_progress=False, weight_mask=mask, n_threads=1)
        return [(self.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]
