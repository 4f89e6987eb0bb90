"""Medicine names from a maintained dictionary (drug-named-entity-recognition: DrugBank, MeSH and NHS names and
brands, shipped inside its wheel, offline), so that the guard recognises any medicine, not only the ones our
lexicon lists, and the spelling correction never turns one into a word of the documents."""

from __future__ import annotations

import re
from functools import cached_property

_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9-]*")


class DrugFinder:
    @cached_property
    def _find(self):
        # imported on first use: loading the dictionary takes ~1.5 s
        from drug_named_entity_recognition import find_drugs

        return find_drugs

    def find(self, text: str) -> list[tuple[str, str]]:
        """(the words as written, the medicine's generic name) for each medicine the text names."""
        tokens = _TOKEN.findall(text)
        out = []
        for info, start, end in self._find(tokens, is_ignore_case=True):
            out.append((" ".join(tokens[start:end]), str(info.get("name", ""))))
        return out

    def words(self, text: str) -> set[str]:
        """Lower-case words of the text that are (part of) a medicine's name."""
        return {w.lower() for written, _ in self.find(text) for w in written.split()}
