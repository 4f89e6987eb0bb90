"""`python -m train intent`: the message intent classifier of the input guard (bot/intent.py).

Data (../shared/training, see its README; eval-only datasets never read, see pool.EVAL_ONLY_DATASETS):
  dosing          MedQuAD MPlusDrugs `usage` / `forget a dose` questions; hand-labelled consumer questions
                  (train/labels/intent_seed.tsv); prompts/exemplars.yaml
  unproven_remedy HealthFC (training half) and remedy-flagged consumer questions, hand-labelled; exemplars
  crisis          SDCNL r/SuicideWatch posts; C-SSRS Reddit users graded Ideation / Behavior / Attempt;
                  hand-labelled consumer questions; exemplars about ending one's life or an overdose
  emergency       AskDocs titles an expert graded Critical; hand-labelled ones (AskDocs Serious that need care now);
                  MedQuAD MPlusDrugs `emergency or overdose` questions (150); exemplars
  medical         MedQuAD questions of every other type (drug side effects, indications, warnings included);
                  AskDocs Non-serious / Serious; MQP HealthTap; COVID-Q; hand-labelled look-alikes
  distress        Dreaddit and Counsel Chat (hard negatives for crisis: distress without intent)
  off_topic       AskDocs non-medical sample; ToxicChat benign and jailbreak prompts; JailbreakBench attacks
Split by group (MedQuAD focus, Reddit post, record), never by row: train 70 / validation 15 / locked test 15.
Every text is read without social-media markup (bot.intent.without_markup: retweet marker, @mentions, links), as at serving.
Model: scikit-learn multinomial logistic regression (C=2, natural class frequencies) on the packaged MiniLM
sentence vector joined with hashed word unigrams and bigrams (WORDS; bot.intent.word_columns at serving). On validation the word view
raised recall at the same false-flag rate (crisis 95% -> 98%, remedy 88% -> 91% at 2% of benign flagged).
Per risky class a threshold chosen on validation: the score that at most 1% of the validation's medical
questions reach. Dosing and remedy also no lower than the score that at most 5% of the hand-labelled informational
look-alikes reach (MAX_LOOK_ALIKE_FLAGS), read from their out-of-fold scores: hand-labelled `medical` questions
that name a medicine or another substance (bot.drugs' dictionary) and ask no dose or remedy, the questions the
product owner's over-refusal ceiling is about. Most medical questions name no medicine, so the 1% rule alone
flagged 9% of the look-alikes; until 2026-12-06 the look-alikes were every hand-labelled medical question (457,
199 of them naming no substance), which held the dose threshold at 0.187; now 0.27 (docs/benchmarks.md, session 14).
Crisis and emergency never below 0.5 (ESCALATION_FLOOR; the cross-validation behind it is in the numbers). The earlier rule (>= 0.5 and >= 90% precision for
every class) left most real remedy and medication-change questions unflagged.
Validation's dose questions are mostly MedQuAD templates, so its recall flatters the model: `cross_validation.real_wording`
(5 folds by group over train and validation) gives each risky class's recall on messages people wrote, and the
hand-labelled informational look-alikes flagged, at the same threshold rule.
"""

from __future__ import annotations

import collections
import random
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer

import prompts
from bot.drugs import DrugFinder
from bot.intent import RISKY, WORD_COLUMNS, IntentModel, without_markup

from . import pool

# The word view: scikit-learn's hashing of word unigrams and bigrams (bot.intent.word_columns computes the same).
WORDS = HashingVectorizer(n_features=WORD_COLUMNS, ngram_range=(1, 2), alternate_sign=False, norm="l2", dtype=np.float32)
LABELS_FILE = Path(__file__).with_name("labels") / "intent_seed.tsv"
CLASSES = ["crisis", "emergency", "dosing", "unproven_remedy", "medical", "distress", "off_topic"]
BENIGN = ("medical", "distress", "off_topic")
MAX_FALSE_FLAGS = 0.01
# The ceiling the product owner sets for over-refusal of informational medicine questions. On the validation split,
# whole bot (benchmarks.guard_split, 2026-12-06): the 1%-of-medical rule alone refused 9/115 leaflet-medicine
# questions and 135/135 dose, 29/35 remedy questions; with this 5% rule 6/115, 133/135, 28/35; with 2%: 5/115,
# 133/135, 27/35.
MAX_LOOK_ALIKE_FLAGS = 0.05
# An escalation replaces the reply a patient would get (a dose refusal included), so crisis and emergency need
# more than the 1%-of-medical rule: at least ESCALATION_FLOOR. 5-fold cross-validation over train and validation
# (`cross_validation.escalation_floor` in the card) says a floor of 0.3 would catch more crisis posts (85% -> 91%) for twice the
# distress messages escalated; tried on 2026-12-05, it did not transfer to short patient messages: on the real
# sets it caught 1 more emergency and escalated 3 other messages (two dose questions, one not-covered question),
# and on our own sets it escalated "Will I get better?". Kept at 0.5 (docs/benchmarks.md).
ESCALATION_FLOOR = 0.5
MAX_CHARS = 1500  # the encoder reads ~256 word pieces anyway
CAPS = {"medquad_dosing": 900, "medquad_overdose": 150, "medquad_medical": 2500, "toxicchat": 1800, "dreaddit": 900, "sdcnl": 970}
FILES = ["medquad_qa", "consumer_questions", "crisis_texts", "jailbreak_prompts"]
SELF_HARM_EXEMPLAR = ("alive", "ending my life", "packet of my pills")


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    group: str
    source: str  # dataset name, for the model card


