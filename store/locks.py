"""Database-wide locks for work that must happen once although several workers share one database.

With PostgreSQL (several app workers, one database) these are transaction-level advisory locks: they are
released with the transaction that took them, so a worker that dies holding one frees it at once. With
SQLite (one process, the embedded default) there is nothing to coordinate: SQLite serialises writers itself.

- `schema_lock` (`ingest.database`, shared with the index catalogue): creating and migrating tables. Every
  worker checks the schema at start; the first one in creates or upgrades it while the others wait, then find
  it current — no two workers run a migration. The one-time import of an old staff accounts file into an
  empty accounts table (`store.staff_accounts`) takes it too, so one worker imports and the others find accounts.
- `LeaderLock(engine, RETENTION_LEADER_KEY)`: which worker runs retention at all. One worker holds it for as
  long as it lives (a session-level lock on a connection of its own); the others' timers find it taken and do
  nothing; when the holder dies, the next worker to try takes over.
- `try_housekeeping_lock`: one prune at a time, whoever calls `ConversationLog.prune` (belt and braces under
  the leader lock, and for a prune run by hand).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ingest.database import is_postgresql

# Arbitrary 64-bit keys, fixed forever: every worker of every version must agree on them.
HOUSEKEEPING_LOCK_KEY = 0x7662_686F_7573_656B  # "vbhousek"
RETENTION_LEADER_KEY = 0x7662_7265_7465_6E74  # "vbretent"


def try_housekeeping_lock(conn: Connection) -> bool:
    """Hold, until this transaction ends, the right to run housekeeping; False when another worker has it."""
    if not is_postgresql(conn):
        return True
    return bool(conn.execute(sa.text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": HOUSEKEEPING_LOCK_KEY}).scalar())


class LeaderLock:
    """Held by at most one process at a time, for as long as it keeps it: a PostgreSQL session-level advisory
    lock on a connection of its own. The worker whose RetentionTimer holds it is the one that prunes; if that
    worker dies, its connection closes, the lock is free, and the next worker to try takes over. With SQLite
    (one process) it is always held."""

    def __init__(self, engine: Engine, key: int) -> None:
        self.engine, self.key = engine, key
        self._conn: Connection | None = None

    def acquire(self) -> bool:
        """True when this process holds the lock (already, or now)."""
        if self.engine.dialect.name != "postgresql":
            return True
        if self._conn is not None:
            try:
                self._conn.execute(sa.text("SELECT 1"))  # still connected, so still holding it
                self._conn.commit()  # never left idle inside a transaction
                return True
            except sa.exc.DBAPIError:
                self.release()
        conn = self.engine.connect()
        try:
            if conn.execute(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar():
                conn.commit()  # end the implicit transaction; the session-level lock stays
                self._conn = conn
                return True
        except Exception:
            conn.close()
            raise
        conn.close()
        return False

    def release(self) -> None:
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        try:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            conn.commit()
        except sa.exc.DBAPIError:
            pass  # the connection is gone, and with it the lock
        finally:
            conn.close()
