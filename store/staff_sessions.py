"""Staff sessions: server-side, in the conversation log's database, so a session started through one worker
is valid on every worker that shares the database (the console's login throttle keeps its counts beside them:
`store.login_failures`).

Sessions: the browser holds a random 256-bit token (cookie `vb_staff`, HttpOnly, SameSite=Strict, path
/staff); the database holds only HMAC-SHA256(staff secret, token), so a copy of the database does not let
anyone log in. A session ends after `staff_idle_seconds` without use, after `staff_session_seconds` in any
case, at logout, and when its user is disabled. Each session carries its own CSRF token for the console's
forms. With an empty `VERBATIM_STAFF_SECRET` the key is drawn at start: every restart logs staff out.

The tables live beside the conversation log's (same database, own names, created if missing), outside the
log's versioned schema. Sessions and login-failure counts are operational state and can be dropped at any time
(staff log in again); the staff accounts beside them (`store.staff_accounts`) cannot.

Here because they are SQL: `store` is the one package that talks to the database. Create the store beside a
log with `SessionStore.beside(conversation_log, secret, ...)`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ingest.database import schema_lock

from .conversation_log import ConversationLog, UTCDateTime, utcnow

staff_metadata = sa.MetaData()

staff_sessions_table = sa.Table(
    "staff_sessions",
    staff_metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("staff_user", sa.String(128), nullable=False, index=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
    sa.Column("ended_at", UTCDateTime),
    sa.Column("client", sa.String(64), nullable=False, default=""),
)


def create_staff_tables(engine: Engine) -> None:
    """The console's tables (accounts, sessions, login failures), if missing; once, however many workers
    start together."""
    with engine.begin() as conn:
        schema_lock(conn)
        staff_metadata.create_all(conn, checkfirst=True)


def insert_if_missing(conn: Connection, table: sa.Table, row: dict) -> bool:
    """INSERT … ON CONFLICT DO NOTHING on the two databases we run on (on SQLite it also takes the write lock,
    so a read that follows is already serialised); True when the row was inserted."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # another database: plain insert when absent (a race here ends in an IntegrityError, not a lost row)
        key = sa.and_(*(c == row[c.name] for c in table.primary_key.columns))
        if conn.execute(sa.select(*table.primary_key.columns).where(key)).first() is not None:
            return False
        conn.execute(table.insert().values(**row))
        return True
    # RETURNING, not rowcount: psycopg reports no rowcount for an INSERT … ON CONFLICT through SQLAlchemy
    statement = insert(table).values(**row).on_conflict_do_nothing().returning(*table.primary_key.columns)
    return conn.execute(statement).first() is not None


@dataclass(frozen=True)
class StaffSession:
    token_hash: str
    staff_user: str
    csrf_token: str
    created_at: datetime
    expires_at: datetime

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token.encode(), str(token).encode())


class SessionStore:
    def __init__(self, engine: Engine, secret: bytes, *, lifetime: timedelta, idle: timedelta,
                 clock: Callable[[], datetime] = utcnow) -> None:
        if not secret:
            raise ValueError("sessions need a secret key")
        self.engine, self._secret, self.lifetime, self.idle, self.clock = engine, secret, lifetime, idle, clock
        self._lock = threading.Lock()
        create_staff_tables(engine)

    @classmethod
    def beside(cls, conversation_log: ConversationLog, secret: bytes, *, lifetime: timedelta, idle: timedelta,
               clock: Callable[[], datetime] = utcnow) -> "SessionStore":
        """Sessions in the same database as the conversation log (own tables, not the log's schema)."""
        return cls(conversation_log.engine, secret, lifetime=lifetime, idle=idle, clock=clock)

    def _hash(self, token: str) -> str:
        return hmac.new(self._secret, token.encode(), hashlib.sha256).hexdigest()

    def start(self, staff_user: str, client: str = "") -> tuple[str, StaffSession]:
        """A new session; returns the token for the cookie (never stored) and the session."""
        token, now = secrets.token_urlsafe(32), self.clock()
        row = {"token_hash": self._hash(token), "staff_user": staff_user, "csrf_token": secrets.token_urlsafe(32),
               "created_at": now, "last_seen_at": now, "expires_at": now + self.lifetime, "ended_at": None,
               "client": client[:64]}
        s = staff_sessions_table
        with self._lock, self.engine.begin() as conn:
            conn.execute(s.insert().values(**row))
            # housekeeping: sessions long over are of no use to anyone
            conn.execute(s.delete().where(s.c.expires_at < now - timedelta(days=7)))
        return token, _session(row)

    def get(self, token: str | None, is_active: Callable[[str], bool]) -> StaffSession | None:
        """The live session for a cookie token (and mark it used), or None: unknown, ended, idle too long,
        past its lifetime, or its user is no longer active."""
        if not token or len(token) > 128:
            return None
        s, now = staff_sessions_table, self.clock()
        key = self._hash(token)
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(s).where(s.c.token_hash == key)).mappings().first()
        if row is None or row["ended_at"] is not None:
            return None
        if now >= row["expires_at"] or now - row["last_seen_at"] >= self.idle or not is_active(row["staff_user"]):
            self.end(token)
            return None
        with self._lock, self.engine.begin() as conn:
            conn.execute(s.update().where(s.c.token_hash == key).values(last_seen_at=now))
        return _session(row)

    def end(self, token: str | None) -> None:
        if not token:
            return
        s = staff_sessions_table
        with self._lock, self.engine.begin() as conn:
            conn.execute(s.update().where((s.c.token_hash == self._hash(token)) & s.c.ended_at.is_(None))
                         .values(ended_at=self.clock()))


def _session(row) -> StaffSession:
    return StaffSession(row["token_hash"], row["staff_user"], row["csrf_token"], row["created_at"], row["expires_at"])
