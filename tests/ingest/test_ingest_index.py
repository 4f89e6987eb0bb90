"""The index: incremental by content hash, removals everywhere, the model remembered, batches, no default
embedding function. Each test that changes an index builds its own in tmp_path (real Chroma, real SQLite) from
a small corpus (the bundled leaflet and an excerpt of the article), so the suite stays fast on two cores. The
tests on `fresh` run twice: with the catalogue in SQLite and in a real PostgreSQL (`VERBATIM_DATABASE_URL`)."""

from __future__ import annotations

import os

import pytest

import ingest.pipeline as pipeline
from ingest import index as ix
from ingest.keyword import KeywordIndex
from ingest.pipeline import Ingestor
from ingest.text import analyze

DOC_000 = "000_f4ccc132db03309a.txt"
DOC_002 = "012_article_excerpt.txt"  # see tests/conftest.py mini_corpus
APPENDED = "\n\nFatigue that does not improve with rest was added to this leaflet for the incremental test.\n"


def chroma_ids(settings, embeddings):
    collection, _ = ix.open_collection(settings.index, embeddings.model_id, create=False)
    return set(collection.get(include=[])["ids"])


def keyword_index(settings):
    """The keyword index as a reader builds it: from the catalogue's chunks."""
    return KeywordIndex.build(ix.Catalogue.from_settings(settings.index).chunks())


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh(request, tmp_path, vt, embeddings):
    """A private small corpus, indexed (the catalogue in SQLite under the data dir, or in PostgreSQL)."""
    corpus = vt.mini_corpus(tmp_path / "corpus")
    database_url = request.getfixturevalue("pg_url") if request.param == "postgresql" else ""
    settings = vt.make_settings(tmp_path / "data", corpus, database_url)
    report = Ingestor(settings.index, embeddings).run(progress=False)
    assert sorted(report.added) == [DOC_000, DOC_002]
    assert report.embedded == report.chunks > 0
    return settings, corpus, report


def test_second_run_reembeds_nothing(fresh, embeddings):
    settings, _, first = fresh
    ids_before = chroma_ids(settings, embeddings)
    second = Ingestor(settings.index, embeddings).run(progress=False)
    assert second.embedded == 0
    assert sorted(second.unchanged) == [DOC_000, DOC_002]
    assert second.added == second.updated == second.removed == []
    assert second.chunks == first.chunks and second.passages == first.passages
    assert chroma_ids(settings, embeddings) == ids_before
    # with a database URL the catalogue is there, not in the data dir
    assert (settings.data_dir / "index.sqlite").exists() == (not settings.database_url)


def test_a_changed_document_reembeds_only_its_chunks(fresh, embeddings, monkeypatch):
    settings, corpus, _ = fresh
    catalogue = ix.Catalogue.from_settings(settings.index)
    old = {c.id: c for c in catalogue.chunks()}
    old_002 = {i for i, c in old.items() if c.source == DOC_002}

    with (corpus / DOC_000).open("a", encoding="utf-8") as f:
        f.write(APPENDED)
    encoded: list[str] = []
    ingestor = Ingestor(settings.index, embeddings)
    real_encode = ingestor.embeddings.encode

    def spy(texts, *a, **kw):  # records what is embedded, then embeds for real
        encoded.extend(texts)
        return real_encode(texts, *a, **kw)

    monkeypatch.setattr(ingestor.embeddings, "encode", spy)
    report = ingestor.run(progress=False)

    assert report.updated == [DOC_000] and report.unchanged == [DOC_002]
    new = {c.id: c for c in catalogue.chunks()}
    new_000 = {i for i, c in new.items() if c.source == DOC_000}
    assert report.embedded == len(new_000 - set(old)) > 0
    assert len(encoded) == report.embedded
    assert all(t.startswith("Paraneoplastic syndrome (patient information)") for t in encoded), "only 000 re-embedded"
    assert {i for i, c in new.items() if c.source == DOC_002} == old_002
    assert any("Fatigue that does not improve with rest" in p.text for p in catalogue.passages([DOC_000]))
    # stale vectors of the old version are gone: Chroma holds exactly what the catalogue lists
    assert chroma_ids(settings, embeddings) == set(new)


