"""Words of conventional care, from NIH's patient pages (bot/models/care.npz, built by `python -m train care`).

The input guard uses them for one question: when a patient asks whether something works and neither the
documents nor the medicine dictionary know it, is it care that NIH's pages describe as treatment
("plasma exchange", "immunotherapy": the documents just don't cover it) or something they never mention
("cat's claw", "static magnets": a remedy the bot cannot vouch for, refused as one when the learned layer leans
that way)?
"""

from __future__ import annotations

from pathlib import Path

from . import wordlist

MODEL = Path(__file__).with_name("models") / "care.npz"


class CareWords:
    def __init__(self, words: list[str]) -> None:
        self.words = frozenset(w.lower() for w in words)

    @classmethod
    def load(cls, path: Path = MODEL) -> "CareWords":
        return cls(wordlist.load(path, "words"))

    def save(self, path: Path) -> None:
        wordlist.save(path, "words", self.words)

    def __contains__(self, word: str) -> bool:
        return word.lower() in self.words
