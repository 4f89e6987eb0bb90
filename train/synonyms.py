"""`python -m train synonyms`: the groups of names of bot/synonyms.py.

Data: MedQuAD (../shared/training/medquad_qa.jsonl.gz), every record whose page lists synonyms of its focus
(the MedlinePlus encyclopedia and health topics, GARD, GHR) and whose focus is in the UMLS semantic group Disorders
(diseases, signs and symptoms; not tests, procedures or substances such as "sodium"): the focus and its synonyms
are one group ("Indigestion", "dyspepsia", "upset stomach"), merged across the records of one focus. Names longer than six words are left out
(descriptions more than names), and so are groups left with one name. Not learned, so no split: measured on real
non-medical questions (medical-safety/non-medical: how often one holds every word of a name of two or more words).
"""

from __future__ import annotations

from pathlib import Path

from bot.synonyms import SEP, SynonymGroups, stems

from . import pool

FILES = ["medquad_qa", "consumer_questions"]
ENCODER_USE = "not used; nothing is embedded"
MAX_WORDS = 6


def train(encode=None, folder: Path | None = None, sample: int = 0, with_test: bool = False) -> tuple[SynonymGroups, dict]:
    """`encode` and `with_test` are unused (nothing is embedded; no split to test on); kept so that every
    component trains through the same command."""
    groups: dict[str, set[str]] = {}
    records = 0
    for r in pool.read("medquad_qa", folder):
        synonyms = r.get("focus_synonyms") or []
        focus = " ".join((r.get("focus") or "").lower().split())
        if not synonyms or not focus or r.get("focus_semantic_group") != "Disorders":
            continue
        records += 1
        groups.setdefault(focus, set()).update(
            n for n in (" ".join(s.lower().split()) for s in [focus, *synonyms]) if n and SEP not in n and len(n.split()) <= MAX_WORDS)
        if sample and len(groups) >= sample:
            break
    model = SynonymGroups(sorted(SEP.join(sorted(g)) for g in groups.values() if len(g) > 1))
    plain = [r["text"] for r in pool.read("consumer_questions", folder) if r["dataset"] == "medical-safety/non-medical"]
    names = {stems(n) for g in model.groups for n in g} - {frozenset()}
    def holds(text: str) -> bool:
        words = set(stems(text))
        return any(n <= words for n in names if len(n) >= 2)
    false = [t for t in plain if holds(t)]
    metrics = {
        "sources": {"medquad_qa": records, "medical-safety/non-medical": len(plain)},
        "groups": len(model.groups),
        "names": sum(len(g) for g in model.groups),
        "validation": {
            "non_medical_questions_holding_a_two_word_name": round(len(false) / max(1, len(plain)), 4),
            "non_medical_examples": false[:5],
        },
    }
    return model, metrics
