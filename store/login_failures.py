"""Failed staff logins, counted in the database, so every worker sharing it sees the same counts: failures on
one worker lock the user on all of them. The policy (limits, pauses) is the console's
(`staff.throttle.LoginThrottle`); this is only where the counts live and how they change safely.

A record is keyed by (staff user, client address), with "*" as the address for the per-user count. Changes
are read-modify-write under a row lock (PostgreSQL `SELECT … FOR UPDATE`; SQLite serialises writers), so two
workers counting a failure at the same moment both count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .conversation_log import ConversationLog, UTCDateTime
from .staff_sessions import create_staff_tables, insert_if_missing, staff_metadata

Key = tuple[str, str]  # (staff user, client address or "*")

login_failures_table = sa.Table(
    "staff_login_failures",
    staff_metadata,
    sa.Column("staff_user", sa.String(128), primary_key=True),
    sa.Column("client", sa.String(64), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False, default=0),
    sa.Column("locked_until", UTCDateTime),
    sa.Column("last_failed_at", UTCDateTime, index=True),
)


@dataclass
class FailureRecord:
    count: int = 0
    locked_until: datetime | None = None
    last: datetime | None = None

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


class LoginFailures:
    """The counts of failed logins, in the database (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_staff_tables(engine)

    @classmethod
    def beside(cls, conversation_log: ConversationLog) -> "LoginFailures":
        """In the same database as the conversation log (own table, like the staff sessions)."""
        return cls(conversation_log.engine)

    @staticmethod
    def _key(key: Key) -> tuple[str, str]:
        return key[0][:128], key[1][:64]

    def get(self, keys: Iterable[Key]) -> dict[Key, FailureRecord]:
        t, found = login_failures_table, {}
        with self.engine.connect() as conn:
            for key in keys:
                user, client = self._key(key)
                row = conn.execute(sa.select(t).where(t.c.staff_user == user, t.c.client == client)).mappings().first()
                if row is not None:
                    found[key] = FailureRecord(row["failures"], row["locked_until"], row["last_failed_at"])
        return found

    def update(self, keys: Iterable[Key], change: Callable[[Key, FailureRecord], FailureRecord]) -> None:
        """For each key, in one transaction: read its record (a fresh one if none) under a lock, store
        `change(key, record)`. Keys are taken in sorted order, so two workers never wait on each other."""
        t = login_failures_table
        with self.engine.begin() as conn:
            for key in sorted(keys):
                user, client = self._key(key)
                insert_if_missing(conn, t, {"staff_user": user, "client": client, "failures": 0})
                row = conn.execute(sa.select(t).where(t.c.staff_user == user, t.c.client == client)
                                   .with_for_update()).mappings().one()
                new = change(key, FailureRecord(row["failures"], row["locked_until"], row["last_failed_at"]))
                conn.execute(t.update().where(t.c.staff_user == user, t.c.client == client).values(
                    failures=new.count, locked_until=new.locked_until, last_failed_at=new.last))

    def clear(self, key: Key) -> None:
        t = login_failures_table
        user, client = self._key(key)
        with self.engine.begin() as conn:
            conn.execute(t.delete().where(t.c.staff_user == user, t.c.client == client))

    def housekeeping(self, now: datetime, stale_before: datetime) -> None:
        """Forget records untouched since `stale_before` that hold no lock (a failed login is rare; this is a
        cheap indexed delete)."""
        t = login_failures_table
        with self.engine.begin() as conn:
            conn.execute(t.delete().where(t.c.last_failed_at < stale_before,
                                          sa.or_(t.c.locked_until.is_(None), t.c.locked_until <= now)))
