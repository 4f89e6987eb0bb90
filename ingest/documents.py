"""Loading documents: one loader per file kind, each returning a `Document` or raising `SkipFile`.

The `text` of a Document is the text quotes are verified against. For `.txt` and `.md` it is the file
itself (front matter included, so offsets are offsets in the file); for `.html` and `.pdf` it is the text
extracted from the file, which the index stores next to the passages.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

MAX_FILE_BYTES = 20_000_000


class SkipFile(Exception):
    """A file that cannot be ingested; the message says why, in words a librarian understands."""


@dataclass(frozen=True)
class Document:
    source: str  # file name relative to the corpus root; the id quotes cite
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    body_start: int = 0  # where the content starts (after front matter)
    markup: str = "plain"  # "plain" or "markdown": how headings and lists are written

    @property
    def content_hash(self) -> str:
        meta = yaml.safe_dump(self.metadata, sort_keys=True)
        return hashlib.sha256((meta + "\0" + self.text).encode("utf-8")).hexdigest()

    @property
    def title(self) -> str:
        return str(self.metadata.get("title") or self.source)


def _decode(path: Path) -> str:
    data = path.read_bytes()
    if not data.strip():
        raise SkipFile("the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise SkipFile(f"the file is larger than {MAX_FILE_BYTES // 1_000_000} MB")
    if b"\x00" in data[:8192]:
        raise SkipFile("the file looks binary (it contains NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SkipFile(f"the file is not valid UTF-8 (byte {exc.start})") from None
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\t\n\r\f")
    if controls > 8:
        raise SkipFile("the file looks binary (it is full of control characters)")
    # Keep offsets stable across platforms: quotes are verified against this exact string.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def load_text(path: Path) -> tuple[str, dict[str, Any], int, str]:
    return _decode(path), {}, 0, "plain"


_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.S)


def load_markdown(path: Path) -> tuple[str, dict[str, Any], int, str]:
    text = _decode(path)
    meta: dict[str, Any] = {}
    body_start = 0
    match = _FRONT_MATTER.match(text)
    if match:
        try:
            loaded = yaml.safe_load(match.group(1)) or {}
        except yaml.YAMLError as exc:
            raise SkipFile(f"its YAML front matter is malformed ({exc.__class__.__name__})") from None
        if not isinstance(loaded, dict):
            raise SkipFile("its YAML front matter is not a mapping of keys to values")
        meta = {str(k): v for k, v in loaded.items()}
        body_start = match.end()
    if not text[body_start:].strip():
        raise SkipFile("the file has no content after its front matter")
    return text, meta, body_start, "markdown"


_BLOCK_TAGS = {"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "dt", "dd", "pre", "blockquote", "caption"}


_CONTAINERS = {"div", "section", "article", "main", "body", "ul", "ol", "dl", "table", "tr", "tbody", "thead", "figure", "span_block"}


def _holder(node):
    parent = node.parent
    while parent is not None and parent.name not in _BLOCK_TAGS | _CONTAINERS and parent.name != "[document]":
        parent = parent.parent
    return parent


def load_html(path: Path) -> tuple[str, dict[str, Any], int, str]:
    """HTML becomes Markdown-like lines: `#` headings, `- ` list items, one paragraph per line."""
    from bs4 import BeautifulSoup, Comment

    soup = BeautifulSoup(_decode(path), "html.parser")
    for tag in soup(["script", "style", "nav", "header", "footer", "aside", "noscript", "template", "form"]):
        tag.decompose()
    meta: dict[str, Any] = {}
    if soup.title and soup.title.get_text(strip=True):
        meta["title"] = soup.title.get_text(" ", strip=True)
    for name, key in (("publisher", "publisher"), ("last-reviewed", "last_reviewed"), ("description", "description")):
        tag = soup.find("meta", attrs={"name": name})
        if tag and tag.get("content"):
            meta[key] = tag["content"]
    lines: list[str] = []
    body = soup.body or soup
    # Every piece of text belongs to its nearest block (or container) ancestor, so text beside a nested
    # list ("Call your doctor if:") or loose in a <div> is kept, once, in document order.
    holders = [el for el in body.find_all(True) if el.name in _BLOCK_TAGS | _CONTAINERS]
    if body.name in _CONTAINERS or body is soup:
        holders.insert(0, body)
    for el in holders:
        own = [s for s in el.find_all(string=True) if _holder(s) is el and not isinstance(s, Comment)]  # noqa
        text = " ".join(" ".join(own).split())
        if not text:
            continue
        if el.name in ("h1", "h2", "h3", "h4", "h5", "h6"):
            lines.append("#" * int(el.name[1]) + " " + text)
        elif el.name == "li":
            lines.append("- " + text)
        else:
            lines.append(text)
    if not lines:
        raise SkipFile("the HTML page has no readable text")
    return "\n".join(lines) + "\n", meta, 0, "markdown"


def load_pdf(path: Path) -> tuple[str, dict[str, Any], int, str]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not path.read_bytes()[:1024].lstrip().startswith(b"%PDF"):
        raise SkipFile("the file does not start like a PDF")
    try:
        reader = PdfReader(str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata or {}
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise SkipFile(f"the PDF cannot be read ({exc.__class__.__name__}: {exc})") from None
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text.strip():
        raise SkipFile("the PDF has no extractable text (a scan without OCR?)")
    meta = {"title": str(info.title)} if getattr(info, "title", None) else {}
    return text + "\n", meta, 0, "plain"


LOADERS: dict[str, Callable[[Path], tuple[str, dict[str, Any], int, str]]] = {
    ".txt": load_text,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
}


def load_document(path: Path, source: str, manifest: dict[str, dict[str, Any]] | None = None) -> Document:
    """Load one file; raises SkipFile with the reason when it cannot be ingested."""
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise SkipFile(f"unsupported file type '{path.suffix or '(none)'}' (supported: {', '.join(sorted(LOADERS))})")
    text, meta, body_start, markup = loader(path)
    merged = {**meta, **((manifest or {}).get(source) or {})}
    merged = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in merged.items() if v is not None}
    return Document(source=source, text=text, metadata=merged, body_start=body_start, markup=markup)


def read_manifest(root: Path) -> dict[str, dict[str, Any]]:
    """`manifest.yaml` in a corpus folder maps file names to metadata for formats that carry none."""
    path = root / "manifest.yaml"
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SkipFile(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SkipFile(f"{path} must map file names to metadata")
    return {str(k): dict(v or {}) for k, v in data.items()}
