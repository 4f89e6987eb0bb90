"""`python -m train answerability`: the (question, passage) answerability scorer (bot/answerability.py).

Data: MedQuAD question–answer pairs with answer text (../shared/training/medquad_qa.jsonl.gz, 9 NIH
collections), split by focus (the disorder or topic a page is about) into train 70 / validation 15 / locked
test 15, so no disorder is in two splits. Per question:
  positives   the first two content sentences of its answer (a sentence restating the question, and
              boilerplate shared by five or more answers, are left out);
  negatives   (a) sentences the same page gives for other question types (treatment vs symptoms vs cause vs
              inheritance vs outlook ...); (b) sentences of the same question type about another disorder;
              (c) sentences of other pages that name this disorder only in passing; (d) one random sentence.
A quarter of the questions are also asked with the disorder replaced by "it" ("What causes it?"), with only
the (a) and (d) negatives. Passages are embedded like the library's (headings first): half with
"<focus> › <section of its question type>", a quarter with the focus only, a quarter bare.
Features (bot/answerability.features): of the packaged MiniLM's question and passage vectors, their product and
difference and cosine (not the raw vectors: they do not transfer across libraries), idf-weighted word overlap with the text and with the headings.
Model: scikit-learn MLPClassifier (one hidden layer of 128, early stopping), compared on validation with a
logistic regression on the same features and with cosine alone. Threshold: on validation questions asked
against candidates with and without their own answer, the score that maximises the mean of "answered from the
right sentence" and "abstained when the answer is absent".
Use in the product (measured, docs/benchmarks.md): it separates answers well on held-out MedQuAD disorders
but not on the bundled corpus (lay questions, a translated article), so it runs in shadow: every candidate's
score is in the trace and the staff's "why", and it decides nothing yet.
"""

from __future__ import annotations

import collections
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.answerability import AnswerabilityModel, features, overlap
from ingest.text import analyze

from . import pool

FILES = ["medquad_qa"]
MAX_QUESTIONS = {"train": 4200, "val": 700, "test": 700}
HEADINGS = {
    "information": "Overview", "symptoms": "Symptoms", "treatment": "Treatment", "inheritance": "Inheritance",
    "frequency": "How common is it", "genetic changes": "Genetic changes", "causes": "Causes",
    "exams and tests": "Diagnosis", "research": "Research", "outlook": "Outlook", "susceptibility": "Risk factors",
    "considerations": "Living with it", "prevention": "Prevention", "stages": "Stages", "complications": "Complications",
}
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])|\s+-\s+")


@dataclass
class Record:
    question: str
    focus: str
    qtype: str
    sentences: list[str]


@dataclass
class Pair:
    question: str
    passage: str  # the text embedded (headings first)
    sentence: str  # the text the overlap is measured on
    heading: str
    label: int
    qid: int  # question index within its split
    kind: str  # positive | other_type | other_focus | passing | random


def sentences_of(answer: str, question: str) -> list[str]:
    out = []
    for s in _SPLIT.split(" ".join(answer.split())):
        s = s.strip()
        if s.endswith("?") or s.lower() == question.lower() or not 5 <= len(s.split()) <= 60:
            continue
        out.append(s)
    return out


def load_records(folder: Path | None = None) -> list[Record]:
    records = []
    for r in pool.read("medquad_qa", folder):
        if not r.get("answer") or r["qtype"] not in HEADINGS or not r.get("focus"):
            continue
        sents = sentences_of(r["answer"], r["question"])
        if sents:
            records.append(Record(" ".join(r["question"].split()).replace(" ?", "?"), r["focus"].strip(), r["qtype"], sents))
    # boilerplate: a sentence (with its focus masked) that five or more answers share
    def mask(rec: Record, s: str) -> str:
        return re.sub(re.escape(rec.focus), "X", s, flags=re.I).lower()
    counts = collections.Counter(mask(rec, s) for rec in records for s in set(rec.sentences))
    for rec in records:
        rec.sentences = [s for s in rec.sentences if counts[mask(rec, s)] < 5]
    return [rec for rec in records if rec.sentences]


