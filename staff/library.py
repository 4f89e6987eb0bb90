"""The library as staff see it: documents with their metadata, passages by section, and why tagged passages
are blocked (never quoted to a patient). Read from the index catalogue (the same rows the bot loads).

Why a passage is tagged comes from the tagger itself (`SafetyTagger.explain`), so the reasons follow the same
rules that tagged it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ingest.index import Catalogue
from ingest.safety import SafetyTagger, TagReason
from ingest.structure import Passage, heading_path


@dataclass
class PassageView:
    passage: Passage
    reasons: list[TagReason] = field(default_factory=list)

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
        return heading_path(self.path)

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

    def __init__(self, catalogue_url: str) -> None:
        self.catalogue_url = catalogue_url

    @cached_property
    def catalogue(self) -> Catalogue:
        return Catalogue(self.catalogue_url)

    @cached_property
    def _tagger(self) -> SafetyTagger:
        return SafetyTagger()

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
        """Each passage with the tagger's reasons for each of its tags (same order as given)."""
        return [PassageView(p, reasons) for p, reasons in zip(passages, self._tagger.explain(passages))]
