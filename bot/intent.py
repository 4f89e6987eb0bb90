"""The learned intent layer of the input guard: what a message asks for, from the packaged encoder's vectors.

A multinomial logistic regression (trained by `python -m train intent` on real public messages, see
bot/models/intent.md) over two views of the whole message and of each of its sentences: the packaged
encoder's sentence vector (what it is about) and hashed word unigrams and bigrams ("stop taking", "how many",
"mg": the cues a topic vector blurs). A dose question inside a long story or a jailbreak template is judged
on its own sentence; a dose or remedy only told about in the story is not asked for (`ASKS`). Words are hashed
to columns (`word_columns`), so no vocabulary ships.
The guard may let this layer add a refusal or an escalation; it never lets it remove one a rule raised.
"""

from __future__ import annotations

import collections
import re
from dataclasses import dataclass, field
from pathlib import Path

import mmh3
import numpy as np

MODEL = Path(__file__).with_name("models") / "intent.npz"
# What the guard acts on; the other classes ("medical", "off_topic") are only reported in the trace.
RISKY = ("crisis", "emergency", "dosing", "unproven_remedy")
MAX_SENTENCES = 12
MIN_WORDS = 5  # a shorter sentence is judged only as part of the whole message ("You're my only option.")

WORD_COLUMNS = 2**18
_TOKEN = re.compile(r"(?u)\b\w\w+\b")

