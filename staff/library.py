"""The library as staff see it: documents with their metadata, passages by section, and why tagged passages
are blocked (never quoted to a patient). Read from the index catalogue (the same rows the bot loads).

Why a passage is tagged is reconstructed with the tagger's own public pieces: its text matches (with the
dose phrases found), a heading on its section path matches, another passage of the same table row / list
line is tagged, or the line introducing its list is tagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from ingest.index import Catalogue
from ingest.safety import DosePatterns, SafetyTagger, intro_of
from ingest.structure import Passage


@dataclass(frozen=True)
class TaggedWhy:
    tag: str
    why: str


@dataclass
class PassageView:
    passage: Passage
    reasons: list[TaggedWhy] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.passage.id

    @property
    def tags(self) -> list[str]:
        return sorted(self.passage.tags)


@dataclass
class SectionView:
    path: tuple[str, ...]
    passages: list[PassageView]

    @property
    def label(self) -> str:
        return " › ".join(self.path) if self.path else "(before the first heading)"

    @property
    def tagged(self) -> int:
        return sum(1 for p in self.passages if p.passage.tags)


@dataclass(frozen=True)
class DocumentSummary:
    source: str
    title: str
    metadata: dict[str, Any]
    passages: int
    tagged: dict[str, int]  # tag → passages
    characters: int


class LibraryView:
    """Reads the catalogue on each call (cheap, and a re-ingest shows up without a restart)."""

    def __init__(self, index_db: Path) -> None:
        self.index_db = Path(index_db)

    @cached_property
    def catalogue(self) -> Catalogue:
        return Catalogue(self.index_db)

    @cached_property
    def _tagger(self) -> SafetyTagger:
        return SafetyTagger()

    @cached_property
    def _doses(self) -> DosePatterns:
        return DosePatterns()

    def documents(self) -> list[DocumentSummary]:
        docs = self.catalogue.documents()
        passages = self.catalogue.passages()
        out = []
        for source, d in sorted(docs.items(), key=lambda kv: kv[1].title.lower()):
            mine = [p for p in passages if p.source == source]
            tagged: dict[str, int] = {}
            for p in mine:
                for t in p.tags:
                    tagged[t] = tagged.get(t, 0) + 1
            out.append(DocumentSummary(source, d.title, dict(d.metadata), len(mine), dict(sorted(tagged.items())),
                                       len(d.text)))
        return out

    def document(self, source: str) -> tuple[DocumentSummary, list[SectionView]] | None:
        summary = next((d for d in self.documents() if d.source == source), None)
        if summary is None:
            return None
        passages = self.catalogue.passages([source])
        views = self.explain(passages)
        sections: list[SectionView] = []
        for v in views:
            if not sections or sections[-1].path != v.passage.section:
                sections.append(SectionView(v.passage.section, []))
            sections[-1].passages.append(v)
        return summary, sections

    def explain(self, passages: list[Passage]) -> list[PassageView]:
        """Each passage with the reasons for each of its tags (same order as given)."""
        own = [self._tagger.tags_for_text(p.text) for p in passages]
        by_line: dict[tuple[str, int], list[int]] = {}
        for i, p in enumerate(passages):
            by_line.setdefault((p.source, p.line), []).append(i)
        heading_tags: dict[str, set[str]] = {}
        views = []
        for i, p in enumerate(passages):
            reasons: list[TaggedWhy] = []
            for tag in sorted(p.tags):
                if tag in own[i]:
                    found = self._doses.find(p.text) if tag == "dosing" else []
                    reasons.append(TaggedWhy(tag, "its text matches the policy"
                                             + (f" (dose: {', '.join(dict.fromkeys(found))})" if found else "")))
                for heading in p.section:
                    if heading not in heading_tags:
                        probe = replace(p, text="", section=(heading,), line=-1, kind="sentence")
                        heading_tags[heading] = set(self._tagger.tag([probe])[0].tags)
                    if tag in heading_tags[heading]:
                        reasons.append(TaggedWhy(tag, f"its section heading “{heading}” matches the policy"))
                        break
                same_line = [j for j in by_line[(p.source, p.line)] if j != i and tag in own[j]]
                if same_line and tag not in own[i]:
                    reasons.append(TaggedWhy(tag, "another part of the same line or table row is tagged: "
                                             f"“{_short(passages[same_line[0]].text)}”"))
                j = intro_of(passages, i) if p.kind == "list_item" else None
                if j is not None and tag in passages[j].tags:
                    reasons.append(TaggedWhy(tag, f"the line introducing its list is tagged: “{_short(passages[j].text)}”"))
                if not any(r.tag == tag for r in reasons):
                    reasons.append(TaggedWhy(tag, "tagged at ingest (rule not reconstructed: re-run `python -m ingest` "
                                             "if the policy changed since)"))
            views.append(PassageView(p, reasons))
        return views


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
