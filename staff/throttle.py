"""The slow-down of repeated failed staff logins.

Counted per (user, client address) and per user across all addresses; past the limit, logins for that pair
(or user) are refused with 429 — even with the right password — for a pause that doubles with each further
failure. In memory, per server process: a restart forgets them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from store import utcnow


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
