"""`python -m train disorders`: the disorder names of bot/disorders.py.

Data: MedQuAD (../shared/training/medquad_qa.jsonl.gz), the records whose focus is in the UMLS semantic group
Disorders. From its disease collections (GARD, GHR, NINDS, NIDDK, CancerGov, NHLBI, SeniorHealth): the focus and
its synonyms. From the MedlinePlus encyclopedia and health topics, whose pages also cover symptoms and broad
topics ("Drooling", "Breathing Problems", "Weight loss - unintentional"): the focus only, and only where every
UMLS type of it is a disease type (DISEASE_TYPES: "Cervical cancer", "Liver metastases", "Cushing syndrome due to
adrenal tumor"; not a sign, symptom, finding or injury). A name is cut at " - " or "(" (page qualifiers such as "Bedsores - what to
ask your doctor"). Kept: names of two to six words, and single words of at least eight letters that are not an
ordinary word of the packaged encoder's vocabulary ("myasthenia", "sarcoidosis"; not "anemia", "fever",
"cancer": one plain word is too often a symptom the documents describe in other words).
Not learned, so no split: measured on MedQuAD questions (how often the finder names the question's own focus)
and on real non-medical questions (medical-safety/non-medical: how often it finds a disorder where none is).
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.disorders import MAX_WORDS, DisorderFinder, words

from . import pool

FILES = ["medquad_qa", "consumer_questions"]
ENCODER_USE = "only its vocabulary, to tell ordinary words from names; nothing is embedded"
MIN_SINGLE = 8
# UMLS semantic types of a disease (not a sign or symptom T184, finding T033, injury T037): disease or syndrome,
# neoplastic process, congenital abnormality, mental or behavioral dysfunction, pathologic function, anatomical
# abnormality
DISEASE_TYPES = frozenset({"T047", "T191", "T019", "T048", "T046", "T190"})
_CUT = re.compile(r"\s+-\s+|\s*\(")


def names_of(record: dict) -> list[str]:
    """The record's disorder names: see the module's docstring for which records and which names."""
    if record.get("focus_semantic_group") != "Disorders":
        return []
    if record["subset"].split("_", 1)[1].startswith("MPlus"):
        types = set(record.get("focus_semantic_types") or [])
        raws = [record.get("focus") or ""] if types and types <= DISEASE_TYPES else []
    else:
        raws = [record.get("focus") or "", *(record.get("focus_synonyms") or [])]
    out = []
    for raw in raws:
        name = _CUT.split(raw, maxsplit=1)[0].strip()
        if name:
            out.append(name)
    return out


def train(encode=None, folder: Path | None = None, sample: int = 0, with_test: bool = False,
          dictionary: frozenset[str] | None = None) -> tuple[DisorderFinder, dict]:
    """`encode` and `with_test` are unused (nothing is embedded; no split to test on); kept so that every
    component trains through the same command."""
    if dictionary is None:
        from ingest.embeddings import SentenceTransformerEmbeddings

        dictionary = SentenceTransformerEmbeddings().dictionary
    names: set[str] = set()
    questions = []
    for r in pool.read("medquad_qa", folder):
        own = names_of(r)
        if not own:
            continue
        questions.append((r["question"], {" ".join(words(n)) for n in own}))
        for n in own:
            w = words(n)
            if 2 <= len(w) <= MAX_WORDS or (len(w) == 1 and len(w[0]) >= MIN_SINGLE and w[0] not in dictionary):
                names.add(" ".join(w))
        if sample and len(names) >= sample:
            break
    finder = DisorderFinder(sorted(names))
    named = sum(1 for q, own in questions if own & set(finder.find(q)))
    plain = [r["text"] for r in pool.read("consumer_questions", folder) if r["dataset"] == "medical-safety/non-medical"]
    false = sum(1 for t in plain if finder.find(t))
    metrics = {
        "sources": {"medquad_qa": len(questions), "medical-safety/non-medical": len(plain)},
        "names": len(finder.names),
        "validation": {
            "medquad_questions_naming_their_focus": round(named / max(1, len(questions)), 3),
            "non_medical_questions_with_a_find": round(false / max(1, len(plain)), 4),
            "non_medical_examples": [t for t in plain if finder.find(t)][:5],
        },
    }
    return finder, metrics