def load_examples(folder: Path | None = None, sample: int = 0) -> list[Example]:
    rng = random.Random(pool.SEED)
    hand = hand_labels()
    bins: dict[str, list[Example]] = collections.defaultdict(list)

    for r in pool.read("medquad_qa", folder):
        q, focus = r["question"], r.get("focus") or r["document_id"]
        if r["subset"] == "11_MPlusDrugs_QA":
            if r["qtype"] in ("usage", "forget a dose", "dose"):
                bins["medquad_dosing"].append(Example(q, "dosing", "mq:" + focus, "medquad_qa"))
            elif r["qtype"] == "emergency or overdose":  # informational in form, an overdose in policy
                bins["medquad_overdose"].append(Example(q, "emergency", "mq:" + focus, "medquad_qa"))
            else:
                bins["medquad_medical"].append(Example(q, "medical", "mq:" + focus, "medquad_qa"))
        else:
            bins["medquad_medical"].append(Example(q, "medical", "mq:" + focus, "medquad_qa"))

    for r in pool.read("consumer_questions", folder):
        ds = r["dataset"]
        if ds in pool.EVAL_ONLY_DATASETS or (ds == "healthfc" and pool.healthfc_eval_only(r["id"])):
            continue
        text, group = r["text"], "cq:" + r["id"]
        if r["id"] in hand:
            bins["hand"].append(Example(text, hand[r["id"]], group, ds))
            continue
        flags = set(r.get("keyword_flags") or ())
        if flags or ds == "healthfc":  # flagged but not hand-labelled: left out, not guessed
            continue
        if ds == "medical-safety/non-medical":
            bins["non_medical"].append(Example(text, "off_topic", group, ds))
        elif ds == "medical-safety/askdocs":
            code = (r.get("labels") or {}).get("risk_expert_code")
            label = {3: "emergency", 0: "off_topic"}.get(code, "medical")
            bins["askdocs"].append(Example(text, label, group, ds))
        else:  # mqp/healthtap, covid-q
            bins["consumer_medical"].append(Example(text, "medical", group, ds))

    for r in pool.read("crisis_texts", folder):
        ds, label = r["dataset"], r["label"]
        if ds in pool.EVAL_ONLY_DATASETS:
            continue
        group = "cr:" + (r.get("reddit_post_id") or r["id"])
        text = r["text"][:MAX_CHARS]
        if ds == "sdcnl" and label == "suicide":
            bins["sdcnl"].append(Example(text, "crisis", group, ds))
        elif ds == "reddit-cssrs" and label in ("Ideation", "Behavior", "Attempt"):
            bins["cssrs"].append(Example(text, "crisis", group, ds))
        elif ds in ("dreaddit", "counsel-chat"):
            bins["dreaddit" if ds == "dreaddit" else "counsel"].append(Example(text, "distress", group, ds))

    for r in pool.read("jailbreak_prompts", folder):
        ds = r["dataset"]
        if ds in pool.EVAL_ONLY_DATASETS:
            continue
        bins["toxicchat" if ds.startswith("toxicchat") else "jbb"].append(Example(r["text"][:MAX_CHARS], "off_topic", "jb:" + r["id"], ds))

    ex = prompts.load("exemplars")
    for label, texts in ex.items():
        for t in texts:
            mapped = {"out_of_scope": "off_topic", "benign": "medical"}.get(label, label)
            if mapped == "emergency" and any(k in t for k in SELF_HARM_EXEMPLAR):
                mapped = "crisis"
            bins["exemplars"].append(Example(t, mapped, "ex:" + t, "exemplars"))

    out: list[Example] = []
    for name, items in sorted(bins.items()):
        items = sorted(items, key=lambda e: pool.bucket("order:" + e.group + e.text))
        cap = CAPS.get(name)
        out.extend(items[:cap] if cap else items)
    out = [replace(e, text=without_markup(e.text)) for e in out]  # what the model reads at serving
    if sample:
        rng.shuffle(out)
        by_label = collections.defaultdict(list)
        for e in out:
            by_label[e.label].append(e)
        out = [e for items in by_label.values() for e in items[:sample]]
    return out


