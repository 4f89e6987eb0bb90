"""Database-wide locks for work that must happen once although several workers share one database.

With PostgreSQL (several app workers, one database) these are transaction-level advisory locks: they are
released with the transaction that took them, so a worker that dies holding one frees it at once. With
SQLite (one process, the embedded default) there is nothing to coordinate: SQLite serialises writers itself.

- `schema_lock`: creating and migrating tables. Every worker checks the schema at start; the first one in
  creates or upgrades it while the others wait, then find it current — no two workers run a migration.
- `try_housekeeping_lock`: retention pruning. A worker whose timer fires while another worker prunes skips
  this round instead of deleting the same rows twice.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

# Arbitrary 64-bit keys, fixed forever: every worker of every version must agree on them.
SCHEMA_LOCK_KEY = 0x7662_7363_6865_6D61  # "vbschema"
HOUSEKEEPING_LOCK_KEY = 0x7662_686F_7573_656B  # "vbhousek"


def is_postgresql(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def schema_lock(conn: Connection) -> None:
    """Wait for, then hold until this transaction ends, the right to create or migrate tables."""
    if is_postgresql(conn):
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})


def try_housekeeping_lock(conn: Connection) -> bool:
    """Hold, until this transaction ends, the right to run housekeeping; False when another worker has it."""
    if not is_postgresql(conn):
        return True
    return bool(conn.execute(sa.text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": HOUSEKEEPING_LOCK_KEY}).scalar())
