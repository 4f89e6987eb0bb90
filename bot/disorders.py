"""Names of disorders, from MedQuAD's NIH pages (bot/models/disorders.npz, built by `python -m train disorders`).

The answer pipeline uses them for one question: does the question name a disorder that the chosen quotes
never name? Then the documents don't answer it ("What is Lambert-Eaton syndrome?" must not get the general
definition of paraneoplastic syndrome), however well the sentence matches the rest of the question.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path

from . import wordlist

MODEL = Path(__file__).with_name("models") / "disorders.npz"
MAX_WORDS = 6
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z0-9]+)*")  # a hyphen separates: "Lambert-Eaton" is "lambert eaton"


def words(text: str) -> list[str]:
    return [w.replace("’", "'") for w in _WORD.findall(text.lower())]


class DisorderFinder:
    def __init__(self, names: list[str]) -> None:
        self.names = frozenset(" ".join(words(n)) for n in names if words(n))

    @classmethod
    def load(cls, path: Path = MODEL) -> "DisorderFinder":
        return cls(wordlist.load(path, "names"))

    def save(self, path: Path) -> None:
        wordlist.save(path, "names", self.names)

    @cached_property
    def vocabulary(self) -> frozenset[str]:
        """Every word of every name ("dysplasia", "septum", "testis"): words the spelling correction must leave
        alone, or "acromesomelic dysplasia" becomes "dyspepsia", a word of the documents."""
        return frozenset(w for n in self.names for w in n.split() if len(w) >= 4)

    def words_in(self, text: str) -> set[str]:
        """The words of `text` that belong to a disorder's name."""
        return {w for w in words(text) if w in self.vocabulary}

    def find(self, text: str) -> list[str]:
        """The disorder names in `text`, longest first and not overlapping ("small cell lung cancer", not also
        "lung cancer")."""
        w = words(text)
        found, i = [], 0
        while i < len(w):
            for n in range(min(MAX_WORDS, len(w) - i), 0, -1):
                phrase = " ".join(w[i:i + n])
                if phrase in self.names:
                    found.append(phrase)
                    i += n
                    break
            else:
                i += 1
        return found