def split(examples: list[Example]) -> dict[str, list[Example]]:
    parts: dict[str, list[Example]] = {"train": [], "val": [], "test": []}
    for e in examples:
        parts["train" if e.source == "exemplars" else pool.split_of(e.group)].append(e)
    return parts


def thresholds_for(probs: np.ndarray, labels: list[str], classes: list[str],
                   look_alikes: dict[str, np.ndarray] | None = None) -> dict[str, float]:
    """Per risky class, the score that at most MAX_FALSE_FLAGS of the validation's medical questions reach
    (crisis and emergency never below ESCALATION_FLOOR); dosing and remedy also no lower than the score that at most
    MAX_LOOK_ALIKE_FLAGS of the look-alikes reach (`look_alikes`: class -> their scores)."""
    medical = np.array([lab == "medical" for lab in labels])
    out = {}
    for c in RISKY:
        t = float(np.quantile(probs[medical, classes.index(c)], 1 - MAX_FALSE_FLAGS)) if medical.any() else 0.5
        if c in ("crisis", "emergency"):
            t = max(t, ESCALATION_FLOOR)
        elif look_alikes and len(look_alikes[c]):
            t = max(t, float(np.quantile(look_alikes[c], 1 - MAX_LOOK_ALIKE_FLAGS)))
        out[c] = round(t, 3)
    return out


def report(model: IntentModel, probs: np.ndarray, labels: list[str]) -> dict:
    """Per risky class: recall at its threshold, benign messages flagged; overall argmax accuracy."""
    res: dict = {"n": len(labels), "by_label": dict(collections.Counter(labels))}
    benign = np.array([lab in BENIGN for lab in labels])
    for c in RISKY:
        flagged = probs[:, model.classes.index(c)] >= model.thresholds[c]
        pos = np.array([lab == c for lab in labels])
        distress = np.array([lab == "distress" for lab in labels])
        res[c] = {"recall": round(float(flagged[pos].mean()), 3) if pos.any() else None, "n": int(pos.sum()),
                  "benign_flagged": round(float(flagged[benign].mean()), 4) if benign.any() else None,
                  "distress_flagged": round(float(flagged[distress].mean()), 4) if distress.any() else None}
    any_risky = np.zeros(len(labels), bool)
    for c in RISKY:
        any_risky |= probs[:, model.classes.index(c)] >= model.thresholds[c]
    pos = ~benign
    res["any_risky"] = {"recall": round(float(any_risky[pos].mean()), 3) if pos.any() else None,
                        "benign_flagged": round(float(any_risky[benign].mean()), 4) if benign.any() else None}
    pred = [model.classes[i] for i in probs.argmax(1)]
    res["accuracy"] = round(float(np.mean([p == t for p, t in zip(pred, labels)])), 3)
    return res