def test_a_removed_document_leaves_chroma_catalogue_and_keyword_index(fresh, embeddings):
    settings, corpus, _ = fresh
    catalogue = ix.Catalogue.from_settings(settings.index)
    gone = {c.id for c in catalogue.chunks([DOC_000])}
    terms = analyze("skin flushing blushing")  # words only the leaflet (000) uses
    assert {cid for cid, _ in keyword_index(settings).search(terms, 10)} & gone, "sanity: 000 is searchable"

    (corpus / DOC_000).unlink()
    report = Ingestor(settings.index, embeddings).run(progress=False)

    assert report.removed == [DOC_000] and report.unchanged == [DOC_002] and report.embedded == 0
    assert set(catalogue.documents()) == {DOC_002}
    assert catalogue.passages([DOC_000]) == [] and catalogue.chunks([DOC_000]) == []
    remaining = {c.id for c in catalogue.chunks()}
    assert chroma_ids(settings, embeddings) == remaining
    collection, _ = ix.open_collection(settings.index, embeddings.model_id, create=False)
    assert collection.get(where={"source": DOC_000}, include=[])["ids"] == []
    kw = keyword_index(settings)
    assert set(kw.ids) == remaining and not set(kw.ids) & gone
    assert not {cid for cid, _ in kw.search(terms, 10)} & gone
    assert not (settings.data_dir / "keyword").exists(), "the keyword index is built by readers, never saved"


def test_ingesting_named_paths_adds_and_keeps_the_rest(fresh, embeddings, vt):
    settings, _, _ = fresh
    report = Ingestor(settings.index, embeddings).run(paths=[vt.FIXTURES / "sample.md"], progress=False)
    assert report.added == ["sample.md"] and report.removed == []
    docs = ix.Catalogue.from_settings(settings.index).documents()
    assert set(docs) == {DOC_000, DOC_002, "sample.md"}
    assert chroma_ids(settings, embeddings) == {c.id for c in ix.Catalogue.from_settings(settings.index).chunks()}


@pytest.fixture
def other_model(tmp_path, embeddings):
    """The same weights under another path: to the index, a different embedding model."""
    from ingest.embeddings import SentenceTransformerEmbeddings

    link = tmp_path / "other-minilm"
    os.symlink(embeddings.model_path, link, target_is_directory=True)
    other = SentenceTransformerEmbeddings(str(link))
    assert other.model_id != embeddings.model_id
    return other


def test_a_different_model_is_an_error_naming_both(fresh, embeddings, other_model, vt):
    from bot import ChatBot

    settings, corpus, _ = fresh
    with pytest.raises(ix.ModelMismatchError) as exc:
        ix.open_collection(settings.index, other_model.model_id, create=False)
    assert embeddings.model_id in str(exc.value) and other_model.model_id in str(exc.value)

    with pytest.raises(ix.ModelMismatchError) as exc:
        Ingestor(settings.index, other_model).run(progress=False)
    assert embeddings.model_id in str(exc.value) and other_model.model_id in str(exc.value)

    other_settings = vt.make_settings(settings.data_dir, corpus, settings.database_url,
                                      embedding_model=other_model.model_path)
    with pytest.raises(ix.ModelMismatchError) as exc:
        ChatBot.from_settings(other_settings)
    assert embeddings.model_id in str(exc.value) and other_model.model_id in str(exc.value)
    assert "--rebuild" in str(exc.value)


def test_rebuild_switches_the_model(fresh, other_model, vt):
    from bot import ChatBot

    settings, corpus, first = fresh
    other_settings = vt.make_settings(settings.data_dir, corpus, settings.database_url,
                                      embedding_model=other_model.model_path)
    report = Ingestor(other_settings.index, other_model).run(rebuild=True, progress=False)
    assert report.embedded == report.chunks == first.chunks
    collection, _ = ix.open_collection(other_settings.index, other_model.model_id, create=False)
    assert collection.metadata["embedding_model"] == other_model.model_id
    assert ix.Catalogue.from_settings(settings.index).meta()["embedding_model"] == other_model.model_id
    reply = ChatBot.from_settings(other_settings).ask("What causes paraneoplastic syndrome?")
    assert reply.kind == "answer"


def test_collection_records_model_and_cosine_and_has_no_embedding_function(corpus_index, embeddings):
    collection, _ = ix.open_collection(corpus_index.settings.index, embeddings.model_id, create=False)
    meta = collection.metadata
    assert meta["embedding_model"] == embeddings.model_id
    assert meta["hnsw:space"] == "cosine"
    assert meta["chunker_version"]
    assert collection.configuration_json.get("embedding_function") is None
    assert collection._embedding_function is None


