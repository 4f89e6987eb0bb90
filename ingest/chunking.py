"""Chunks: section-aware groups of passages, the heading path prepended, never longer than the model's limit.

Tagged passages never share a chunk with untagged ones, so retrieval can filter blocked chunks out by a
metadata flag without losing the safe passages next to them (the drug table mixes both line by line).
Hand-written because LangChain's splitters work on raw text and lose passage boundaries and offsets.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable

from .documents import Document
from .structure import Passage

CHUNKER_VERSION = "1"


@dataclass(frozen=True)
class Chunk:
    id: str
    source: str
    ordinal: int
    text: str  # what is embedded and keyword-indexed: heading path + passages
    section: tuple[str, ...]
    passage_ids: tuple[str, ...]
    tags: frozenset[str]

    @property
    def blocked(self) -> bool:
        return bool(self.tags)


def heading_line(doc: Document, section: tuple[str, ...]) -> str:
    return " › ".join((doc.title, *section)) + "\n"


class Chunker:
    def __init__(self, count_tokens: Callable[[list[str]], list[int]], max_tokens: int, model_id: str) -> None:
        self._count = count_tokens
        self.max_tokens = max_tokens
        self._model_id = model_id

    def chunk(self, doc: Document, passages: list[Passage]) -> list[Chunk]:
        groups: list[tuple[tuple[str, ...], frozenset[str], list[Passage]]] = []
        for p in passages:
            if groups and groups[-1][0] == p.section and groups[-1][1] == p.tags:
                groups[-1][2].append(p)
            else:
                groups.append((p.section, p.tags, [p]))
        chunks: list[Chunk] = []
        for section, tags, members in groups:
            head = heading_line(doc, section)
            budget = self.max_tokens - self._count([head])[0]
            sizes = self._count([p.text for p in members])
            batch: list[Passage] = []
            used = 0
            for p, size in zip(members, sizes):
                size -= 1  # each count includes [CLS] and [SEP]; the head already paid for them once
                if batch and used + size > budget:
                    chunks.append(self._make(doc, head, section, tags, batch, len(chunks)))
                    batch, used = [], 0
                if size > budget:  # a single passage too long for the model: window over its words
                    chunks.extend(self._windows(doc, head, section, tags, p, budget, len(chunks)))
                    continue
                batch.append(p)
                used += size
            if batch:
                chunks.append(self._make(doc, head, section, tags, batch, len(chunks)))
        return chunks

    def _make(self, doc, head, section, tags, batch, ordinal, text=None) -> Chunk:
        text = text or head + " ".join(p.text for p in batch)
        ids = tuple(p.id for p in batch)
        digest = hashlib.sha256("\0".join((self._model_id, CHUNKER_VERSION, doc.source, text, *ids)).encode())
        return Chunk(digest.hexdigest()[:32], doc.source, ordinal, text, section, ids, tags)

    def _windows(self, doc, head, section, tags, passage, budget, ordinal):
        words = passage.text.split()
        out, start = [], 0
        step = max(8, int(budget * 0.6))  # word pieces per word is ~1.3 for English prose
        while start < len(words):
            n = step
            while n > 4 and self._count([head + " ".join(words[start : start + n])])[0] > self.max_tokens:
                n = int(n * 0.8)
            out.append(self._make(doc, head, section, tags, [passage], ordinal + len(out), head + " ".join(words[start : start + n])))
            start += n
        return out