def cross_validated(examples: list[Example], vectors: np.ndarray, folds: int = 5) -> tuple[dict, dict[str, np.ndarray]]:
    """Out-of-fold probabilities over train and validation (folds by group, as the split), our own exemplars left
    out. Returns the hand-labelled informational look-alikes' (train/labels) out-of-fold scores per risky class, which
    `thresholds_for` reads, and a report read two ways:
    - `escalation_floor`: crisis recall and the distress / medical messages escalated at a few floors, the evidence
      behind ESCALATION_FLOOR;
    - `real_wording`: per risky class, recall on messages people wrote (not MedQuAD's templates) at the thresholds
      `thresholds_for` sets per fold (its look-alike rule from the other folds' look-alikes), and the look-alikes
      flagged. Validation alone holds ~10 real dose questions among 125 MedQuAD templates, which its recall mostly
      measures."""
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    hand = set(hand_labels())
    labels = np.array([e.label for e in examples])
    exemplar = np.array([e.source == "exemplars" for e in examples])
    real = np.array([written_by_people(e) for e in examples])
    names = DrugFinder()
    look_alikes = np.array([is_look_alike(e, hand, names) for e in examples])
    fold = np.array([pool.bucket("cv:" + e.group) % folds for e in examples])
    x = sp.hstack([sp.csr_matrix(vectors), WORDS.transform([e.text for e in examples])]).tocsr()
    probs = np.zeros((len(examples), len(CLASSES)))
    for k in range(folds):
        fit, held = (fold != k) & ~exemplar, (fold == k) & ~exemplar
        clf = LogisticRegression(C=2.0, max_iter=3000, random_state=pool.SEED).fit(x[fit], labels[fit])
        probs[np.ix_(held, [CLASSES.index(str(c)) for c in clf.classes_])] = clf.predict_proba(x[held])
    crisis = probs[:, CLASSES.index("crisis")]
    flagged = {c: np.zeros(len(examples), bool) for c in RISKY}
    for k in range(folds):
        held = (fold == k) & ~exemplar
        others = {c: probs[look_alikes & (fold != k), CLASSES.index(c)] for c in RISKY}
        limits = thresholds_for(probs[held], list(labels[held]), CLASSES, others)
        for c in flagged:
            flagged[c][held] = probs[held, CLASSES.index(c)] >= limits[c]
    floor = {str(f): {name: round(float((crisis[~exemplar & (labels == name)] >= f).mean()), 4)
                      for name in ("crisis", "distress", "medical", "off_topic")}
             for f in (0.2, 0.3, 0.4, 0.5)}
    wording = {c: {"recall": f"{int(flagged[c][real & (labels == c)].sum())}/{int((real & (labels == c)).sum())}",
                   "look_alikes_flagged": f"{int(flagged[c][look_alikes].sum())}/{int(look_alikes.sum())}"}
               for c in flagged}
    return {"escalation_floor": floor, "real_wording": wording}, {c: probs[look_alikes, CLASSES.index(c)] for c in RISKY}


def written_by_people(e: Example) -> bool:
    """Not MedQuAD's question templates, not our own exemplars."""
    return e.source not in ("medquad_qa", "exemplars")


def is_look_alike(e: Example, hand: set[str], names: DrugFinder) -> bool:
    """An informational look-alike: a message people wrote, hand-labelled `medical` (`hand`: the hand-labelled ids),
    that names a medicine or another substance (`names`: bot.drugs' dictionary), so that a dose or remedy vote on
    it would be an over-refusal of the kind the product owner's ceiling counts."""
    return e.label == "medical" and written_by_people(e) and e.group[3:] in hand and bool(names.find(e.text))


def hand_labels() -> dict[str, str]:
    """Pool record id -> intent, from train/labels/intent_seed.tsv."""
    return dict(line.rstrip("\n").split("\t") for line in LABELS_FILE.read_text().splitlines()
                if line and not line.startswith("#"))


def train(encode, folder: Path | None = None, sample: int = 0, with_test: bool = False) -> tuple[IntentModel, dict]:
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    examples = load_examples(folder, sample)
    parts = split(examples)
    texts = {name: [e.text for e in items] for name, items in parts.items() if items}
    vec = {name: encode(t) for name, t in texts.items()}
    y = [e.label for e in parts["train"]]
    clf = LogisticRegression(C=2.0, max_iter=3000, random_state=pool.SEED)
    clf.fit(sp.hstack([sp.csr_matrix(vec["train"]), WORDS.transform(texts["train"])]).tocsr(), y)
    classes = [str(c) for c in clf.classes_]
    for c in RISKY:
        if c not in classes:
            raise ValueError(f"no training example of class {c!r}")
    dim = vec["train"].shape[1]
    word_index = np.flatnonzero(np.abs(clf.coef_[:, dim:]).sum(0))  # columns no training text hashed to weigh 0
    model = IntentModel(clf.coef_[:, :dim], clf.intercept_, classes, {c: 0.5 for c in RISKY},
                        word_index, clf.coef_[:, dim:][:, word_index])
    val = "val" if parts["val"] else "train"
    cv, look_alikes = {}, None
    if parts["val"] and not sample:
        cv, look_alikes = cross_validated(parts["train"] + parts["val"], np.vstack([vec["train"], vec["val"]]))
    val_probs = model.proba(texts[val], vec[val])
    model.thresholds = thresholds_for(val_probs, [e.label for e in parts[val]], classes, look_alikes)
    metrics = {
        "examples": {name: len(items) for name, items in parts.items()},
        "thresholds": dict(sorted(model.thresholds.items())),
        "sources": dict(collections.Counter(e.source for e in examples)),
        "validation": report(model, val_probs, [e.label for e in parts[val]]),
    }
    if cv:
        metrics["cross_validation"] = cv
    if with_test and parts["test"]:
        metrics["locked_test"] = report(model, model.proba(texts["test"], vec["test"]), [e.label for e in parts["test"]])
    return model, metrics
