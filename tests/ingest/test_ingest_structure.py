"""Cleaning and sections on the bundled corpus: boilerplate gone, kept text never rewritten, heading paths."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest.documents import load_document, read_manifest
from ingest.index import Catalogue
from ingest.structure import StructureParser

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
DOC_000 = "000_f4ccc132db03309a.txt"
DOC_002 = "002_9009d71acc615b7f.txt"

BOILERPLATE = [
    "Jump to",
    "On the Web",
    "Images of",
    "Videos on",
    "Directions to Hospitals",
    "in the news",
    "Risk calculators",
    "All iLive content",
    "Ctrl + Enter",
    "strict sourcing guidelines",
    "Editor-In-Chief",
    "Associate Editor",
    "Medical expert of the article",
    "New publications",
    "Last reviewed",
]


@pytest.fixture(scope="module")
def parsed():
    manifest = read_manifest(CORPUS)
    out = {}
    for path in sorted(CORPUS.glob("*.txt")):
        doc = load_document(path, path.name, manifest)
        out[path.name] = (doc, StructureParser().parse(doc))
    return out


def all_passages(parsed):
    return [p for _, ps in parsed.values() for p in ps]


def find(parsed, source, fragment):
    hits = [p for p in parsed[source][1] if fragment in p.text]
    assert hits, f"no passage of {source} contains {fragment!r}"
    return hits


def test_both_documents_have_passages(parsed):
    assert set(parsed) == {DOC_000, DOC_002}
    assert all(len(ps) > 10 for _, ps in parsed.values())


@pytest.mark.parametrize("junk", BOILERPLATE)
def test_no_boilerplate_in_any_passage(parsed, junk):
    offending = [p.text for p in all_passages(parsed) if junk.lower() in p.text.lower()]
    assert not offending, offending


def test_no_bare_citation_markers(parsed):
    marker = re.compile(r"\[\s*\d+(?:\s*[-,]\s*\d+)*\s*\]")
    offending = [p.text for p in all_passages(parsed) if marker.search(p.text)]
    assert not offending, offending


def test_every_passage_is_its_span_of_the_document_and_of_the_file(parsed):
    for source, (doc, passages) in parsed.items():
        raw = (CORPUS / source).read_text(encoding="utf-8")
        assert doc.text == raw
        last_end = -1
        for p in passages:
            assert p.text == doc.text[p.start : p.end]
            assert p.text == p.text.strip() and p.text
            assert p.start >= last_end, "passages overlap or go backwards"
            last_end = p.end


def test_passages_cover_the_content_sentences(parsed):
    """Cleaning drops boilerplate, not content: key sentences of both documents are passages."""
    for source, fragment in [
        (DOC_000, "A paraneoplastic syndrome is a set of symptoms that are caused by a cancer."),
        (DOC_000, "Double vision (when you see two of the same object)"),
        (DOC_000, "There are no cures for paraneoplastic syndromes."),
        (DOC_002, "The main reason for the appearance of paraneoplastic syndrome"),
        (DOC_002, "The drug is clinically incompatible with alcohol."),
        (DOC_002, "the development of hypertrophic arthropathy deserves a relatively favorable prognosis"),
    ]:
        find(parsed, source, fragment)


def test_double_vision_is_under_the_symptoms_question(parsed):
    p = find(parsed, DOC_000, "Double vision")[0]
    assert "What are the symptoms of paraneoplastic syndromes?" in p.section
    assert any("Neurologic" in h for h in p.section)
    assert p.kind == "list_item" and p.text.startswith("Double vision")  # the bullet is not part of the quote


def test_skin_flushing_is_under_skin_symptoms(parsed):
    p = find(parsed, DOC_000, "Skin flushing")[0]
    assert p.section == ("What are the symptoms of paraneoplastic syndromes?", "Skin symptoms")


@pytest.mark.parametrize(
    "fragment, heading",
    [
        ("The main reason for the appearance", "Causes paraneoplastic syndrome"),
        ("Treatment of paraneoplastic syndrome is, first of all", "Treatment paraneoplastic syndrome"),
        ("the prognosis can be different", "Forecast"),
        ("The first signs of paraneoplastic syndrome", "Symptoms paraneoplastic syndrome"),
        ("only about 15% of patients are affected", "Epidemiology"),
        ("A blood test for tumor markers", "Diagnostics paraneoplastic syndrome"),
    ],
)
def test_plain_text_headings_of_002(parsed, fragment, heading):
    p = find(parsed, DOC_002, fragment)[0]
    assert p.section[:1] == (heading,), p.section


@pytest.mark.parametrize(
    "fragment, drug, column",
    [
        ("Drowsiness, fatigue, depressive states", "Carbamazepine", "Side effects"),
        ("The drug is clinically incompatible with alcohol.", "Carbamazepine", "Special instructions"),
        ("Taken orally, 100 to 400 mg", "Carbamazepine", "Method of administration and dosage"),
        ("Anorexia, toxic hepatitis", "Cyclophosphamide", "Side effects"),
        ("Long-term treatment with the drug is not recommended.", "Methylprednisolone", "Special instructions"),
        ("The average daily dose is 30-60 mg", "Pyridostigmine", "Method of administration and dosage"),
        ("Myelodepression, pancreatitis", "Azathioprine", "Side effects"),
    ],
)
def test_drug_table_cells_carry_drug_and_column(parsed, fragment, drug, column):
    p = find(parsed, DOC_002, fragment)[0]
    assert p.kind == "table_cell"
    assert p.section[-2:] == (drug, column), p.section
    assert "Treatment paraneoplastic syndrome" in p.section


def test_symptom_table_rows_carry_the_syndrome(parsed):
    p = find(parsed, DOC_002, "Myasthenia gravis, drooping eyelid, diplopia.")[0]
    assert p.section[-2:] == ("Myasthenic syndrome", "Symptoms")


def test_table_header_cells_are_not_passages(parsed):
    texts = {p.text for p in parsed[DOC_002][1]}
    for header in ("Method of administration and dosage", "Side effects", "Special instructions", "Carbamazepine",
                   "Types of syndrome"):
        assert header not in texts


def test_headings_without_content_are_dropped(parsed):
    sections = {h for p in all_passages(parsed) for h in p.section}
    for empty in ("Complications and consequences", "Who to contact?", "General symptoms",
                  "Endocrine (hormone system) symptoms", "Where to find medical care for (Condition)?",
                  "What are the causes?", "Treatment options"):
        assert empty not in sections, empty


def test_catalogue_passages_are_spans_of_the_source_files(corpus_index):
    """What the index stores: every passage is its span of the file on disk."""
    catalogue = Catalogue.from_settings(corpus_index.settings.index)
    passages = catalogue.passages()
    assert len(passages) == corpus_index.report.passages
    files = {s: (corpus_index.corpus_dir / s).read_text(encoding="utf-8") for s in catalogue.documents()}
    for p in passages:
        assert files[p.source][p.start : p.end] == p.text
