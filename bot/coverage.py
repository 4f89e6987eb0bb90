"""The learned coverage check: do the documents answer this question at all, judged from the evidence the
selector gathered (bot/models/coverage.md, trained by `python -m train coverage`).

A logistic regression over a few numbers that say how well the best passages match the question (meaning
similarity, shares of its weighted words, words the documents of the best passages never use, the learned
answerability score),
trained on real consumer questions the bundled documents do not cover (thousands, from the training pool)
against questions they do answer. The hand-set evidence thresholds let a third of real consumer questions be
answered with unrelated sentences ("Why is my stomach shivering?" -> a flushing symptom); this model learns
where "matches a word or two" ends and "answers" begins from real questions. It can only add an abstention:
the rules' abstentions stand. Numpy only at serving.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

MODEL = Path(__file__).with_name("models") / "coverage.npz"
# Evidence only, never the ranking's own score (its weights, boosts and head starts are the library's business:
# with a subject focus the first-ranked passage is not the best-matching one).
FEATURES = (
    "best_cosine",  # the best passage's meaning similarity to the question
    "best_lexical",  # the best share of the question's weighted words a passage (or its headings) contains
    "content_lexical",  # the same without the library's topic words, among the best 8 passages
    "top_answerability",  # the learned answerability score, best of the first 8
    "unknown_words",  # question words the documents of the best 8 passages never use (capped at 3)
    "question_words",  # the question's weighted words (capped at 8)
)


def feature_vector(values: Mapping[str, float]) -> np.ndarray:
    return np.array([float(values[name]) for name in FEATURES], dtype=np.float32)


class CoverageModel:
    def __init__(self, coef: np.ndarray, intercept: float, mean: np.ndarray, scale: np.ndarray, threshold: float,
                 features: tuple[str, ...] = FEATURES) -> None:
        if tuple(features) != FEATURES:
            raise ValueError(f"coverage model: trained on features {list(features)}, this code computes {list(FEATURES)}")
        if not (coef.shape == mean.shape == scale.shape == (len(FEATURES),)):
            raise ValueError("coverage model: weights do not match the features")
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"coverage model: threshold {threshold} outside (0, 1)")
        self.coef, self.mean, self.scale = (np.asarray(a, np.float32) for a in (coef, mean, scale))
        self.intercept, self.threshold = float(intercept), float(threshold)

    @classmethod
    def load(cls, path: Path = MODEL) -> "CoverageModel":
        with np.load(path, allow_pickle=False) as d:
            return cls(d["coef"], float(d["intercept"]), d["mean"], d["scale"], float(d["threshold"]),
                       tuple(str(f) for f in d["features"]))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, coef=self.coef, intercept=np.array(self.intercept), mean=self.mean, scale=self.scale,
                 threshold=np.array(self.threshold), features=np.array(FEATURES))

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """One probability per row of feature vectors (`feature_vector`)."""
        z = ((np.atleast_2d(x) - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def probability(self, values: Mapping[str, float]) -> float:
        """Probability that the documents answer the question, from the selector's evidence."""
        return float(self.probabilities(feature_vector(values))[0])
