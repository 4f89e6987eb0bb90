"""The learned answerability scorer: how well a passage answers a question (bot/models/answerability.md).

A small MLP (trained by `python -m train answerability` on MedQuAD question–answer pairs with hard negatives:
the same page's answer to another question type, the same question type about another disorder, passages that
mention the disorder only in passing) over features of the packaged encoder's vectors, which retrieval has
already computed, plus two word-overlap shares. Numpy only at serving: ~1 ms for a hundred candidates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

MODEL = Path(__file__).with_name("models") / "answerability.npz"


def overlap(weights: Mapping[str, float], terms: frozenset[str] | set[str]) -> float:
    """Share of the question's weighted content words that `terms` contains (0 when it has none)."""
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in terms) / total if total else 0.0


def features(question: np.ndarray, passages: np.ndarray, lexical: np.ndarray) -> np.ndarray:
    """One row per passage: [q·p elementwise, |q−p|, cosine, overlap with the text, with the headings].

    Only how question and passage relate, not where either lies in the embedding space: the raw vectors
    let a model learn MedQuAD's own regions, which do not transfer to other libraries (validation vs the
    bundled corpus, bot/models/answerability.md). `question` (d,), `passages` (n, d) normalised; `lexical` (n, 2)."""
    prod = passages * question
    return np.hstack([prod, np.abs(passages - question), prod.sum(1, keepdims=True), lexical]).astype(np.float32)


class AnswerabilityModel:
    def __init__(self, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray, threshold: float,
                 mean: np.ndarray, scale: np.ndarray) -> None:
        if w1.shape[1] != b1.shape[0] or w2.shape[0] != b1.shape[0] or mean.shape[0] != w1.shape[0]:
            raise ValueError("answerability model: layer shapes do not fit")
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"answerability model: threshold {threshold} outside (0, 1)")
        self.w1, self.b1 = w1.astype(np.float32), b1.astype(np.float32)
        self.w2, self.b2 = w2.astype(np.float32).reshape(-1), float(np.asarray(b2).reshape(-1)[0])
        self.mean, self.scale = mean.astype(np.float32), scale.astype(np.float32)
        self.threshold = float(threshold)

    @classmethod
    def load(cls, path: Path = MODEL) -> "AnswerabilityModel":
        with np.load(path, allow_pickle=False) as d:
            return cls(d["w1"], d["b1"], d["w2"], d["b2"], float(d["threshold"]), d["mean"], d["scale"])

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, w1=self.w1, b1=self.b1, w2=self.w2, b2=np.array([self.b2]), threshold=np.array(self.threshold),
                 mean=self.mean, scale=self.scale)

    def score_features(self, x: np.ndarray) -> np.ndarray:
        h = np.maximum((x - self.mean) / self.scale @ self.w1 + self.b1, 0.0)
        return 1.0 / (1.0 + np.exp(-(h @ self.w2 + self.b2)))

    def score(self, question: np.ndarray, passages: np.ndarray, lexical: np.ndarray) -> np.ndarray:
        """Probability that each passage answers the question."""
        if passages.shape[0] == 0:
            return np.zeros(0, dtype=np.float32)
        return self.score_features(features(question, passages, lexical))
