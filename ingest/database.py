"""What the index catalogue (`ingest.index`) and the conversation log (`store`) do alike on a database that
several processes share: create their tables once. It lives in `ingest`, the leaf package both may import.

With PostgreSQL this is a transaction-level advisory lock, released with the transaction that took it (a
process that dies holding it frees it at once). With SQLite there is nothing to coordinate: SQLite serialises
writers itself, once its file is in WAL mode (`use_wal`).
"""

from __future__ import annotations

import sqlite3
import time

import sqlalchemy as sa
from sqlalchemy.engine import Connection

WAL_TRIES = 100  # 10 s in all: far longer than another process needs to create a small database

# An arbitrary 64-bit key, fixed forever: every process of every version must agree on it.
SCHEMA_LOCK_KEY = 0x7662_7363_6865_6D61  # "vbschema"


def is_postgresql(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def schema_lock(conn: Connection) -> None:
    """Wait for, then hold until this transaction ends, the right to create or migrate tables. Every process
    checks its tables when it starts; the first one in creates or upgrades them while the others wait, then
    finds them current."""
    if is_postgresql(conn):
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})


def use_wal(dbapi_conn: sqlite3.Connection) -> None:
    """Put a SQLite database in WAL mode (kept in the file, so only its first connection switches it). On a new
    file that several processes or threads open at once, the switch can fail with "database is locked" without
    waiting out the busy timeout (the test of processes opening an empty catalogue together hit it in about one
    run in eight), so it is retried until the file is in WAL mode."""
    for _ in range(WAL_TRIES):
        try:
            if str(dbapi_conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower() in ("wal", "memory"):
                return  # an in-memory database has no WAL and needs none
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
        time.sleep(0.1)
    raise sqlite3.OperationalError("database is locked: could not switch it to WAL mode")