def test_the_bot_holds_no_chroma_collection_with_a_default_embedding_function(chatbot):
    """DESIGN: never let Chroma fall back to its default embedding function (it downloads an ONNX model).

    Every collection object the bot can reach must have no embedding function at all, so a call that passes
    texts instead of vectors fails instead of downloading.
    """
    collections = {"library": chatbot.library.collection, "retriever": chatbot.retriever.vectorstore._collection}
    attached = {name: type(c._embedding_function).__name__ for name, c in collections.items()
                if c._embedding_function is not None}
    assert not attached, f"Chroma collections with an embedding function attached: {attached}"


def test_nothing_was_downloaded_into_model_caches(chatbot, vt):
    for q in ("What causes paraneoplastic syndrome?", "What are the symptoms?"):
        chatbot.ask(q)
    assert vt.new_cache_files() == {"chroma": set(), "huggingface": set()}


def test_blocked_flag_in_chroma_metadata_matches_tags(corpus_index, embeddings):
    catalogue = ix.Catalogue.from_settings(corpus_index.settings.index)
    chunks = {c.id: c for c in catalogue.chunks()}
    collection, _ = ix.open_collection(corpus_index.settings.index, embeddings.model_id, create=False)
    got = collection.get(ids=list(chunks), include=["metadatas"])
    assert len(got["ids"]) == len(chunks)
    flags = {i: m["blocked"] for i, m in zip(got["ids"], got["metadatas"])}
    assert flags == {i: bool(c.tags) for i, c in chunks.items()}
    assert any(flags.values()) and not all(flags.values())


class _CountingCollection:
    """Passes every call to the real collection and records the batch sizes."""

    def __init__(self, real, sizes):
        self._real, self._sizes = real, sizes

    def __getattr__(self, name):
        return getattr(self._real, name)

    def upsert(self, ids, **kw):
        self._sizes["upsert"].append(len(ids))
        return self._real.upsert(ids=ids, **kw)

    def delete(self, ids=None, **kw):
        self._sizes["delete"].append(len(ids or []))
        return self._real.delete(ids=ids, **kw)

    def get(self, ids=None, **kw):
        if ids is not None:
            self._sizes["get"].append(len(ids))
        return self._real.get(ids=ids, **kw)


def test_tiny_batches_still_ingest(tmp_path, vt, embeddings, monkeypatch):
    sizes = {"upsert": [], "delete": [], "get": []}
    real_open = ix.open_collection

    def counting_open(*a, **kw):
        collection, client = real_open(*a, **kw)
        return _CountingCollection(collection, sizes), client

    monkeypatch.setattr(pipeline, "_max_batch", lambda collection: 3)
    monkeypatch.setattr(ix, "open_collection", counting_open)
    corpus = vt.mini_corpus(tmp_path / "corpus")
    settings = vt.make_settings(tmp_path / "data", corpus)
    report = Ingestor(settings.index, embeddings).run(progress=False)
    assert report.embedded == report.chunks > 3
    (corpus / DOC_000).write_text((corpus / DOC_000).read_text(encoding="utf-8") + APPENDED, encoding="utf-8")
    (corpus / DOC_002).unlink()
    second = Ingestor(settings.index, embeddings).run(progress=False)
    assert second.updated == [DOC_000] and second.removed == [DOC_002]

    assert len(sizes["upsert"]) > 1 and max(sizes["upsert"]) <= 3
    assert sizes["delete"] and max(sizes["delete"]) <= 3
    assert max(sizes["get"]) <= 3
    monkeypatch.setattr(ix, "open_collection", real_open)
    assert chroma_ids(settings, embeddings) == {c.id for c in ix.Catalogue.from_settings(settings.index).chunks()}


def test_the_batch_size_respects_chromas_maximum(corpus_index, embeddings):
    collection, client = ix.open_collection(corpus_index.settings.index, embeddings.model_id, create=False)
    assert 1 <= pipeline._max_batch(collection) <= client.get_max_batch_size()


def test_every_process_computes_the_same_pipeline_version(vt):
    """The version stored with the index decides whether the next run re-processes every document: it must
    not depend on the process (a set's order changes with PYTHONHASHSEED; seen as "5,485 updated" on a
    second run of the MedQuAD index)."""
    import subprocess
    import sys

    code = ("from ingest.structure import StructureParser; from ingest.pipeline import _policy_version; "
            "print(StructureParser().version, _policy_version())")
    versions = {
        subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(vt.REPO_ROOT)},
                       capture_output=True, text=True, check=True).stdout
        for seed in ("1", "2", "3")
    }
    assert len(versions) == 1, versions
