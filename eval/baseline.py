"""The comparison point: the common LangChain tutorial build, measured on the same items.

RecursiveCharacterTextSplitter(1000, 200) over the raw corpus files, an in-memory Chroma, the same MiniLM
embeddings, top-4 similarity search on the patient's message, no guardrails and no tagging. It retrieves
only (no chat model): its top-4 context is what a tutorial bot would hand the model to answer from, so we
measure (a) whether that context could have answered, and (b) whether it carried dosing or remedy text
on the questions we must refuse.

The tutorial has no conversation memory, so it searches with the last turn alone; follow-up items show
what condensing the conversation buys.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from tqdm import tqdm

from . import metrics as m
from .validation import Item

CHUNK_SIZE, CHUNK_OVERLAP, TOP_K = 1000, 200, 4


@dataclass(frozen=True)
class BaselineResult:
    id: str
    query: str
    chunks: tuple[tuple[str, str], ...]  # (source, text) of the top-k
    hit: bool | None  # answer-only items: could the context have answered (retrieval hit)
    unsafe_context: tuple[str, ...]  # refusal items: what unsafe text the context carried ("dosing", …)

    def to_dict(self) -> dict:
        return {"id": self.id, "query": self.query, "hit": self.hit, "unsafe_context": list(self.unsafe_context),
                "chunks": [{"source": s, "text": t} for s, t in self.chunks]}


class TutorialRetriever:
    """Split → embed → Chroma → similarity_search(k=4), as the tutorials write it."""

    def __init__(self, corpus_dir: Path, embeddings=None, k: int = TOP_K) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from langchain_chroma import Chroma
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        from ingest.embeddings import SentenceTransformerEmbeddings
        from ingest.settings import IndexSettings

        self.k = k
        # Embeddings passed explicitly: without them Chroma would fall back to its default embedding
        # function, which downloads an ONNX model at run time.
        self.embeddings = embeddings or SentenceTransformerEmbeddings(IndexSettings().model_path)
        texts, metadatas = corpus_texts(corpus_dir)
        splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
        self.documents = splitter.create_documents(texts, metadatas=metadatas)
        client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
        # a fresh name: ephemeral clients in one process share their in-memory store
        self.store = Chroma(collection_name=f"baseline-{uuid.uuid4().hex[:8]}", client=client,
                            embedding_function=self.embeddings)
        self.store.add_documents(self.documents)

    def retrieve(self, query: str) -> list[tuple[str, str]]:
        return [(d.metadata.get("source", ""), d.page_content) for d in self.store.similarity_search(query, k=self.k)]

    def close(self) -> None:
        self.store.delete_collection()


def corpus_texts(corpus_dir: Path) -> tuple[list[str], list[dict]]:
    """Every corpus file as ingest reads it (the raw text for .txt/.md), uncleaned, with its source name."""
    from ingest.documents import SkipFile, load_document, read_manifest
    from ingest.pipeline import discover

    texts, metadatas = [], []
    for path, source in discover([corpus_dir], corpus_dir):
        try:
            doc = load_document(path, source, read_manifest(path.parent))
        except (SkipFile, OSError):
            continue  # ingest skips these too
        texts.append(doc.text)
        metadatas.append({"source": source})
    return texts, metadatas


def unsafe_context(chunks: Sequence[tuple[str, str]], find_doses: Callable[[str], list[str]],
                   tags_for_text: Callable[[str], set[str]]) -> tuple[str, ...]:
    """Which kinds of unsafe text a context carries: a written-out dose, or text the safety tagger tags."""
    found: set[str] = set()
    for _, text in chunks:
        if find_doses(text):
            found.add("dosing")
        found |= tags_for_text(text)
    return tuple(sorted(found))


def run_baseline(items: Sequence[Item], retriever: TutorialRetriever, find_doses, tags_for_text,
                 progress: bool = True) -> list[BaselineResult]:
    """Answer-only items (for the retrieval hit) and refusal items (for unsafe context)."""
    results = []
    wanted = [i for i in items if i.expects_answer_only or "refusal" in i.expect]
    for item in tqdm(wanted, desc="baseline", unit="item", disable=not progress):
        query = item.turns[-1]
        chunks = tuple(retriever.retrieve(query))
        hit = m.retrieval_hit(chunks, item.sources, item.quote_any) if item.expects_answer_only else None
        unsafe = unsafe_context(chunks, find_doses, tags_for_text) if "refusal" in item.expect else ()
        results.append(BaselineResult(item.id, query, chunks, hit, unsafe))
    return results


def side_by_side(results: Sequence[BaselineResult], rows: Sequence[dict], items: Sequence[Item]) -> dict:
    """The comparison table: the baseline's context vs what our bot gave the patient, on the same items."""
    by_id = {r["id"]: r for r in rows}
    refusal_ids = {i.id for i in items if "refusal" in i.expect}
    answer = [r for r in results if r.hit is not None]
    refusal = [r for r in results if r.id in refusal_ids]
    ours_answer = [by_id[r.id]["checks"]["grounded"] for r in answer if r.id in by_id]
    ours_refusal = [bool(by_id[r.id]["leaks"]) for r in refusal if r.id in by_id]
    table = {
        "answer_hit": {
            "label": "answer items: baseline top-4 retrieval hit vs our grounded hit",
            "baseline": m.Rate(sum(bool(r.hit) for r in answer), len(answer)).to_dict(),
            "ours": m.Rate(sum(bool(v) for v in ours_answer), len(ours_answer)).to_dict(),
        },
        "refusal_unsafe": {
            "label": "refusal items: baseline context with dosing or remedy text vs our replies that leak",
            "baseline": m.Rate(sum(bool(r.unsafe_context) for r in refusal), len(refusal)).to_dict(),
            "ours": m.Rate(sum(ours_refusal), len(ours_refusal)).to_dict(),
        },
    }
    for tag in ("dosing", "unproven_remedy"):
        table[f"refusal_unsafe.{tag}"] = {
            "label": f"refusal items: baseline context with {tag} text",
            "baseline": m.Rate(sum(tag in r.unsafe_context for r in refusal), len(refusal)).to_dict(),
            "ours": None,
        }
    return {"settings": {"chunk_size": CHUNK_SIZE, "chunk_overlap": CHUNK_OVERLAP, "k": TOP_K,
                         "query": "last turn"},
            "table": table}
