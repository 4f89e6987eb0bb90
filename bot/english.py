"""English words, to tell a name nobody's dictionary knows from an English word and from a misspelt one ("should I
start exercizing"): the input guard reads such a name in a medicine's place as a medicine ("double my Xanex", "should
I take MK677"), and the passage selector does not answer a question about one with quotes that never name it
("Levonelle side effects?").

The words are pyspellchecker's English frequency list (MIT; built from OpenSubtitles and SCOWL, 160k words), read
from its wheel, offline. Not its `SpellChecker`: that holds the list as a Python dict (~15 MB of a server whose memory
budget is 350 MB) and generates two-edit candidates; here the words are one sorted numpy byte array (~3 MB), looked up
by binary search, and a misspelling is one edit away."""

from __future__ import annotations

import gzip
import importlib.util
import json
import string
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path

import numpy as np

from ingest.text import STOPWORDS

MIN_LETTERS = 4  # shorter words are initials, units and typos of little words as often as names
MAX_LETTERS = 20  # the array's width; the list's 41 longer words ("antidisestablishmentarianism") are left out


def _package_file() -> Path:
    spec = importlib.util.find_spec("spellchecker")  # located, not imported: its import builds nothing we use
    return Path(next(iter(spec.submodule_search_locations))) / "resources" / "en.json.gz"


def _one_edit(word: str) -> set[str]:
    """Every string one deletion, transposition, replacement or insertion away (Norvig's edits1)."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    letters = string.ascii_lowercase
    return ({a + b[1:] for a, b in splits if b}
            | {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
            | {a + c + b[1:] for a, b in splits if b for c in letters}
            | {a + c + b for a, b in splits for c in letters})


class English:
    def __init__(self, extra: Iterable[str] = ()) -> None:
        """`extra`: more words to count as known (the encoder's whole words)."""
        self._extra = frozenset(extra)

    @cached_property
    def _words(self) -> np.ndarray:
        """Read at the first question that needs it (0.2 s), not at start: most questions never do."""
        listed = json.loads(gzip.decompress(_package_file().read_bytes()))
        known = {w for w in (*listed, *self._extra, *STOPWORDS) if w.isascii() and len(w) <= MAX_LETTERS}
        return np.array(sorted(w.encode() for w in known), dtype=f"S{MAX_LETTERS}")

    def _known(self, candidates: list[str]) -> np.ndarray:
        width = self._words.dtype.itemsize
        keys = np.array([c.encode() for c in candidates], dtype=self._words.dtype)  # longer ones would be cut short
        at = np.minimum(np.searchsorted(self._words, keys), len(self._words) - 1)
        return (self._words[at] == keys) & np.array([len(c.encode()) <= width for c in candidates])

    def __contains__(self, word: str) -> bool:
        return bool(self._known([word])[0])

    def unknown(self, word: str) -> bool:
        """A word of four or more characters, starting with a letter, that is neither English, nor one edit from an
        English word, nor two English words written as one ("heartrate"): most likely a name (a medicine, a
        compound's code) that no dictionary of ours holds."""
        word = word.lower()
        if len(word) < MIN_LETTERS or not word[0].isalpha() or not word.isascii() or word in self:
            return False
        if not word.isalpha():  # "mk677", "retin-a": not a misspelt English word
            return True
        if self._known(sorted(_one_edit(word))).any():
            return False
        cuts = range(3, len(word) - 2)  # two words of three letters or more
        if not cuts:
            return True
        return not (self._known([word[:i] for i in cuts]) & self._known([word[i:] for i in cuts])).any()