def build_pairs(records: list[Record], rng: random.Random, limit: int) -> tuple[list[Pair], list[Record]]:
    by_focus: dict[str, list[Record]] = collections.defaultdict(list)
    by_type: dict[str, list[Record]] = collections.defaultdict(list)
    for rec in records:
        by_focus[rec.focus.lower()].append(rec)
        by_type[rec.qtype].append(rec)
    chosen = sorted(records, key=lambda r: pool.bucket("q:" + r.question + r.focus))[:limit]
    # sentences naming a focus, for the passing-mention negatives (first word of the focus -> sentences)
    index: dict[str, list[tuple[Record, str]]] = collections.defaultdict(list)
    for rec in records:
        for s in rec.sentences:
            for w in set(re.findall(r"[a-z][a-z-]{4,}", s.lower())):
                index[w].append((rec, s))

    def heading(rec: Record) -> str:
        roll = rng.random()
        if roll < 0.5:
            return f"{rec.focus} › {HEADINGS[rec.qtype]}"
        return rec.focus if roll < 0.75 else ""

    pairs: list[Pair] = []
    for qid, rec in enumerate(chosen):
        as_it = rng.random() < 0.25
        question = re.sub(re.escape(rec.focus), "it", rec.question, flags=re.I) if as_it else rec.question

        def add(other: Record, s: str, label: int, kind: str) -> None:
            h = heading(other)
            pairs.append(Pair(question, (h + ": " if h else "") + s, s, h, label, qid, kind))

        for s in rec.sentences[:2]:
            add(rec, s, 1, "positive")
        others = [o for o in by_focus[rec.focus.lower()] if o.qtype != rec.qtype]
        for o in rng.sample(others, min(3, len(others))):
            add(o, rng.choice(o.sentences), 0, "other_type")
        if not as_it:
            same = [o for o in rng.sample(by_type[rec.qtype], min(8, len(by_type[rec.qtype]))) if o.focus.lower() != rec.focus.lower()]
            for o in same[:2]:
                add(o, o.sentences[0], 0, "other_focus")
            words = re.findall(r"[a-z][a-z-]{4,}", rec.focus.lower())
            if words:
                hits = [(o, s) for o, s in index.get(words[0], []) if o.focus.lower() != rec.focus.lower() and rec.focus.lower() in s.lower()]
                if hits:
                    o, s = rng.choice(hits)
                    add(o, s, 0, "passing")
        o = rng.choice(records)
        if o.focus.lower() != rec.focus.lower():
            add(o, rng.choice(o.sentences), 0, "random")
    return pairs, chosen


class Lexical:
    """idf over the split's sentences (the library uses its own passages' idf at serving)."""

    def __init__(self, texts: list[str]) -> None:
        df = collections.Counter(t for s in set(texts) for t in set(analyze(s)))
        n = max(1, len(set(texts)))
        self.idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self.max_idf = math.log(1 + (n + 0.5) / 0.5)

    def weights(self, question: str) -> dict[str, float]:
        return {t: self.idf.get(t, self.max_idf) for t in analyze(question)}

    def matrix(self, pairs: list[Pair]) -> np.ndarray:
        cache: dict[str, dict[str, float]] = {}
        rows = []
        for p in pairs:
            w = cache.setdefault(p.question, self.weights(p.question))
            rows.append((overlap(w, frozenset(analyze(p.sentence))), overlap(w, frozenset(analyze(p.heading)))))
        return np.array(rows, dtype=np.float32)


def featurize(pairs: list[Pair], encode) -> np.ndarray:
    qs = encode([p.question for p in pairs])
    ps = encode([p.passage for p in pairs])
    lex = Lexical([p.sentence for p in pairs]).matrix(pairs)
    return np.vstack([features(qs[i], ps[i:i + 1], lex[i:i + 1]) for i in range(len(pairs))])


