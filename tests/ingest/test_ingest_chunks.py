"""Chunks: never longer than the model's window (counted by the real tokenizer), never mixing tagged and
untagged passages, and every passage in exactly one chunk (or in the windows of one long passage)."""

from __future__ import annotations

from collections import defaultdict

import pytest

from ingest.chunking import heading_line
from ingest.documents import Document
from ingest.index import Catalogue


@pytest.fixture(scope="module")
def stored(corpus_index):
    catalogue = Catalogue.from_settings(corpus_index.settings.index)
    return catalogue.documents(), catalogue.passages(), catalogue.chunks()


def test_the_model_window_is_256_word_pieces(embeddings):
    assert embeddings.max_tokens == 256


def test_no_chunk_of_the_corpus_is_truncated(stored, embeddings):
    _, _, chunks = stored
    assert chunks
    counts = embeddings.count_tokens([c.text for c in chunks])
    too_long = [(n, c.text[:80]) for n, c in zip(counts, chunks) if n > embeddings.max_tokens]
    assert not too_long, too_long


def test_chunks_never_mix_tagged_and_untagged_passages(stored):
    _, passages, chunks = stored
    by_id = {p.id: p for p in passages}
    for c in chunks:
        tag_sets = {by_id[pid].tags for pid in c.passage_ids}
        assert tag_sets == {c.tags}, (c.section, tag_sets, c.tags)
        assert c.blocked == bool(c.tags)


def test_every_passage_is_in_exactly_one_chunk(stored):
    _, passages, chunks = stored
    holders = defaultdict(list)
    for c in chunks:
        for pid in c.passage_ids:
            holders[pid].append(c)
    assert set(holders) == {p.id for p in passages}, "passages without a chunk, or chunks naming unknown passages"
    for pid, cs in holders.items():
        if len(cs) > 1:  # only the windows of one long passage may share it
            assert all(c.passage_ids == (pid,) for c in cs), pid


def test_chunks_are_section_aware_with_the_heading_prepended(stored):
    documents, passages, chunks = stored
    by_id = {p.id: p for p in passages}
    for c in chunks:
        assert {by_id[pid].section for pid in c.passage_ids} == {c.section}
        doc = documents[c.source]
        head = heading_line(Document(c.source, doc.text, doc.metadata), c.section)
        assert c.text.startswith(head)
        for pid in c.passage_ids:
            assert by_id[pid].text in c.text


def test_a_long_passage_is_windowed_within_the_limit(corpus_index, embeddings):
    """A 900-word sentence cannot fit the model: it becomes several windows, none truncated, covering it all."""
    from ingest.pipeline import Ingestor

    words = [f"neuropathy{i % 37} affects nerves and muscles" for i in range(180)]
    sentence = " ".join(words)
    text = "Symptoms\n" + sentence + "\n"
    doc = Document("long.txt", text, {"title": "A very long document"})
    ingestor = Ingestor(corpus_index.settings.index, embeddings)
    passages, chunks = ingestor.process(doc)
    assert len(passages) == 1 and passages[0].text == sentence
    assert len(chunks) >= 4
    counts = embeddings.count_tokens([c.text for c in chunks])
    assert max(counts) <= embeddings.max_tokens, counts
    head = heading_line(doc, passages[0].section)
    covered = " ".join(c.text[len(head):] for c in chunks)
    assert covered.split() == sentence.split(), "the windows must cover the passage, in order, without gaps"


def test_a_long_section_is_split_between_passages(corpus_index, embeddings):
    from ingest.pipeline import Ingestor

    sentences = [f"Patients in group {i} reported tiredness, weakness and unsteady walking after several weeks."
                 for i in range(60)]
    doc = Document("many.txt", "Symptoms\n" + " ".join(sentences) + "\n", {"title": "Many sentences"})
    passages, chunks = Ingestor(corpus_index.settings.index, embeddings).process(doc)
    assert len(passages) == 60
    assert len(chunks) > 1
    assert max(embeddings.count_tokens([c.text for c in chunks])) <= embeddings.max_tokens
    assert [pid for c in chunks for pid in c.passage_ids] == [p.id for p in passages]
