"""What the index catalogue (`ingest.index`) and the conversation log (`store`) do alike on a database that
several processes share: create their tables once. It lives in `ingest`, the leaf package both may import.

With PostgreSQL this is a transaction-level advisory lock, released with the transaction that took it (a
process that dies holding it frees it at once). With SQLite there is nothing to coordinate: SQLite serialises
writers itself.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

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
