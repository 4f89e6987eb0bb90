"""Staff sessions (server-side, in the log's database) and the slow-down of repeated failed logins.

Sessions: the browser holds a random 256-bit token (cookie `vb_staff`, HttpOnly, SameSite=Strict, path
/staff); the database holds only HMAC-SHA256(staff secret, token), so a copy of the database does not let
anyone log in. A session ends after `staff_idle_seconds` without use, after `staff_session_seconds` in any
case, at logout, and when its user is disabled. Each session carries its own CSRF token for the console's
forms. With an empty `VERBATIM_STAFF_SECRET` the key is drawn at start: every restart logs staff out.

The tables live beside the conversation log's (same database, own names, created if missing): they are
operational state, not part of the log's versioned schema, and can be dropped at any time (staff log in again).

Failed logins: counted per (user, client address) and per user across all addresses; past the limit, logins
for that pair (or user) are refused with 429 — even with the right password — for a pause that doubles with
each further failure. In memory: a restart forgets them (and logs everyone out only if the secret is random).
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
from sqlalchemy.engine import Engine

from .conversation_log import UTCDateTime, utcnow

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
        staff_metadata.create_all(engine, checkfirst=True)

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


@dataclass
class _Failures:
    count: int = 0
    locked_until: datetime | None = None
    last: datetime | None = None


class LoginThrottle:
    """Refuses logins for a while after repeated failures: per (user, address), and per user overall.

    After `max_failures` failures the key is locked for `lockout`; every further failure (possible only once
    a pause has passed) doubles the pause, up to `max_lockout`. A success clears the (user, address) record.
    The per-user limit is `user_factor` times higher: it catches guessing spread over many addresses (or a
    spoofed X-Forwarded-For) while one mistyping colleague cannot lock everyone else out quickly.
    """

    def __init__(self, max_failures: int, lockout: timedelta, *, max_lockout: timedelta = timedelta(hours=1),
                 user_factor: int = 4, forget_after: timedelta = timedelta(days=1),
                 clock: Callable[[], datetime] = utcnow, max_entries: int = 100_000) -> None:
        self.max_failures, self.lockout, self.max_lockout = max_failures, lockout, max_lockout
        self.user_factor, self.forget_after, self.clock, self.max_entries = user_factor, forget_after, clock, max_entries
        self._entries: dict[tuple[str, str], _Failures] = {}
        self._lock = threading.Lock()

    def _keys(self, user: str, client: str) -> list[tuple[tuple[str, str], int]]:
        return [((user, client), self.max_failures), ((user, "*"), self.max_failures * self.user_factor)]

    def retry_after(self, user: str, client: str) -> int:
        """Seconds until a login for this user from this address may be tried; 0 = now."""
        now = self.clock()
        with self._lock:
            wait = 0.0
            for key, _ in self._keys(user, client):
                e = self._entries.get(key)
                if e and e.locked_until and e.locked_until > now:
                    wait = max(wait, (e.locked_until - now).total_seconds())
            return int(wait) + (1 if wait % 1 else 0)

    def failed(self, user: str, client: str) -> None:
        now = self.clock()
        with self._lock:
            self._housekeeping(now)
            for key, limit in self._keys(user, client):
                e = self._entries.setdefault(key, _Failures())
                if e.last and now - e.last > self.forget_after and not (e.locked_until and e.locked_until > now):
                    e.count, e.locked_until = 0, None  # a quiet day: start counting afresh
                e.count, e.last = e.count + 1, now
                if e.count >= limit:
                    pause = self.lockout * (2 ** min(e.count - limit, 20))
                    e.locked_until = now + min(pause, self.max_lockout)

    def succeeded(self, user: str, client: str) -> None:
        with self._lock:
            self._entries.pop((user, client), None)

    def _housekeeping(self, now: datetime) -> None:
        if len(self._entries) < self.max_entries:
            return
        stale = [k for k, e in self._entries.items()
                 if e.last and now - e.last > self.forget_after and not (e.locked_until and e.locked_until > now)]
        for k in stale:
            del self._entries[k]
        if len(self._entries) >= self.max_entries:  # still full: drop the oldest half (never the locked ones first)
            by_age = sorted(self._entries.items(), key=lambda kv: (bool(kv[1].locked_until and kv[1].locked_until > now),
                                                                   kv[1].last or now))
            for k, _ in by_age[: len(by_age) // 2]:
                del self._entries[k]
