"""Loaders: one small real file of each kind (tests/fixtures), and the files that must be skipped.

The PDF fixture was made once with matplotlib's PDF backend (fig.text lines, savefig .pdf, a Title in its
metadata); pypdf extracts its text.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from ingest.documents import SkipFile, load_document
from ingest.structure import StructureParser

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def parse(doc):
    passages = StructureParser().parse(doc)
    for p in passages:  # the offsets contract holds for every loader
        assert p.text == doc.text[p.start : p.end], p
    return passages


def by_text(passages, fragment):
    found = [p for p in passages if fragment in p.text]
    assert found, f"no passage contains {fragment!r}: {[p.text for p in passages]}"
    return found[0]


# ---- the four kinds ---------------------------------------------------------------------------------
class TestTextLoader:
    def test_text_is_the_file_and_offsets_point_into_it(self):
        path = FIXTURES / "sample.txt"
        doc = load_document(path, "sample.txt")
        assert doc.text == path.read_text(encoding="utf-8")
        assert doc.markup == "plain" and doc.body_start == 0
        passages = parse(doc)
        raw = path.read_text(encoding="utf-8")
        for p in passages:
            assert raw[p.start : p.end] == p.text

    def test_plain_text_headings_bullets_and_citations(self):
        doc = load_document(FIXTURES / "sample.txt", "sample.txt")
        passages = parse(doc)
        dizzy = by_text(passages, "feel dizzy")
        assert dizzy.section == ("What are the symptoms?",)
        item = by_text(passages, "Loss of coordination")
        assert item.kind == "list_item" and item.text == "Loss of coordination"  # bullet trimmed, not rewritten
        cause = by_text(passages, "attacks healthy nerve cells")
        assert cause.section == ("Causes of the syndrome",)
        assert not re.search(r"\[\s*\d+\s*\]", cause.text), "a trailing citation marker was kept"
        assert all(not re.fullmatch(r"\[\s*\d+\s*\]", p.text) for p in passages)

    def test_manifest_metadata_is_merged(self, tmp_path):
        (tmp_path / "a.txt").write_text("Symptoms\nTiredness is common in this condition.\n", encoding="utf-8")
        from ingest.documents import read_manifest

        (tmp_path / "manifest.yaml").write_text("a.txt:\n  title: A title from the manifest\n  publisher: P\n")
        doc = load_document(tmp_path / "a.txt", "a.txt", read_manifest(tmp_path))
        assert doc.title == "A title from the manifest" and doc.metadata["publisher"] == "P"


class TestMarkdownLoader:
    def test_front_matter_becomes_metadata(self):
        doc = load_document(FIXTURES / "sample.md", "sample.md")
        assert doc.title == "Living with paraneoplastic syndrome"
        assert doc.metadata["publisher"] == "Fixture Clinic"
        assert doc.metadata["last_reviewed"] == "2024-03-01"  # a YAML date, stored as ISO text
        assert doc.markup == "markdown"

    def test_offsets_are_offsets_into_the_file_front_matter_included(self):
        path = FIXTURES / "sample.md"
        raw = path.read_text(encoding="utf-8")
        doc = load_document(path, "sample.md")
        assert doc.text == raw
        assert raw[: doc.body_start].startswith("---\n") and raw[: doc.body_start].endswith("---\n")
        passages = parse(doc)
        assert passages
        for p in passages:
            assert p.start >= doc.body_start
            assert raw[p.start : p.end] == p.text
        assert not any("Fixture Clinic" in p.text or "publisher" in p.text for p in passages)

    def test_headings_and_list_items(self):
        passages = parse(load_document(FIXTURES / "sample.md", "sample.md"))
        rest = by_text(passages, "Rest when you feel tired.")
        assert rest.kind == "list_item" and rest.section == ("Daily life",)
        assert by_text(passages, "Support groups").section == ("Support",)
        # the H1 repeats the title: it is not a section of its own
        assert all("Living with paraneoplastic syndrome" not in p.section for p in passages)


class TestHtmlLoader:
    def test_metadata_from_head(self):
        doc = load_document(FIXTURES / "sample.html", "sample.html")
        assert doc.title == "Myasthenia gravis and cancer"
        assert doc.metadata["publisher"] == "Fixture Health Library"
        assert doc.metadata["last_reviewed"] == "2024-05-01"

    def test_headings_list_items_and_no_page_furniture(self):
        doc = load_document(FIXTURES / "sample.html", "sample.html")
        for junk in ("do-not-index-this-script", "color: #333", "Home page link", "Copyright notice", "Fixture Health home"):
            assert junk not in doc.text
        passages = parse(doc)
        item = by_text(passages, "Double vision that comes and goes")
        assert item.kind == "list_item" and item.section == ("Symptoms",)
        assert by_text(passages, "Trouble swallowing or chewing").kind == "list_item"  # inline tags flattened
        treat = by_text(passages, "planned by your care team")
        assert treat.section == ("Treatment",) and "&" in treat.text and "&amp;" not in treat.text

    @pytest.mark.parametrize(
        "body, kept",
        [
            ("<ul><li>Call your doctor if:<ul><li>you have a fever</li><li>you feel faint</li></ul></li></ul>",
             "Call your doctor if:"),
            ("<div>Fatigue is the most common complaint of patients.</div><p>Another paragraph here.</p>",
             "Fatigue is the most common complaint of patients."),
        ],
        ids=["parent-of-nested-list", "text-in-a-div"],
    )
    def test_no_readable_text_is_silently_lost(self, tmp_path, body, kept):
        """'The rest is ingested': text of a page is never dropped because of how its tags nest."""
        path = tmp_path / "page.html"
        path.write_text(f"<html><head><title>T</title></head><body>{body}</body></html>", encoding="utf-8")
        doc = load_document(path, "page.html")
        assert kept in doc.text, f"{kept!r} was dropped; extracted text: {doc.text!r}"


class TestPdfLoader:
    def test_real_pdf_text_and_title(self):
        doc = load_document(FIXTURES / "sample.pdf", "sample.pdf")
        assert doc.title == "Lambert-Eaton syndrome (fixture)"
        passages = parse(doc)
        first = by_text(passages, "rare paraneoplastic disorder of the nerve-muscle junction")
        assert first.section == ("Lambert-Eaton syndrome",)
        dry = by_text(passages, "dry mouth and drooping eyelids")
        assert dry.section == ("Symptoms",)


# ---- files that are skipped -----------------------------------------------------------------------
BAD_FILES = {
    "empty.txt": (b"", "empty"),
    "blank.md": (b"  \n\n\t\n", "empty"),
    "binary.txt": (b"PK\x03\x04\x00\x00\x00binary\x00stuff" * 10, "binary"),
    "latin1.txt": ("Caf\u00e9 cr\u00e8me \u00e0 la fran\u00e7aise, na\u00efve r\u00e9sum\u00e9.".encode("latin-1"), "UTF-8"),
    "report.docx": (b"PK\x03\x04 pretend this is a Word file", "unsupported"),
    "broken.md": (b"---\ntitle: [unclosed\npublisher: x\n---\nBody text of the page.\n", "front matter"),
    "list-meta.md": (b"---\n- just\n- a list\n---\nBody text of the page.\n", "front matter"),
    "fake.pdf": (b"this is not a pdf at all, only text", "PDF"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_raises_skipfile_with_reason(tmp_path, name):
    data, reason = BAD_FILES[name]
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(SkipFile) as exc:
        load_document(path, name)
    assert reason.lower() in str(exc.value).lower()


def test_ingest_skips_bad_files_by_name_and_indexes_the_rest(tmp_path, caplog, vt):
    from ingest.pipeline import Ingestor

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, (data, _) in BAD_FILES.items():
        (corpus / name).write_bytes(data)
    (corpus / "good.md").write_bytes((FIXTURES / "sample.md").read_bytes())
    settings = vt.make_settings(tmp_path / "data", corpus)
    with caplog.at_level(logging.WARNING, logger="verbatim.ingest"):
        report = Ingestor(settings.index).run(progress=False)
    assert report.added == ["good.md"]
    skipped = dict(report.skipped)
    assert set(skipped) == set(BAD_FILES)
    for name, (_, reason) in BAD_FILES.items():
        assert reason.lower() in skipped[name].lower(), (name, skipped[name])
        assert any(name in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records), name
    assert report.passages > 0 and report.chunks > 0
