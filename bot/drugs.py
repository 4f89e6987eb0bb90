"""Medicine names from a maintained dictionary (drug-named-entity-recognition: DrugBank, MeSH and NHS names and
brands, shipped inside its wheel, offline), so that the guard recognises any medicine, not only the ones our
lexicon lists, and the spelling correction never turns one into a word of the documents."""

from __future__ import annotations

import bz2
import importlib.util
import pickle
import re
from pathlib import Path

_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9-]*")


def _dictionary() -> dict:
    """The package's dictionary file: written forms (lower case) -> canonical names, canonical name -> data.

    Not `find_drugs` itself: importing the library builds a trigram index for fuzzy matching (which we never use)
    over its 107,360 names, measured at 2.6 s and ~340 MB of the server's memory on the first question; reading
    the dictionary file alone takes ~0.4 s. `find` below is the library's exact match (pairs of tokens first,
    then single tokens not already matched), ignoring case, as `find_drugs(tokens, is_ignore_case=True)` does it.
    """
    spec = importlib.util.find_spec("drug_named_entity_recognition")  # located, not imported (see above)
    folder = Path(next(iter(spec.submodule_search_locations)))
    packed = (folder / "drug_ner_dictionary.pkl.bz2").read_bytes()
    return pickle.loads(bz2.decompress(packed))  # the package's own data file, as trusted as its code


class DrugFinder:
    def __init__(self) -> None:
        data = _dictionary()
        self._variants, self._canonical = data["drug_variant_to_canonical"], data["drug_canonical_to_data"]

    def _match(self, written: str) -> list[tuple[str, str]]:
        return [(written, str(self._canonical.get(c, {}).get("name") or c))
                for c in self._variants.get(written.lower(), ())]

    def find(self, text: str) -> list[tuple[str, str]]:
        """(the words as written, the medicine's generic name) for each medicine the text names."""
        tokens = _TOKEN.findall(text)
        out, taken = [], set()
        for i in range(len(tokens) - 1):
            if pair := self._match(f"{tokens[i]} {tokens[i + 1]}"):
                out += pair
                taken.update((i, i + 1))
        for i, token in enumerate(tokens):
            if i not in taken:
                out += self._match(token)
        return out

    def words(self, text: str) -> set[str]:
        """Lower-case words of the text that are (part of) a medicine's name."""
        return {w.lower() for written, _ in self.find(text) for w in written.split()}