def question_level(scores: np.ndarray, pairs: list[Pair], threshold: float) -> dict:
    """Each question twice: with its answer among the candidates (should answer from a positive) and without
    it (should abstain). Returns answered-right, abstention recall and precision."""
    by_q: dict[int, list[int]] = collections.defaultdict(list)
    for i, p in enumerate(pairs):
        by_q[p.qid].append(i)
    right = abstain_ok = abstain_wrong = covered = uncovered = 0
    for idx in by_q.values():
        pos = [i for i in idx if pairs[i].label]
        neg = [i for i in idx if not pairs[i].label]
        if pos:
            covered += 1
            best = max(idx, key=lambda i: scores[i])
            if scores[best] >= threshold and pairs[best].label:
                right += 1
            elif scores[best] < threshold:
                abstain_wrong += 1
        if neg:
            uncovered += 1
            if max(scores[i] for i in neg) < threshold:
                abstain_ok += 1
    return {
        "threshold": round(threshold, 3),
        "answered_right": round(right / covered, 3) if covered else None,
        "abstention_recall": round(abstain_ok / uncovered, 3) if uncovered else None,
        "abstention_precision": round(abstain_ok / (abstain_ok + abstain_wrong), 3) if abstain_ok + abstain_wrong else None,
        "questions": covered,
    }


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(labels, scores)), 4) if 0 < labels.sum() < len(labels) else float("nan")


def train(encode, folder: Path | None = None, sample: int = 0, with_test: bool = False) -> tuple[AnswerabilityModel, dict]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    rng = random.Random(pool.SEED)
    records = load_records(folder)
    splits: dict[str, list[Record]] = collections.defaultdict(list)
    for rec in records:
        splits[pool.split_of("focus:" + rec.focus.lower())].append(rec)
    data = {}
    for name in ("train", "val", "test"):
        limit = sample or MAX_QUESTIONS[name]
        pairs, _ = build_pairs(splits[name], rng, limit)
        data[name] = pairs
    x = {n: featurize(p, encode) for n, p in data.items() if n != "test" or with_test}
    y = {n: np.array([p.label for p in data[n]]) for n in x}
    scaler = StandardScaler().fit(x["train"])
    xs = {n: scaler.transform(v) for n, v in x.items()}
    mlp = MLPClassifier(hidden_layer_sizes=(128,), alpha=1e-3, early_stopping=True, max_iter=80,
                        random_state=pool.SEED).fit(xs["train"], y["train"])
    lr = LogisticRegression(C=1.0, max_iter=2000, random_state=pool.SEED).fit(xs["train"], y["train"])
    cos_col = 2 * 384
    val_scores = mlp.predict_proba(xs["val"])[:, 1]
    curve = [question_level(val_scores, data["val"], t) for t in np.linspace(0.05, 0.95, 19)]
    best = max(curve, key=lambda c: (c["answered_right"] or 0) + (c["abstention_recall"] or 0))
    model = AnswerabilityModel(mlp.coefs_[0], mlp.intercepts_[0], mlp.coefs_[1], mlp.intercepts_[1],
                               best["threshold"], scaler.mean_, scaler.scale_)
    cos_val = x["val"][:, cos_col]
    cos_curve = [question_level(cos_val, data["val"], t) for t in np.linspace(0.1, 0.9, 17)]
    cos_best = max(cos_curve, key=lambda c: (c["answered_right"] or 0) + (c["abstention_recall"] or 0))
    lr_val = lr.predict_proba(xs["val"])[:, 1]
    lr_best = max((question_level(lr_val, data["val"], t) for t in np.linspace(0.05, 0.95, 19)),
                  key=lambda c: (c["answered_right"] or 0) + (c["abstention_recall"] or 0))
    kinds = collections.Counter(p.kind for p in data["train"])
    metrics = {
        "sources": {"medquad_qa": len(records)},
        "questions": {n: len({p.qid for p in v}) for n, v in data.items()},
        "pairs": {n: len(v) for n, v in data.items()},
        "train_pair_kinds": dict(kinds),
        "validation": {
            "pair_auc": {"mlp": auc(val_scores, y["val"]), "logistic_regression": auc(lr_val, y["val"]),
                         "cosine_only": auc(cos_val, y["val"])},
            "chosen": best,
            "logistic_regression_best": lr_best,
            "cosine_only_best": cos_best,
            "curve": curve,
        },
    }
    if with_test:
        test_scores = model.score_features(x["test"])
        metrics["locked_test"] = {"pair_auc": auc(test_scores, y["test"]),
                                  "at_threshold": question_level(test_scores, data["test"], model.threshold)}
    return model, metrics
