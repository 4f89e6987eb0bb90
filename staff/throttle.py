"""The slow-down of repeated failed staff logins.

Counted per (user, client address) and per user across all addresses; past the limit, logins for that pair
(or user) are refused with 429 — even with the right password — for a pause that doubles with each further
failure. The console keeps the counts in the database (`store.LoginFailures`), so every worker sharing it
counts the same failures and a restart forgets nothing; `MemoryFailures` keeps them in this process only.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Callable, Iterable, Protocol

from store import FailureRecord, utcnow

Key = tuple[str, str]


class FailureRecords(Protocol):
    """Where the counts live: `store.LoginFailures` (the database) or `MemoryFailures`."""

    def get(self, keys: Iterable[Key]) -> dict[Key, FailureRecord]: ...

    def update(self, keys: Iterable[Key], change: Callable[[Key, FailureRecord], FailureRecord]) -> None: ...

    def clear(self, key: Key) -> None: ...

    def housekeeping(self, now: datetime, stale_before: datetime) -> None: ...


class MemoryFailures:
    """The counts in this process's memory (one process only; bounded: `max_entries`)."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._entries: dict[Key, FailureRecord] = {}
        self._lock = threading.Lock()

    def get(self, keys: Iterable[Key]) -> dict[Key, FailureRecord]:
        with self._lock:
            return {k: FailureRecord(e.count, e.locked_until, e.last) for k in keys if (e := self._entries.get(k))}

    def update(self, keys: Iterable[Key], change: Callable[[Key, FailureRecord], FailureRecord]) -> None:
        with self._lock:
            for key in keys:
                self._entries[key] = change(key, self._entries.get(key) or FailureRecord())

    def clear(self, key: Key) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def housekeeping(self, now: datetime, stale_before: datetime) -> None:
        with self._lock:
            if len(self._entries) < self.max_entries:
                return
            for k in [k for k, e in self._entries.items() if e.last and e.last < stale_before and not e.locked(now)]:
                del self._entries[k]
            if len(self._entries) >= self.max_entries:  # still full: drop the oldest half (the locked ones last)
                by_age = sorted(self._entries.items(), key=lambda kv: (kv[1].locked(now), kv[1].last or now))
                for k, _ in by_age[: len(by_age) // 2]:
                    del self._entries[k]


class LoginThrottle:
    """Refuses logins for a while after repeated failures: per (user, address), and per user overall.

    After `max_failures` failures the key is locked for `lockout`; every further failure (possible only once
    a pause has passed) doubles the pause, up to `max_lockout`. A success clears the (user, address) record.
    The per-user limit is `user_factor` times higher: it catches guessing spread over many addresses (or a
    spoofed X-Forwarded-For) while one mistyping colleague cannot lock everyone else out quickly.
    """

    def __init__(self, max_failures: int, lockout: timedelta, *, max_lockout: timedelta = timedelta(hours=1),
                 user_factor: int = 4, forget_after: timedelta = timedelta(days=1),
                 clock: Callable[[], datetime] = utcnow, records: FailureRecords | None = None) -> None:
        self.max_failures, self.lockout, self.max_lockout = max_failures, lockout, max_lockout
        self.user_factor, self.forget_after, self.clock = user_factor, forget_after, clock
        self.records: FailureRecords = records if records is not None else MemoryFailures()

    def _limits(self, user: str, client: str) -> dict[Key, int]:
        return {(user, client): self.max_failures, (user, "*"): self.max_failures * self.user_factor}

    def retry_after(self, user: str, client: str) -> int:
        """Seconds until a login for this user from this address may be tried; 0 = now."""
        now = self.clock()
        wait = 0.0
        for e in self.records.get(self._limits(user, client)).values():
            if e.locked(now):
                wait = max(wait, (e.locked_until - now).total_seconds())
        return int(wait) + (1 if wait % 1 else 0)

    def failed(self, user: str, client: str) -> None:
        now = self.clock()
        limits = self._limits(user, client)

        def count(key: Key, e: FailureRecord) -> FailureRecord:
            if e.last and now - e.last > self.forget_after and not e.locked(now):
                e = FailureRecord()  # a quiet day: start counting afresh
            e = FailureRecord(e.count + 1, e.locked_until, now)
            if e.count >= limits[key]:
                pause = self.lockout * (2 ** min(e.count - limits[key], 20))
                e.locked_until = now + min(pause, self.max_lockout)
            return e

        self.records.housekeeping(now, now - self.forget_after)
        self.records.update(limits, count)

    def succeeded(self, user: str, client: str) -> None:
        self.records.clear((user, client))
