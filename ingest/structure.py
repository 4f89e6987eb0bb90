"""From a document's text to passages: cleaning, sections, tables, sentences and list items.

Everything works on character offsets into `Document.text`. Cleaning drops whole lines; passages are spans
of kept lines, trimmed at their edges only (bullets, table bars, trailing citation markers), so every
passage's text is exactly `document.text[start:end]`.

The sentence and heading rules are hand-written on purpose: LangChain's splitters (and NLTK/spaCy, which
need models we cannot download) return text, not offsets into the original, and merge units we need to keep
apart (one list item, one table cell, one sentence).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from itertools import islice

import prompts

from .documents import Document

PARSER_VERSION = "2"  # bump when the parsing code changes what it produces

_BULLET = re.compile(r"^(\s*)(?:[-*+•●▪◦–]|\d{1,2}[.)])\s+")
_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_TRAILING_CITATION = re.compile(r"(\s*\[\s*\d+(?:\s*[-,]\s*\d+)*\s*\])+\s*$")


SECTION_SEPARATOR = " › "
BEFORE_FIRST_HEADING = "Introduction"  # the label of the text before a document's first heading


def heading_path(section: tuple[str, ...] | list[str]) -> str:
    """A heading path as people read it ("Treatment › Carbamazepine › Side effects"); the text before the
    first heading is the "Introduction". The one label for a section wherever the bot shows one."""
    return SECTION_SEPARATOR.join(section) if section else BEFORE_FIRST_HEADING


@dataclass(frozen=True)
class Passage:
    """The unit a quote is made of: one sentence, list item or table cell, with where it stands."""

    source: str
    start: int
    end: int
    text: str
    section: tuple[str, ...]
    kind: str  # "sentence" | "list_item" | "table_cell"
    line: int  # ordinal of the line (list item, table cell) it belongs to: tags spread over a line
    block: int  # ordinal of the block (paragraph, list, table) it belongs to
    tags: frozenset[str] = field(default_factory=frozenset)

    @property
    def id(self) -> str:
        return f"{self.source}:{self.start}-{self.end}"

    @property
    def heading(self) -> str:
        """The passage's section as people read it (`heading_path`)."""
        return heading_path(self.section)


@dataclass
class _Line:
    start: int
    end: int  # exclusive, without the newline
    text: str
    kind: str = "paragraph"  # paragraph | heading | list_item | table_cell | drop
    level: int = 0
    content_start: int = 0  # where the content starts (after a bullet or `#`)
    content_end: int = 0

    @property
    def content(self) -> str:
        return self.text[self.content_start - self.start : self.content_end - self.start]


