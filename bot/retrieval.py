"""Hybrid retrieval: dense (Chroma) and keyword (bm25s) over the same chunks, fused by reciprocal rank.

Reciprocal rank fusion needs no score calibration between the two retrievers, which matters here: BM25
scores depend on the corpus size and cosine similarities on the model. Blocked chunks (dosing, remedies)
are excluded by both retrievers, and any chunk the catalogue does not list is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import VectorStore
from pydantic import ConfigDict

from ingest.structure import heading_path
from ingest.text import analyze


@dataclass(frozen=True)
class Candidate:
    """A retrieved chunk with its scores: cosine (dense) and BM25 (keyword), each with its rank when that
    retriever found it, and their reciprocal-rank fusion, by which candidates are ordered."""

    chunk_id: str
    source: str
    section: tuple[str, ...]
    dense: float
    keyword: float
    fused: float
    dense_rank: int | None = None
    keyword_rank: int | None = None

    @classmethod
    def from_document(cls, doc: Document, section: tuple[str, ...] = ()) -> "Candidate":
        m = doc.metadata
        return cls(m["chunk_id"], m["source"], tuple(section), m["dense"], m["keyword"], m["fused"],
                   m.get("dense_rank"), m.get("keyword_rank"))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"chunk_id": self.chunk_id, "source": self.source, "dense": self.dense,
                               "keyword": self.keyword, "fused": self.fused}
        if self.dense_rank is not None:
            out["dense_rank"] = self.dense_rank
        if self.keyword_rank is not None:
            out["keyword_rank"] = self.keyword_rank
        out["section"] = heading_path(self.section)
        return out


class HybridRetriever(BaseRetriever):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    vectorstore: VectorStore
    library: Any  # bot.library.Library
    k: int = 6
    k_dense: int = 16
    k_keyword: int = 16
    rrf_k: int = 60

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        embedding: list[float] | None = None,
        terms: list[str] | None = None,
        sources: list[str] | None = None,
    ) -> list[Document]:
        """`sources`: search these documents only (the documents about the library's subject, see
        `merge_ranked`), in memory; blocked chunks never come back either way."""
        chunks = self.library.chunks
        vector = embedding if embedding is not None else self.vectorstore.embeddings.embed_query(query)
        if sources is None:
            dense_ranked = self._dense(vector)
            only = None
        else:
            dense_ranked = self.library.nearest_chunks(np.asarray(vector, dtype=np.float32), tuple(sorted(sources)), self.k_dense)
            only = self.library.keyword_mask(tuple(sorted(sources)))
        keyword_ranked = self.library.keyword.search(terms if terms is not None else analyze(query), self.k_keyword, only)
        keyword_ranked = [(cid, s) for cid, s in keyword_ranked if cid in chunks and not chunks[cid].blocked]

        fused: dict[str, dict[str, float]] = {}
        for name, ranked in (("dense", dense_ranked), ("keyword", keyword_ranked)):
            for rank, (cid, score) in enumerate(ranked):
                entry = fused.setdefault(cid, {"dense": 0.0, "keyword": 0.0, "fused": 0.0})
                entry[name] = round(score, 4)
                entry[f"{name}_rank"] = rank + 1
                entry["fused"] += 1.0 / (self.rrf_k + rank + 1)
        best = sorted(fused.items(), key=lambda kv: -kv[1]["fused"])[: self.k]
        return [
            Document(page_content=chunks[cid].text, id=cid, metadata={"chunk_id": cid, "source": chunks[cid].source, **s})
            for cid, s in best
        ]

    def _dense(self, vector: list[float]) -> list[tuple[str, float]]:
        """The nearest unblocked chunks. Blocked chunks are dropped here rather than by a Chroma `where`
        filter: on 29,000 chunks the filter made each search 30x slower (129 ms against 4 ms,
        docs/benchmarks.md), so the search asks for more and widens until enough unblocked ones remain."""
        chunks = self.library.chunks
        n = 2 * self.k_dense
        while True:
            found = self.vectorstore.similarity_search_by_vector_with_relevance_scores(list(map(float, vector)), k=n)
            ranked = [(d.id, 1.0 - float(dist)) for d, dist in found if d.id in chunks and not chunks[d.id].blocked]
            if len(ranked) >= self.k_dense or len(found) < n:
                return ranked[: self.k_dense]
            n *= 4


def merge_ranked(*results: list[Document]) -> list[Document]:
    """Candidates of several searches (the whole library; the documents about its subject on their own):
    a chunk keeps its best fused score, so among the subject's documents it ranks as in a library of their
    own, however many other documents outrank it in the whole library."""
    best: dict[str, Document] = {}
    for docs in results:
        for d in docs:
            if d.id not in best or d.metadata["fused"] > best[d.id].metadata["fused"]:
                best[d.id] = d
    return sorted(best.values(), key=lambda d: -d.metadata["fused"])
