"""Safety tags at ingest: which passages are dosing instructions or unproven remedies.

The rules live in prompts/safety_policy.yaml. `DosePatterns` is shared with the bot's output guard and
the evaluation's leak check, so "what counts as a dose" is defined once.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from functools import cache

import prompts

from .structure import Passage

DOSING = "dosing"
UNPROVEN_REMEDY = "unproven_remedy"
TAGS = (DOSING, UNPROVEN_REMEDY)


def fold(text: str) -> str:
    """Lower-case and strip accents, so one pattern covers 'Prednisolon', 'prednisolona', 'carbamazépine'."""
    if text.isascii():  # the common case, and the hot path of tagging: nothing to strip
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def _compile(patterns: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.I)


class DosePatterns:
    """Finds written-out doses: amounts with units, per-kg doses, frequencies."""

    def __init__(self, patterns: list[str] | None = None) -> None:
        self._re = _compile(patterns or prompts.load("safety_policy")["dose_patterns"])

    def find(self, text: str) -> list[str]:
        return [m.group(0) for m in self._re.finditer(fold(text))]

    def search(self, text: str) -> bool:
        return self._re.search(fold(text)) is not None


@cache
def dose_patterns() -> DosePatterns:
    return DosePatterns()


class SafetyTagger:
    """Adds `dosing` / `unproven_remedy` tags to passages.

    A passage is tagged when its own text matches, when a heading on its section path (or its table column)
    matches, or when another passage of the same line (table cell, list item) is tagged: a dosing line is
    tagged as a whole. A list introduced by a tagged line inherits the tag.
    """

    def __init__(self, policy: dict | None = None) -> None:
        policy = policy or prompts.load("safety_policy")
        rules = policy["tagging"]
        self._doses = DosePatterns(policy["dose_patterns"])
        self._text = {
            DOSING: _compile(rules[DOSING]["patterns"]),
            UNPROVEN_REMEDY: _compile(rules[UNPROVEN_REMEDY]["patterns"]),
        }
        self._headings = {tag: _compile(rules[tag]["headings"]) for tag in TAGS}
        self._spread = bool(rules.get("spread_to_following_list", True))

    def tags_for_text(self, text: str) -> set[str]:
        folded = fold(text)
        tags = {tag for tag, rx in self._text.items() if rx.search(folded)}
        if self._doses.search(text):
            tags.add(DOSING)
        return tags

    def tag(self, passages: list[Passage]) -> list[Passage]:
        tags: list[set[str]] = []
        for p in passages:
            own = self.tags_for_text(p.text)
            for heading in p.section:
                folded = fold(heading)
                own |= {tag for tag, rx in self._headings.items() if rx.search(folded)}
            tags.append(own)
        # A line is tagged as a whole.
        by_line: dict[tuple[str, int], set[str]] = {}
        for p, t in zip(passages, tags):
            by_line.setdefault((p.source, p.line), set()).update(t)
        tags = [set(by_line[(p.source, p.line)]) for p in passages]
        # A list inherits the tag of the line that introduces it ("…: " right before the list).
        if self._spread:
            for i, p in enumerate(passages):
                j = intro_of(passages, i) if p.kind == "list_item" else None
                if j is not None:
                    tags[i] |= tags[j]
        return [replace(p, tags=frozenset(t)) for p, t in zip(passages, tags)]


def intro_of(passages: list[Passage], i: int) -> int | None:
    """Index of the line introducing the list that passage i belongs to, if it ends with a colon."""
    j = i
    while j > 0 and passages[j - 1].kind == "list_item" and passages[j - 1].block == passages[i].block:
        j -= 1
    if j > 0 and passages[j - 1].kind != "list_item" and passages[j - 1].text.rstrip().endswith(":"):
        if passages[j - 1].section == passages[i].section:
            return j - 1
    return None
