"""`python -m train care`: the words of conventional care of bot/care.py.

Data: MedQuAD (../shared/training/medquad_qa.jsonl.gz), the answers to its `treatment` questions (NIH patient
pages on how a disorder is treated). Kept: every word (as `ingest.text.words` splits it) that at least MIN_PAGES
distinct answers use. Not learned, so no split. The floor was chosen on the intent pool's training and
validation splits (docs/benchmarks.md, "2026-12-05, night"): of the validation questions asking the effect of
something neither the documents nor the medicine dictionary know, floors of 1 to 3 leave 13 of its 35 remedy
questions and 1 of its 1,048 medical ones to the guard's remedy check, 5 and 10 one more of each; 3, because a
word only one or two pages use in passing is not yet care.
"""

from __future__ import annotations

import collections
from pathlib import Path

from bot.care import CareWords
from ingest.text import words

from . import pool

FILES = ["medquad_qa"]
ENCODER_USE = "not used; nothing is embedded"
MIN_PAGES = 3


def train(encode=None, folder: Path | None = None, sample: int = 0, with_test: bool = False) -> tuple[CareWords, dict]:
    """`encode` and `with_test` are unused (nothing is embedded; no split to test on); kept so that every
    component trains through the same command."""
    pages: collections.Counter[str] = collections.Counter()
    answers: set[str] = set()
    for r in pool.read("medquad_qa", folder):
        text = (r.get("answer") or "").strip()
        if r.get("qtype") != "treatment" or not text or text in answers:
            continue
        answers.add(text)
        pages.update(set(words(text)))
        if sample and len(answers) >= sample:
            break
    care = CareWords([w for w, n in pages.items() if n >= MIN_PAGES])
    metrics = {"sources": {"medquad_qa": len(answers)}, "treatment_answers": len(answers), "words": len(care.words),
               "min_pages": MIN_PAGES}
    return care, metrics
