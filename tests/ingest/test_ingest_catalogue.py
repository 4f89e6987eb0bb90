"""The catalogue on both of its databases: SQLite in the data dir (the embedded default) and PostgreSQL (a real
throwaway server, `postgres` in tests/conftest.py), the one several workers on several hosts share.

The same tests run on both: a flip is one transaction (all of it or nothing), a reader's snapshot is one
version even when a flip commits between its reads, the version rises by one per flip, and processes opening
an empty database together create the tables once. Documents here are made by hand (no model, no Chroma):
this is the catalogue alone; tests/ingest/test_ingest_index.py runs ingest itself on both.
"""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from ingest import index as ix
from ingest.chunking import Chunk
from ingest.structure import Passage


@pytest.fixture(params=["sqlite", "postgresql"])
def catalogue_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'index.sqlite'}"
    return request.getfixturevalue("pg_url")


def document(source: str, text: str, tags: frozenset[str] = frozenset()):
    """A one-passage, one-chunk document, as `Catalogue.flip` takes it."""
    passage = Passage(source, 0, len(text), text, ("Section",), "sentence", 0, 0, tags)
    chunk = Chunk(f"{source}#{text}", source, 0, f"Title › Section\n{text}", ("Section",), (passage.id,), tags)
    stored = ix.StoredDocument(source, f"hash-{text}", f"Title of {source}", {"publisher": "test"}, text)
    return stored, [passage], [chunk]


def texts(catalogue: ix.Catalogue) -> dict[str, str]:
    return {p.source: p.text for p in catalogue.passages()}


def test_a_flip_replaces_removes_and_raises_the_version(catalogue_url):
    catalogue = ix.Catalogue(catalogue_url)
    assert catalogue.version() == "0" and catalogue.documents() == {}
    tagged = document("b.txt", "Beta one.", frozenset({"dosing"}))
    catalogue.flip({"a.txt": document("a.txt", "Alpha one."), "b.txt": tagged}, [], {"collection": "verbatim"})
    assert catalogue.version() == "1"
    assert {p.source: p.tags for p in catalogue.passages()} == {"a.txt": frozenset(), "b.txt": {"dosing"}}
    assert [c.blocked for c in catalogue.chunks()] == [False, True]
    catalogue.flip({"a.txt": document("a.txt", "Alpha two.")}, ["b.txt"], {})
    assert catalogue.version() == "2"
    assert texts(catalogue) == {"a.txt": "Alpha two."}
    assert [c.id for c in catalogue.chunks()] == ["a.txt#Alpha two."]
    stored = catalogue.documents()["a.txt"]
    assert (stored.content_hash, stored.metadata) == ("hash-Alpha two.", {"publisher": "test"})
    assert catalogue.meta()["collection"] == "verbatim"  # meta not given again is kept
    catalogue.close()


def test_a_flip_that_fails_half_way_changes_nothing(catalogue_url):
    catalogue = ix.Catalogue(catalogue_url)
    catalogue.flip({"a.txt": document("a.txt", "Alpha one."), "b.txt": document("b.txt", "Beta one.")}, [], {})
    before = (catalogue.version(), texts(catalogue), [c.id for c in catalogue.chunks()])

    # a.txt's rows are deleted and re-inserted, then c.txt's chunk collides with a.txt's id: the whole flip fails
    new_a = document("a.txt", "Alpha two.")
    stored, passages, chunks = document("c.txt", "Gamma.")
    clash = [Chunk(new_a[2][0].id, "c.txt", 0, "x", ("Section",), (passages[0].id,), frozenset())]
    with pytest.raises(sa.exc.IntegrityError):
        catalogue.flip({"a.txt": new_a, "c.txt": (stored, passages, clash)}, ["b.txt"], {"collection": "other"})

    assert (catalogue.version(), texts(catalogue), [c.id for c in catalogue.chunks()]) == before
    assert "collection" not in catalogue.meta()
    catalogue.close()


def test_a_snapshot_is_one_version_even_when_a_flip_commits_between_its_reads(catalogue_url, monkeypatch):
    """`snapshot()` reads meta, documents, passages and chunks in four statements. A flip committed by another
    process after the first of them must not show in the others (on PostgreSQL's default isolation it would)."""
    reader, writer = ix.Catalogue(catalogue_url), ix.Catalogue(catalogue_url)
    writer.flip({"a.txt": document("a.txt", "Alpha one.")}, [], {})
    real_documents = ix.Catalogue.documents
    flipped = []

    def documents_after_a_flip(self, conn=None):
        if conn is not None and not flipped:  # inside the snapshot, after its first read
            writer.flip({"a.txt": document("a.txt", "Alpha two."), "b.txt": document("b.txt", "Beta.")}, [], {})
            flipped.append(True)
        return real_documents(self, conn)

    monkeypatch.setattr(ix.Catalogue, "documents", documents_after_a_flip)
    meta, docs, passages, chunks = reader.snapshot()
    assert flipped and writer.version() == "2"
    assert meta["index_version"] == "1"
    assert set(docs) == {"a.txt"} and docs["a.txt"].text == "Alpha one."
    assert [p.text for p in passages] == ["Alpha one."] and [c.id for c in chunks] == ["a.txt#Alpha one."]

    monkeypatch.setattr(ix.Catalogue, "documents", real_documents)
    meta, docs, passages, chunks = reader.snapshot()  # the next reader sees the new version, whole
    assert meta["index_version"] == "2" and sorted(p.text for p in passages) == ["Alpha two.", "Beta."]
    reader.close(), writer.close()


def test_processes_opening_an_empty_database_together_create_the_tables_once(catalogue_url):
    """Workers (and an ingest) starting at once on a new database: one creates the tables under the schema
    lock, the others wait and find them (without it, PostgreSQL fails the loser's CREATE TABLE)."""
    barrier, opened, errors = threading.Barrier(6), [], []

    def open_one() -> None:
        barrier.wait()
        try:
            opened.append(ix.Catalogue(catalogue_url))
        except Exception as exc:  # collected: a failing opener must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(opened) == 6
    opened[0].flip({"a.txt": document("a.txt", "Alpha.")}, [], {})
    assert {c.version() for c in opened} == {"1"}
    for c in opened:
        c.close()


def test_the_switch_to_wal_waits_for_another_connection_holding_a_new_file(tmp_path):
    """SQLite may refuse the switch to WAL mode at once ("database is locked") instead of waiting out the busy
    timeout; `use_wal` retries. Here the waiting connection has no busy timeout at all, so only the retry helps."""
    import sqlite3
    import time

    from ingest.database import use_wal

    path = tmp_path / "new.sqlite"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    threading.Timer(0.3, holder.execute, ["COMMIT"]).start()
    waiting = sqlite3.connect(path, timeout=0, check_same_thread=False)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        waiting.execute("PRAGMA journal_mode=WAL")  # what the connect hook used to do
    started = time.monotonic()
    use_wal(waiting)
    assert waiting.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert time.monotonic() - started < 5
    waiting.close(), holder.close()
