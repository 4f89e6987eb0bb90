"""Retention as housekeeping beside the server: prune once at start, then on a timer in its own thread.

A patient's request never waits for a prune (it used to piggy-back on writing a turn). The composition root
(`app.py`) starts the timer before serving and stops it after; nothing else schedules pruning. Several
workers sharing one PostgreSQL database each run a timer, but only the one holding the retention leader lock
(`store.locks.LeaderLock`) prunes; the others take over when it dies.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from .conversation_log import ConversationLog
from .locks import RETENTION_LEADER_KEY, LeaderLock

log = logging.getLogger("verbatim.retention")

PRUNE_EVERY = timedelta(hours=1)


class RetentionTimer:
    """`with RetentionTimer(log): serve()` — prunes now, then every `every`, until the block ends.

    With retention off (`retention_days` 0) it does nothing at all (no thread)."""

    def __init__(self, conversation_log: ConversationLog, every: timedelta = PRUNE_EVERY) -> None:
        if every <= timedelta(0):
            raise ValueError("the pruning interval must be positive")
        self.log, self.every = conversation_log, every
        self.leader = LeaderLock(conversation_log.engine, RETENTION_LEADER_KEY)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def prune_once(self) -> int:
        """Prune if this process is the retention leader (always, with SQLite); returns conversations deleted."""
        try:
            if not self.leader.acquire():
                return 0  # another worker prunes
            return self.log.prune()
        except Exception:  # housekeeping must never take the server down; the operator sees the error
            log.exception("retention pruning failed")
            return 0

    def start(self) -> "RetentionTimer":
        if self.log.retention_days <= 0 or self._thread is not None:
            return self
        self.prune_once()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="verbatim-retention", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every.total_seconds()):
            self.prune_once()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.leader.release()  # another worker's timer takes over at its next round

    def __enter__(self) -> "RetentionTimer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