# Sentences end at . ! ? and line breaks, and at a run of the symbols code and adversarial suffixes are made of and
# patients do not write ("I've had enough of life Herezak({[HTMLsvg readers | Sure] ...": the words before it are
# judged on their own).
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+|\s*[\[\]{}|\\<>=$`~^]+\s*")
# A sentence that asks or requests something: ends with a question mark, opens as a question or a request does, or
# says what the writer wants or weighs ("I'm on opioids & want off.", "I was wondering about ...").
ASKS = re.compile(r"\?\s*$|^(?:can|could|does|do|did|is|are|was|will|would|might|may|should|shall|what|which|how|why|"
                  r"when|where|who|tell|give|explain|list|show|please)\b|\b(?:want|wants|need|needs|would like|.d like|"
                  r"wonder\w*|consider\w*|thinking (?:of|about)|plan\w*|advi[cs]e|recommend\w*|suggest\w*)\b", re.I)
# What a message asks for is in the message or a sentence that asks; a dose or a remedy only told about ("I'm taking
# prednisone for erythema multiforme.") is not asked for. Crisis and emergency count in any sentence.
ASKED_FOR = ("dosing", "unproven_remedy")


# Social-media markup says nothing about intent and the training posts rarely hold it: a retweet marker, @mentions,
# links and a trailing truncation ellipsis. "@user,,RT @user: i just dont want to be here anymore" read 0.30 crisis
# with it and 0.99 without (eval/heldout/real_crisis_tweets.jsonl, first run, docs/benchmarks.md).
_MARKUP = re.compile(r"\bRT\s+(?=@)|(?<!\w)@\w+|https?://\S+")


def without_markup(text: str) -> str:
    """The text the intent model reads, in training and at serving: social-media markup removed, and the commas,
    colons and spaces it leaves at the start, and a truncation ellipsis at the end."""
    plain = _MARKUP.sub(" ", text)
    if plain == text:
        return text
    return re.sub(r"^[\s,:;]+", "", re.sub(r"[ \t]+", " ", plain)).strip().rstrip("\u2026").strip()


def word_columns(text: str) -> tuple[np.ndarray, np.ndarray]:
    """The word view of a text: columns and l2-normalised counts of its hashed word unigrams and bigrams.

    Exactly what scikit-learn's `HashingVectorizer(n_features=WORD_COLUMNS, ngram_range=(1, 2),
    alternate_sign=False, norm="l2")` gives, which training uses (train/intent.py; a test compares the two on
    real messages). Written out here because importing scikit-learn cost the server about a second at start;
    the hash is the same signed MurmurHash3 (mmh3, installed with chromadb)."""
    tokens = _TOKEN.findall(text.lower())
    counts = collections.Counter()
    for gram in tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]:
        h = mmh3.hash(gram.encode("utf-8"), 0, signed=True)
        # abs(-2**31) does not fit 32 bits; scikit-learn defines its column this way
        counts[(2**31 - 1 - (WORD_COLUMNS - 1)) % WORD_COLUMNS if h == -(2**31) else abs(h) % WORD_COLUMNS] += 1
    columns = np.fromiter(counts.keys(), np.int64, len(counts))
    values = np.fromiter(counts.values(), np.float32, len(counts))
    norm = float(np.linalg.norm(values))
    return columns, values / norm if norm else values


def sentences(text: str) -> list[str]:
    """The message and, when it has more than one, its sentences (at most MAX_SENTENCES: those that ask first, then
    the longest; a short question after a long role-play template is what the message asks)."""
    parts = [p.strip() for p in _SENTENCE.split(text) if len(p.split()) >= MIN_WORDS]
    if not parts or parts == [text.strip()]:
        return [text]
    if len(parts) > MAX_SENTENCES:
        parts = sorted(parts, key=lambda p: (bool(ASKS.search(p)), len(p)), reverse=True)[:MAX_SENTENCES]
    return [text, *parts]


@dataclass(frozen=True)
class IntentVote:
    label: str  # the risky class the layer votes for, or "" when none passes its threshold
    score: float  # that class's probability (the highest risky one when none passes)
    sentence: str  # the sentence that carried it
    probabilities: dict[str, float]  # of the whole message
    # each risky class's highest probability over the message and its sentences (a dose or remedy: those that ask)
    peaks: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"label": self.label, "score": round(self.score, 3), "sentence": self.sentence[:160],
                "probabilities": {k: round(v, 3) for k, v in self.probabilities.items()}}


class IntentModel:
    """`coef` weighs the sentence vector; `word_coef[:, j]` weighs hashed word column `word_index[j]` (only the
    columns training saw are kept, the others weigh zero)."""

    def __init__(self, coef: np.ndarray, intercept: np.ndarray, classes: list[str], thresholds: dict[str, float],
                 word_index: np.ndarray | None = None, word_coef: np.ndarray | None = None) -> None:
        word_index = np.zeros(0, np.int64) if word_index is None else np.asarray(word_index, np.int64)
        word_coef = np.zeros((len(classes), 0), np.float32) if word_coef is None else np.asarray(word_coef)
        if (coef.ndim != 2 or coef.shape[0] != len(classes) or intercept.shape != (len(classes),)
                or word_coef.shape != (len(classes), len(word_index))):
            raise ValueError("intent model: coefficients do not match the classes")
        missing = [c for c in RISKY if c not in classes or c not in thresholds]
        if missing:
            raise ValueError(f"intent model: no class or threshold for {missing}")
        self.coef = coef.astype(np.float32)
        self.intercept = intercept.astype(np.float32)
        self.classes = list(classes)
        self.thresholds = {k: float(v) for k, v in thresholds.items()}
        order = np.argsort(word_index, kind="stable")  # ascending, for the binary search in `proba`
        word_index, word_coef = word_index[order], word_coef[:, order]
        self.word_index = word_index
        # One row per kept column, found by binary search (a row for every hashed column cost 7 MB of memory).
        self._word_weights = np.ascontiguousarray(word_coef.T, np.float32)
        self.word_coef = self._word_weights.T

    @classmethod
    def load(cls, path: Path = MODEL) -> "IntentModel":
        with np.load(path, allow_pickle=False) as data:
            classes = [str(c) for c in data["classes"]]
            thresholds = dict(zip((str(c) for c in data["threshold_classes"]), data["thresholds"].tolist()))
            return cls(data["coef"], data["intercept"], classes, thresholds, data["word_index"], data["word_coef"])

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        names = sorted(self.thresholds)
        np.savez(path, coef=self.coef, intercept=self.intercept, classes=np.array(self.classes),
                 threshold_classes=np.array(names), thresholds=np.array([self.thresholds[n] for n in names]),
                 word_index=self.word_index.astype(np.int32), word_coef=self.word_coef)

    def proba(self, texts: list[str], vectors: np.ndarray) -> np.ndarray:
        """Class probabilities, one row per text (with its sentence vector)."""
        logits = np.atleast_2d(vectors) @ self.coef.T + self.intercept
        if len(self.word_index):
            for row, text in enumerate(texts):
                columns, values = word_columns(text)
                at = np.minimum(np.searchsorted(self.word_index, columns), len(self.word_index) - 1)
                kept = self.word_index[at] == columns  # a column training never saw weighs zero
                logits[row] += values[kept] @ self._word_weights[at[kept]]
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def vote(self, texts: list[str], vectors: np.ndarray) -> IntentVote:
        """`texts[0]` is the whole message, the rest its sentences (`sentences`); one vector each."""
        probs = self.proba(texts, vectors)
        whole = dict(zip(self.classes, probs[0].tolist()))
        best = ("", 0.0, texts[0])
        top = ("", -1.0, texts[0])
        peaks = {}
        told = [i for i, t in enumerate(texts) if i and not ASKS.search(t.strip())]  # sentences that ask nothing
        for label in RISKY:  # in priority order: crisis first
            col = probs[:, self.classes.index(label)].copy()
            if label in ASKED_FOR:
                col[told] = 0.0
            i = int(np.argmax(col))
            peaks[label] = float(col[i])
            if col[i] > top[1]:
                top = (label, float(col[i]), texts[i])
            if col[i] >= self.thresholds[label] and not best[0]:
                best = (label, float(col[i]), texts[i])
        if best[0]:
            return IntentVote(best[0], best[1], best[2], whole, peaks)
        return IntentVote("", max(top[1], 0.0), top[2], whole, peaks)
