"""Safety tags at ingest: which passages are dosing instructions or unproven remedies.

The rules live in prompts/safety_policy.yaml. `DosePatterns` is shared with the bot's output guard and
the evaluation's leak check, so "what counts as a dose" is defined once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cache

import prompts

from .structure import Passage
from .text import fold

DOSING = "dosing"
UNPROVEN_REMEDY = "unproven_remedy"
TAGS = (DOSING, UNPROVEN_REMEDY)


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


    def heading_tags(self, heading: str) -> set[str]:
        """The tags a section heading (or table column name) gives every passage under it."""
        folded = fold(heading)
        return {tag for tag, rx in self._headings.items() if rx.search(folded)}

    def explain(self, passages: list[Passage]) -> list[list[TagReason]]:
        """Why each passage carries each of its tags (`p.tags`, as stored at ingest), for staff: by the rules of
        `tag` — its own text (with the dose phrases found), a heading on its section path, another passage of the
        same line or table row, the line introducing its list. Same order as given; pass a whole document's
        passages, in order, so lines and lists are complete. A tag no rule gives any more says so."""
        own = [self.tags_for_text(p.text) for p in passages]
        by_line: dict[tuple[str, int], list[int]] = {}
        for i, p in enumerate(passages):
            by_line.setdefault((p.source, p.line), []).append(i)
        headings: dict[str, set[str]] = {}
        out: list[list[TagReason]] = []
        for i, p in enumerate(passages):
            reasons: list[TagReason] = []
            for tag in sorted(p.tags):
                if tag in own[i]:
                    found = self._doses.find(p.text) if tag == DOSING else []
                    reasons.append(TagReason(tag, "its text matches the policy"
                                             + (f" (dose: {', '.join(dict.fromkeys(found))})" if found else "")))
                for heading in p.section:
                    if heading not in headings:
                        headings[heading] = self.heading_tags(heading)
                    if tag in headings[heading]:
                        reasons.append(TagReason(tag, f"its section heading “{heading}” matches the policy"))
                        break
                same_line = [j for j in by_line[(p.source, p.line)] if j != i and tag in own[j]]
                if same_line and tag not in own[i]:
                    reasons.append(TagReason(tag, "another part of the same line or table row is tagged: "
                                              f"“{_short(passages[same_line[0]].text)}”"))
                j = intro_of(passages, i) if self._spread and p.kind == "list_item" else None
                if j is not None and tag in passages[j].tags:
                    reasons.append(TagReason(tag, f"the line introducing its list is tagged: “{_short(passages[j].text)}”"))
                if not any(r.tag == tag for r in reasons):
                    reasons.append(TagReason(tag, "tagged at ingest (rule not reconstructed: re-run `python -m ingest` "
                                              "if the policy changed since)"))
            out.append(reasons)
        return out


@dataclass(frozen=True)
class TagReason:
    """One reason a passage carries a tag, in words for the staff console."""

    tag: str
    why: str


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def intro_of(passages: list[Passage], i: int) -> int | None:
    """Index of the line introducing the list that passage i belongs to, if it ends with a colon."""
    j = i
    while j > 0 and passages[j - 1].kind == "list_item" and passages[j - 1].block == passages[i].block:
        j -= 1
    if j > 0 and passages[j - 1].kind != "list_item" and passages[j - 1].text.rstrip().endswith(":"):
        if passages[j - 1].section == passages[i].section:
            return j - 1
    return None
