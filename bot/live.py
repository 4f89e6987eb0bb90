"""A ChatBot that follows the index: `python -m ingest` (a `--rebuild` too) flips a new index version in while
a server answers, and the server switches to it without a restart and without failing a question.

Each question is answered by one `ChatBot` from start to end, the one current when it arrived. A watcher
thread reads the catalogue's version once a second (one indexed read, of SQLite or of the shared PostgreSQL);
when it changed, a bot on the new version is built beside the old one, sharing its models (only the index is
loaded again: the catalogue's rows, and the keyword index built from them), and then replaces it. Until then
the old bot keeps answering from its own version, which the ingest keeps until the next rebuild. A version that
cannot be loaded leaves the current bot answering; the watcher tries again.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Iterator

from ingest import index as ix
from ingest.settings import Settings

from .chatbot import ChatBot
from .factory import build_pipeline
from .types import Reply

log = logging.getLogger("verbatim.bot")


class LiveChatBot:
    """The `ChatBot` API (ask, stream, health; other attributes are the current bot's) on the newest index
    version. Use as a context manager to run the watcher; `refresh()` switches on demand."""

    def __init__(self, settings: Settings, bot: ChatBot | None = None, interval: float = 1.0) -> None:
        self.settings = settings
        self.current = bot or ChatBot.from_settings(settings)
        self.interval = interval
        self._catalogue = ix.Catalogue.from_settings(settings.index)
        self._switching = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __getattr__(self, name: str) -> Any:  # library, settings, the stages: the current bot's
        return getattr(self.current, name)

    def ask(self, message: str, history: list[dict] | None = None) -> Reply:
        return self.current.ask(message, history)

    def stream(self, message: str, history: list[dict] | None = None) -> Iterator[str | Reply]:
        return self.current.stream(message, history)

    def health(self) -> dict[str, Any]:
        return self.current.health()

    def refresh(self) -> bool:
        """Switch to the catalogue's version if it is not the current bot's; True when it switched."""
        with self._switching:
            old = self.current
            version = self._catalogue.version()
            if version == old.library.version:
                return False
            try:
                new = ChatBot(build_pipeline(self.settings, reuse=old.pipeline))
            except Exception:  # e.g. the Chroma server briefly unreachable
                log.warning("index version %s could not be loaded yet; still answering from version %s",
                            version, old.library.version, exc_info=True)
                return False
            self.current = new  # one reference: a question already running finishes on the old bot
            log.info("switched from index version %s to %s", old.library.version, new.library.version)
            return True

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.refresh()
            except Exception:  # the catalogue briefly unreadable: keep answering, look again
                log.warning("could not read the index version", exc_info=True)

    def __enter__(self) -> "LiveChatBot":
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="index-watcher", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