class StructureParser:
    """Turns a Document into Passages with section paths. Configuration comes from prompts/cleaning.yaml."""

    def __init__(self, config: dict | None = None) -> None:
        cfg = config or prompts.load("cleaning")
        # Stored with the index: a new parser or new cleaning rules re-process every document. Derived
        # from the rules' text, so every process computes the same value (sets have no stable order).
        digest = hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()[:8]
        self.version = f"{PARSER_VERSION}-{digest}"
        self._drop = [re.compile(p, re.I) for p in cfg["drop_lines"]]
        self._blocks = [(re.compile(b["start"], re.I), re.compile(b["end"], re.I)) for b in cfg.get("drop_blocks", [])]
        self._keywords = re.compile(r"^(?:" + "|".join(cfg["section_keywords"]) + r")\b", re.I)
        self._max_words = int(cfg["heading_max_words"])
        self._abbrev = {a.lower() for a in cfg["abbreviations"]}
        self._item_max = int(cfg["list_item_max_chars"])

    # ---- lines -------------------------------------------------------------------------------------
    def _lines(self, doc: Document) -> list[_Line]:
        lines: list[_Line] = []
        pos = doc.body_start
        title = doc.title.strip().lower()
        for raw in doc.text[doc.body_start :].split("\n"):
            line = _Line(pos, pos + len(raw), raw)
            pos += len(raw) + 1
            self._classify(line, doc, title)
            lines.append(line)
        self._drop_blocks(lines)
        return self._drop_empty_headings(lines)

    def _drop_blocks(self, lines: list[_Line]) -> None:
        for start, end in self._blocks:
            opened = None
            for i, ln in enumerate(lines):
                s = ln.text.strip()
                if opened is None and start.match(s):
                    opened = i
                elif opened is not None and end.match(s):
                    for dropped in lines[opened : i + 1]:
                        dropped.kind = "drop"
                    opened = None

    def _classify(self, line: _Line, doc: Document, title: str) -> None:
        stripped = line.text.strip()
        lead = len(line.text) - len(line.text.lstrip())
        line.content_start, line.content_end = line.start + lead, line.start + lead + len(stripped)
        if not stripped:
            line.kind = "drop"
            return
        low = stripped.lower()
        # Boilerplate lines are short; matching from the start keeps long paragraphs linear-time.
        if low == title or (len(stripped) <= 300 and any(p.match(stripped) for p in self._drop)):
            line.kind = "drop"
            return
        if doc.markup == "markdown":
            m = _MD_HEADING.match(line.text)
            if m:
                line.kind, line.level = "heading", len(m.group(1))
                line.content_start = line.start + m.start(2)
                line.content_end = line.start + m.end(2)
                if m.group(2).strip().lower() == title:
                    line.kind = "drop"
                return
        if stripped.endswith("|"):
            line.kind = "table_cell"
            cell = stripped[:-1].rstrip()
            line.content_end = line.content_start + len(cell)
            return
        bullet = _BULLET.match(line.text)
        if bullet:
            line.kind = "list_item"
            line.content_start = line.start + bullet.end()
            return
        if doc.markup == "plain" and self._looks_like_heading(stripped):
            line.kind = "heading"
            line.level = 1 if (stripped.endswith("?") or self._keywords.match(stripped)) else 2

    def _looks_like_heading(self, s: str) -> bool:
        if len(s.split()) > self._max_words or len(s) > 120:
            return False
        if s[-1] in ".,;:!" or ". " in s or not (s[0].isupper() or s[0].isdigit()):
            return False
        return True

    def _drop_empty_headings(self, lines: list[_Line]) -> list[_Line]:
        """A heading followed by a heading of the same or a higher level (or nothing) has no content."""
        # Promote short, unpunctuated list items that stand alone before a paragraph to subheadings
        # ("- Neurological paraneoplastic syndrome" followed by its paragraphs).
        kept = [ln for ln in lines if ln.kind != "drop"]
        for i, ln in enumerate(kept):
            if ln.kind != "list_item":
                continue
            prev_kind = kept[i - 1].kind if i else "heading"
            next_kind = kept[i + 1].kind if i + 1 < len(kept) else "heading"
            content = ln.content.strip()
            if (
                prev_kind != "list_item"
                and next_kind == "paragraph"
                and content
                and content[-1] not in ".;:,!?"
                and len(content.split()) <= 8
            ):
                ln.kind, ln.level = "heading", 3
        changed = True
        while changed:
            changed = False
            for i, ln in enumerate(kept):
                if ln.kind != "heading":
                    continue
                nxt = kept[i + 1] if i + 1 < len(kept) else None
                if nxt is None or (nxt.kind == "heading" and nxt.level <= ln.level):
                    ln.kind = "drop"
                    changed = True
            kept = [ln for ln in kept if ln.kind != "drop"]
        return kept

    # ---- passages ----------------------------------------------------------------------------------
    def parse(self, doc: Document) -> list[Passage]:
        passages: list[Passage] = []
        path: list[tuple[int, str]] = []  # (level, heading)
        lines = self._lines(doc)
        block = 0
        prev_kind = ""
        i = 0
        while i < len(lines):
            ln = lines[i]
            if ln.kind == "heading":
                path = [(lvl, h) for lvl, h in path if lvl < ln.level] + [(ln.level, ln.content.strip())]
                prev_kind = "heading"
                i += 1
                continue
            section = tuple(h for _, h in path)
            if ln.kind == "table_cell":
                j = i
                while j < len(lines) and lines[j].kind == "table_cell":
                    j += 1
                block += 1
                passages.extend(self._table(doc, lines[i:j], section, block, i))
                prev_kind = "table_cell"
                i = j
                continue
            if ln.kind != prev_kind or ln.kind == "paragraph":
                block += 1
            if ln.kind == "list_item" and len(ln.content) <= self._item_max:
                passages.extend(self._span(doc, ln.content_start, ln.content_end, section, "list_item", i, block))
            else:
                kind = "list_item" if ln.kind == "list_item" else "sentence"
                for s, e in self._sentences(doc.text, ln.content_start, ln.content_end):
                    passages.extend(self._span(doc, s, e, section, kind, i, block))
            prev_kind = ln.kind
            i += 1
        return passages

    def _table(self, doc: Document, cells: list[_Line], section: tuple[str, ...], block: int, first: int):
        """Runs of lines ending in `|` are tables written one cell per line.

        A header ends at the first empty cell (its width then includes the row-label column); without an
        empty cell the table has two columns. Each row's first cell labels the row; the other cells become
        passages whose section path ends with the row label and the column name.
        """
        texts = [c.content.strip() for c in cells]
        if "" in texts:
            cut = texts.index("")
            header, width, start = texts[:cut], cut + 1, cut + 1
        else:
            header, width, start = texts[:1] + texts[1:2], 2, 2
            header = header[1:]  # the value column names; the first names the row labels
        out: list[Passage] = []
        k = start
        while k < len(cells):
            if texts[k : k + len(header)] == header and k + len(header) < len(texts) and texts[k + len(header)] == "":
                k += len(header) + 1  # a repeated header row
                continue
            row = cells[k : k + width]
            label = row[0].content.strip()
            for col, cell in enumerate(row[1:]):
                column = header[col] if col < len(header) else ""
                sect = section + tuple(x for x in (label, column) if x)
                for s, e in self._sentences(doc.text, cell.content_start, cell.content_end):
                    out.extend(self._span(doc, s, e, sect, "table_cell", first + k + col + 1, block))
            k += width
        return out

    def _span(self, doc, start, end, section, kind, line, block):
        text = doc.text[start:end]
        m = _TRAILING_CITATION.search(text)
        if m:
            end = start + m.start()
        while start < end and doc.text[start].isspace():
            start += 1
        while end > start and doc.text[end - 1].isspace():
            end -= 1
        body = doc.text[start:end]
        if len(list(islice(filter(str.isalnum, body), 3))) < 3:  # no words at all (stops at the third)
            return []
        return [Passage(doc.source, start, end, body, section, kind, line, block)]

    _BOUNDARY = re.compile(r"[.!?][\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")

    def _sentences(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        spans = []
        cur = start
        for m in self._BOUNDARY.finditer(text, start, end):
            before = text[cur : m.start()].split()
            word = before[-1].lower().rstrip(".") if before else ""
            if word in self._abbrev or (len(word) == 1 and word.isalpha()):
                continue
            spans.append((cur, m.start() + 1 + len(m.group(0)[1:].rstrip())))
            cur = m.end()
        spans.append((cur, end))
        return [(s, e) for s, e in spans if e > s]

