"""English words, to tell a name nobody's dictionary knows from an English word and from a misspelt one ("should I
start exercizing"): the input guard reads such a name in a medicine's place as a medicine ("double my Xanex", "should
I take MK677"), and the passage selector does not answer a question about one with quotes that never name it
("Levonelle side effects?"), and spelling correction never "corrects" one of them into a document word ("measles"
was "meals").

The words are pyspellchecker's English frequency list (MIT; built from OpenSubtitles and SCOWL, 160k words), read
from its wheel, offline. Not its `SpellChecker`: that holds the list as a Python dict (~15 MB of a server whose memory
budget is 350 MB) and generates two-edit candidates; here the words are sorted numpy byte arrays (~1.4 MB), looked up by
binary search, and a misspelling is one edit away."""

from __future__ import annotations

import gzip
import importlib.util
import string
from collections import defaultdict
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ingest.text import STOPWORDS

MIN_LETTERS = 4  # shorter words are initials, units and typos of little words as often as names


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
    def _by_length(self) -> dict[int, np.ndarray]:
        """The words, one sorted byte array per length (1.4 MB in all; one array as wide as the longest word would
        take 7 MB). Read at the first question (spelling correction asks about its words; 0.1 s), not at start, with
        numpy from the file's bytes: each word is the one quoted string of its line. Through `json.loads` (a dict of 160k words, then dropped) the
        process grew 18 MB; this way 8 MB, 1.4 MB of it live (the rest is heap the allocator keeps for reuse)."""
        raw = np.frombuffer(gzip.decompress(_package_file().read_bytes()), dtype=np.uint8)
        quotes = np.flatnonzero(raw == ord('"'))
        starts, lengths = quotes[0::2] + 1, quotes[1::2] - quotes[0::2] - 1
        extra: dict[int, list[bytes]] = defaultdict(list)
        for w in {*self._extra, *STOPWORDS}:
            extra[len(w.encode())].append(w.encode())
        by_length = {}
        for n in sorted(set(lengths[lengths > 0].tolist()) | set(extra)):
            at = starts[lengths == n]
            listed = np.ascontiguousarray(sliding_window_view(raw, n)[at]).view(f"S{n}").ravel()  # no index matrix
            by_length[n] = np.unique(np.concatenate([listed, np.array(extra.get(n, []), dtype=f"S{n}")]))
        return by_length

    def _known(self, candidates: list[str]) -> np.ndarray:
        """Which candidates are words: each looked up by binary search among the words of its length."""
        found = np.zeros(len(candidates), dtype=bool)
        encoded = [c.encode() for c in candidates]
        at_length: dict[int, list[int]] = defaultdict(list)
        for i, c in enumerate(encoded):
            at_length[len(c)].append(i)
        for n, indices in at_length.items():
            words = self._by_length.get(n)
            if words is not None:
                keys = np.array([encoded[i] for i in indices], dtype=words.dtype)
                at = np.minimum(np.searchsorted(words, keys), len(words) - 1)
                found[indices] = words[at] == keys
        return found

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
