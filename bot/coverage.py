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

One of its numbers comes from a bank of lay questions labelled against the library's own documents
(`QuestionBank`, train/labels/library_questions.jsonl): how much closer the question is to the nearest one they
answer than to the nearest one they don't (a margin: a question far from both, a short "Does it affect the
kidneys?", is neither). MiniLM was trained on question paraphrases, so question-to-question similarity
reads *what is asked* ("am I allowed to drive?" after naming a symptom) where question-to-passage similarity sees
the shared topic. The labels hold for the documents they were written against only: when the best passages come
from other documents the margin is unknown, and the model reads it as its training mean.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Container, Mapping

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
    "nearest_margin",  # how much closer the nearest bank question they answer is than the nearest they don't
)


def feature_vector(values: Mapping[str, float], unknown: np.ndarray | None = None) -> np.ndarray:
    """The features in order; one that `values` lacks takes its value from `unknown` (the model's training means)."""
    return np.array([float(values[name]) if name in values or unknown is None else float(unknown[i])
                     for i, name in enumerate(FEATURES)], dtype=np.float32)


@dataclass(frozen=True)
class QuestionBank:
    """Questions labelled answered or not against a library's documents, with their encoder vectors."""

    vectors: np.ndarray  # (n, d), normalised like the question vectors the selector gets
    answered: np.ndarray  # (n,) bool
    texts: tuple[str, ...]
    authors: tuple[str, ...]  # who wrote each: training leaves the question's own author out
    documents: frozenset[str]  # the library documents (passage sources) the labels were written against
    answers: tuple[str, ...] = ()  # per question: phrases of the sentence that answers it, one per line ("" if none)
    near: float = 1.0  # from this similarity on, the nearest answered question's answer is quoted first (trained)

    def nearest(self, vector: np.ndarray, documents: set[str], library: Container[str], leave_out: str = "") -> dict:
        """`nearest_answered` / `nearest_unanswered` (similarity), the two questions (`..._question`) and
        `nearest_margin` (the first similarity less the second), for evidence read from `documents` of a `library`
        (its documents' names). {} unless the evidence comes from documents the labels were written against, all
        of which the library holds (without one of them, a question labelled answered may not be)."""
        if not documents or not documents <= self.documents or not self.holds(library):
            return {}
        bank = self.without(leave_out) if leave_out else self
        sims = bank.vectors @ np.asarray(vector, np.float32)
        out: dict = {}
        for key, mask in (("nearest_answered", bank.answered), ("nearest_unanswered", ~bank.answered)):
            if not mask.any():
                return {}
            i = int(np.argmax(np.where(mask, sims, -np.inf)))
            out[key], out[key + "_question"] = round(float(sims[i]), 4), bank.texts[i]
        out["nearest_margin"] = round(out["nearest_answered"] - out["nearest_unanswered"], 4)
        return out

    def holds(self, library: Container[str]) -> bool:
        """Whether the library holds every document the labels were written against."""
        return bool(self.documents) and all(d in library for d in self.documents)

    def nearest_answer(self, vector: np.ndarray) -> tuple[int, float] | None:
        """The answered question with answer phrases nearest to `vector`, and its similarity, when at least `near`."""
        if not self._with_answers.any():
            return None
        sims = self.vectors @ np.asarray(vector, np.float32)
        i = int(np.argmax(np.where(self._with_answers, sims, -np.inf)))
        return (i, float(sims[i])) if sims[i] >= self.near else None

    @cached_property
    def _with_answers(self) -> np.ndarray:
        """Which questions are answered and say by which sentence (computed once: read for every question asked)."""
        return self.answered & np.array([bool(a) for a in self.answers] if self.answers else [False] * len(self.texts), bool)

    def without(self, author: str) -> "QuestionBank":
        """The bank less one author's questions (training reads each question as a new author's)."""
        keep = [i for i, a in enumerate(self.authors) if a != author]
        return dataclasses.replace(self, vectors=self.vectors[keep], answered=self.answered[keep],
                                   texts=tuple(self.texts[i] for i in keep), authors=tuple(self.authors[i] for i in keep),
                                   answers=tuple(self.answers[i] for i in keep) if self.answers else ())

    def arrays(self) -> dict[str, np.ndarray]:
        return {"bank_vectors": self.vectors.astype(np.float32), "bank_answered": self.answered.astype(bool),
                "bank_texts": np.array(self.texts), "bank_authors": np.array(self.authors),
                "bank_documents": np.array(sorted(self.documents)), "bank_answers": np.array(self.answers),
                "bank_near": np.array(self.near)}

    @classmethod
    def from_arrays(cls, d: Mapping[str, np.ndarray]) -> "QuestionBank":
        return cls(np.asarray(d["bank_vectors"], np.float32), np.asarray(d["bank_answered"], bool),
                   tuple(str(t) for t in d["bank_texts"]), tuple(str(a) for a in d["bank_authors"]),
                   frozenset(str(x) for x in d["bank_documents"]),
                   tuple(str(a) for a in d["bank_answers"]) if "bank_answers" in d else (),
                   float(d["bank_near"]) if "bank_near" in d else 1.0)


class CoverageModel:
    def __init__(self, coef: np.ndarray, intercept: float, mean: np.ndarray, scale: np.ndarray, threshold: float,
                 bank: QuestionBank | None, features: tuple[str, ...] = FEATURES) -> None:
        if tuple(features) != FEATURES:
            raise ValueError(f"coverage model: trained on features {list(features)}, this code computes {list(FEATURES)}")
        if not (coef.shape == mean.shape == scale.shape == (len(FEATURES),)):
            raise ValueError("coverage model: weights do not match the features")
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"coverage model: threshold {threshold} outside (0, 1)")
        if bank is None:
            raise ValueError("coverage model: no question bank in the weights")
        self.coef, self.mean, self.scale = (np.asarray(a, np.float32) for a in (coef, mean, scale))
        self.intercept, self.threshold = float(intercept), float(threshold)
        self.bank = bank

    @classmethod
    def load(cls, path: Path = MODEL) -> "CoverageModel":
        with np.load(path, allow_pickle=False) as d:
            return cls(d["coef"], float(d["intercept"]), d["mean"], d["scale"], float(d["threshold"]),
                       QuestionBank.from_arrays(d) if "bank_vectors" in d else None, tuple(str(f) for f in d["features"]))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, coef=self.coef, intercept=np.array(self.intercept), mean=self.mean, scale=self.scale,
                 threshold=np.array(self.threshold), features=np.array(FEATURES), **self.bank.arrays())

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """One probability per row of feature vectors (`feature_vector`)."""
        z = ((np.atleast_2d(x) - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def probability(self, values: Mapping[str, float]) -> float:
        """Probability that the documents answer the question, from the selector's evidence (with the bank's
        margin, `QuestionBank.nearest`, or without it when the bank has none for these documents)."""
        return float(self.probabilities(feature_vector(values, self.mean))[0])
