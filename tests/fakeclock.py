"""A clock the tests set and advance by hand (time itself is the one thing a test cannot wait for)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

T0 = datetime(2025, 7, 4, 9, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)
