"""Names of one thing, from MedQuAD's NIH pages (bot/models/synonyms.npz, built by `python -m train synonyms`).

A disorder page's focus and the UMLS synonyms it lists ("Indigestion": dyspepsia, upset stomach; "Appetite -
decreased": anorexia, loss of appetite; "Rashes": dermatitis, skin rash) say in a patient's words what a document
says in a clinician's. The answer pipeline uses them for one question: does a medicine's side-effect list name the
effect a patient asks about ("Can pyridostigmine upset my stomach?": its list has no dyspepsia, so no)?
"""

from __future__ import annotations

from functools import cached_property, lru_cache
from pathlib import Path

from ingest.text import analyze

from . import wordlist

MODEL = Path(__file__).with_name("models") / "synonyms.npz"
SEP = "|"


@lru_cache(maxsize=65536)  # every name is read once to index it and again for each side-effect question
def stems(name: str) -> frozenset[str]:
    """A name as the keyword index reads it, word order aside: MedlinePlus writes "Pain - joints" for joint pain."""
    return frozenset(analyze(name.replace(" - ", " ")))


class SynonymGroups:
    def __init__(self, groups: list[str]) -> None:
        """`groups`: the names of one thing each, joined by "|"."""
        self.groups = [tuple(n for n in g.split(SEP) if n) for g in groups]

    @classmethod
    def load(cls, path: Path = MODEL) -> "SynonymGroups":
        return cls(wordlist.load(path, "groups"))

    def save(self, path: Path) -> None:
        wordlist.save(path, "groups", (SEP.join(g) for g in self.groups))

    @cached_property
    def _index(self) -> dict[frozenset[str], list[int]]:
        index: dict[frozenset[str], list[int]] = {}
        for i, group in enumerate(self.groups):
            for name in group:
                index.setdefault(stems(name), []).append(i)
        return index

    def same_as(self, item: str) -> set[str]:
        """The other names of what `item` names: every synonym of a page that lists it. An item no page names whole
        ("increased sweating") is read by its words that one names ("sweating": "perspiration")."""
        own = stems(item)
        found = self._index.get(own) or [i for w in own for i in self._index.get(frozenset({w}), [])]
        return {n for i in found for n in self.groups[i] if stems(n) and stems(n) != own}
