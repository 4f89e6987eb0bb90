"""The index: a catalogue (documents, passages, chunks) + Chroma vectors; readers build the bm25s keyword index
from the catalogue's chunks (`ingest.keyword`).

The catalogue is SQLite in the data dir (the embedded default) or tables in the database several workers
share (`VERBATIM_DATABASE_URL`, PostgreSQL): with the vectors in a Chroma server, nothing a worker answers
from is on its own disk, so workers on several hosts answer alike.

Why not LangChain's `index()` with a record manager: it interleaves writes and deletes, so a reader (or a
crash) can see a half-applied update, and its persistent record manager lives in langchain-community. Here
the catalogue is the single source of truth and changes in one transaction ("the flip"):

1. new chunks are embedded into Chroma under content-hash ids (chunks already there are skipped, so a
   second run or a resumed crash re-embeds nothing);
2. one transaction replaces the catalogue rows and raises the version;
3. only then are stale vectors removed.

Readers load the catalogue in one transaction (one version) and ignore any vector whose id it does not list,
so a crash anywhere leaves the previous index answering queries.

A `--rebuild` builds a whole new version beside the old one: a new Chroma collection (its name recorded in the
catalogue as `building` first, so a killed rebuild is resumed, not restarted) and new catalogue rows, flipped
in one transaction. Every flip raises `index_version`; a running server polls it and switches to the new
version without a restart (`bot.live`). The previous collection is kept until the next rebuild, so a server
that has not switched yet keeps answering from it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urlparse

import sqlalchemy as sa

from .chunking import CHUNKER_VERSION, Chunk
from .database import schema_lock, use_wal
from .settings import IndexSettings
from .structure import Passage

SCHEMA_VERSION = "1"

metadata = sa.MetaData()
meta_table = sa.Table("meta", metadata, sa.Column("key", sa.String, primary_key=True), sa.Column("value", sa.Text))
documents_table = sa.Table(
    "documents",
    metadata,
    sa.Column("source", sa.String, primary_key=True),
    sa.Column("content_hash", sa.String, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
)
passages_table = sa.Table(
    "passages",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("source", sa.String, sa.ForeignKey("documents.source"), index=True, nullable=False),
    sa.Column("ordinal", sa.Integer, nullable=False),
    sa.Column("start", sa.Integer, nullable=False),
    sa.Column("end", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("section", sa.JSON, nullable=False),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("line", sa.Integer, nullable=False),
    sa.Column("block", sa.Integer, nullable=False),
    sa.Column("tags", sa.String, nullable=False),  # comma-separated, "" when untagged
)
chunks_table = sa.Table(
    "chunks",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("source", sa.String, sa.ForeignKey("documents.source"), index=True, nullable=False),
    sa.Column("ordinal", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("section", sa.JSON, nullable=False),
    sa.Column("passage_ids", sa.JSON, nullable=False),
    sa.Column("tags", sa.String, nullable=False),
)


class IndexError_(RuntimeError):
    """Base for index problems; messages say what to run."""


class EmptyIndexError(IndexError_):
    pass


class ModelMismatchError(IndexError_):
    pass


@dataclass(frozen=True)
class StoredDocument:
    source: str
    content_hash: str
    title: str
    metadata: dict[str, Any]
    text: str


def chroma_client(settings: IndexSettings):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        return chromadb.HttpClient(
            host=url.hostname or "127.0.0.1",
            port=url.port or 8000,
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)


class Catalogue:
    """The catalogue of what the index holds, at a SQLAlchemy URL (`IndexSettings.catalogue_url`): a SQLite file
    in the data dir (the embedded default), or the database several workers share (PostgreSQL), so that
    workers on several hosts read one catalogue. The same tables and statements on both; only how a
    transaction sees one version differs (see `_connect_sqlite` and `_CONSISTENT`)."""

    def __init__(self, url: str) -> None:
        sa_url = sa.make_url(url)
        if sa_url.get_backend_name() == "sqlite":
            self.engine = _sqlite_engine(sa_url)
            self._consistent = self.engine  # SQLite: BEGIN (below) and WAL give a transaction one snapshot
        else:
            self.engine = sa.create_engine(sa_url, pool_pre_ping=True)
            self._consistent = self.engine.execution_options(isolation_level=_CONSISTENT)
        # processes starting together on an empty database: one creates the tables, the others wait for it
        with self.engine.connect().execution_options(begin_immediate=True) as conn, conn.begin():
            schema_lock(conn)
            metadata.create_all(conn)

    @classmethod
    def from_settings(cls, settings: IndexSettings) -> "Catalogue":
        return cls(settings.catalogue_url)

    def close(self) -> None:
        """Close the connections (a PostgreSQL catalogue holds one while it is open)."""
        self.engine.dispose()

    def __enter__(self) -> "Catalogue":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def meta(self, conn=None) -> dict[str, str]:
        with self._reading(conn) as c:
            return dict(c.execute(sa.select(meta_table.c.key, meta_table.c.value)).all())

    @contextlib.contextmanager
    def _reading(self, conn):
        if conn is not None:
            yield conn
        else:
            with self.engine.connect() as own:
                yield own

    def version(self) -> str:
        """The index version: raised by every flip (cheap enough to poll)."""
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(meta_table.c.value).where(meta_table.c.key == "index_version")).scalar()
        return value or "0"

    def snapshot(self) -> tuple[dict[str, str], dict[str, StoredDocument], list[Passage], list[Chunk]]:
        """Meta, documents, passages and chunks read in one transaction: one version, even during a flip."""
        with self._consistent.connect() as conn, conn.begin():
            return self.meta(conn), self.documents(conn), self.passages(conn=conn), self.chunks(conn=conn)

    def set_meta(self, values: dict[str, str]) -> None:
        """Bookkeeping that changes no version (e.g. the collection a rebuild is writing)."""
        with self.engine.begin() as conn:
            _put_meta(conn, values)

    def documents(self, conn=None) -> dict[str, StoredDocument]:
        with self._reading(conn) as c:
            rows = c.execute(sa.select(documents_table)).mappings().all()
        return {r["source"]: StoredDocument(**r) for r in rows}

    def passages(self, sources: Iterable[str] | None = None, conn=None) -> list[Passage]:
        q = sa.select(passages_table).order_by(passages_table.c.source, passages_table.c.ordinal)
        if sources is not None:
            q = q.where(passages_table.c.source.in_(list(sources)))
        with self._reading(conn) as c:
            rows = c.execute(q).mappings().all()
        return [
            Passage(
                r["source"], r["start"], r["end"], r["text"], tuple(r["section"]), r["kind"], r["line"], r["block"],
                frozenset(t for t in r["tags"].split(",") if t),
            )
            for r in rows
        ]

    def chunks(self, sources: Iterable[str] | None = None, conn=None) -> list[Chunk]:
        q = sa.select(chunks_table).order_by(chunks_table.c.source, chunks_table.c.ordinal)
        if sources is not None:
            q = q.where(chunks_table.c.source.in_(list(sources)))
        with self._reading(conn) as c:
            rows = c.execute(q).mappings().all()
        return [
            Chunk(r["id"], r["source"], r["ordinal"], r["text"], tuple(r["section"]), tuple(r["passage_ids"]),
                  frozenset(t for t in r["tags"].split(",") if t))
            for r in rows
        ]

    def flip(
        self,
        replace: dict[str, tuple[StoredDocument, list[Passage], list[Chunk]]],
        remove: Iterable[str],
        meta: dict[str, str],
    ) -> None:
        """Replace the rows of changed documents and delete removed ones, and raise the version, in one
        transaction."""
        gone = list(remove) + list(replace)
        with self._consistent.begin() as conn:
            if gone:
                for table in (chunks_table, passages_table, documents_table):
                    for i in range(0, len(gone), 500):
                        conn.execute(table.delete().where(table.c.source.in_(gone[i : i + 500])))
            for doc, passages, chunks in replace.values():
                conn.execute(documents_table.insert(), [doc.__dict__])
                if passages:
                    conn.execute(passages_table.insert(), [
                        {"id": p.id, "source": p.source, "ordinal": i, "start": p.start, "end": p.end,
                         "text": p.text, "section": list(p.section), "kind": p.kind, "line": p.line,
                         "block": p.block, "tags": ",".join(sorted(p.tags))}
                        for i, p in enumerate(passages)
                    ])
                if chunks:
                    conn.execute(chunks_table.insert(), [
                        {"id": c.id, "source": c.source, "ordinal": c.ordinal, "text": c.text,
                         "section": list(c.section), "passage_ids": list(c.passage_ids), "tags": ",".join(sorted(c.tags))}
                        for c in chunks
                    ])
            version = conn.execute(sa.select(meta_table.c.value).where(meta_table.c.key == "index_version")).scalar()
            _put_meta(conn, {**meta, "index_version": str(int(version or 0) + 1)})


# PostgreSQL's default, READ COMMITTED, gives each statement its own snapshot: the four reads of `snapshot()`
# could straddle a flip and mix two versions. REPEATABLE READ gives the whole transaction one snapshot; and of
# two flips at once (two ingests), the second fails with a serialization error instead of both raising the
# version to the same number. Table creation stays READ COMMITTED: after waiting for the schema lock it must see
# the tables another process just made.
_CONSISTENT = "REPEATABLE READ"


def _sqlite_engine(url: sa.URL):
    Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)

    @sa.event.listens_for(engine, "connect")
    def _connect_sqlite(dbapi_conn, _record):  # WAL: readers keep reading the old state during the flip
        dbapi_conn.isolation_level = None  # SQLAlchemy's recipe: we emit BEGIN, so reads are transactional too
        use_wal(dbapi_conn)
        dbapi_conn.execute("PRAGMA foreign_keys=ON")

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):
        # pysqlite alone would begin only before a write: a snapshot needs BEGIN before reads. IMMEDIATE (table
        # creation) takes the write lock first: a deferred transaction that read the schema and then finds
        # that another process created the tables meanwhile fails at once ("database is locked"), not waiting.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("begin_immediate") else "BEGIN")

    return engine


def _put_meta(conn, values: dict[str, str]) -> None:
    for key, value in values.items():
        conn.execute(meta_table.delete().where(meta_table.c.key == key))
        conn.execute(meta_table.insert().values(key=key, value=value))


def active_collection(settings: IndexSettings, meta: dict[str, str]) -> str:
    """The collection the catalogue's version lives in (indexes built before versioned rebuilds: the
    configured name)."""
    return meta.get("collection") or settings.collection


def open_collection(settings: IndexSettings, model_id: str, create: bool, name: str | None = None):
    """The Chroma collection `name` (default: the active one), checked against the embedding model that
    built it.

    Chroma never embeds anything here: the collection has no embedding function, every call passes vectors.
    """
    client = chroma_client(settings)
    if name is None:
        with Catalogue.from_settings(settings) as catalogue:
            name = active_collection(settings, catalogue.meta())
    wanted = {"hnsw:space": "cosine", "embedding_model": model_id, "chunker_version": CHUNKER_VERSION}
    if create:
        collection = client.get_or_create_collection(name, metadata=wanted, embedding_function=None)
    else:
        try:
            collection = client.get_collection(name, embedding_function=None)
        except Exception as exc:  # chroma raises NotFoundError / ValueError depending on the client kind
            raise EmptyIndexError(f"The index has no collection '{name}'. Build it with: python -m ingest") from exc
    check_model((collection.metadata or {}).get("embedding_model"), model_id)
    return collection, client


def version_collections(client, base: str) -> list[str]:
    """The collections of this index's versions: `base` (indexes built before versioned rebuilds) and
    `base-<id>`."""
    names = [c if isinstance(c, str) else c.name for c in client.list_collections()]
    return [n for n in names if n == base or n.startswith(base + "-")]


def check_model(recorded: str | None, model_id: str) -> None:
    """The index remembers which embedding model built it; opening it with another one is an error."""
    if recorded and recorded != model_id:
        raise ModelMismatchError(
            f"The index was built with the embedding model '{recorded}', but the settings ask for '{model_id}'. "
            "Rebuild it with: python -m ingest --rebuild (or set VERBATIM_EMBEDDING_MODEL back)."
        )


