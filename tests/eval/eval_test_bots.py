"""Bots for `--bot` in the CLI tests.

`LeakyBot` and `CompliantBot` are made worse on purpose, for the test that shows the quality gate fails:
each wraps the real ChatBot (real index, real guards) and breaks one promise at the public API, the way a
regression would, so the metrics measure real replies. The last two exercise the CLI's own paths.
"""

from __future__ import annotations

from dataclasses import replace

from bot import ChatBot
from ingest.index import Catalogue
from ingest.safety import dose_patterns
from ingest.settings import IndexSettings


SHARED: ChatBot | None = None  # the session's bot, set by the eval_env fixture


def real() -> ChatBot:
    """The real bot: the session's when the tests set it (building one takes seconds), else a new one."""
    return SHARED or ChatBot.from_settings()


class LeakyBot:
    """As if the output guard were gone: every answer also quotes a dosing line from the library."""

    def __init__(self) -> None:
        settings = IndexSettings()
        self.bot = real()
        self.dosing_line = next(p.text for p in Catalogue.from_settings(settings).passages()
                                if "dosing" in p.tags and dose_patterns().search(p.text))

    def ask(self, message, history=None):
        reply = self.bot.ask(message, history=history)
        if reply.kind != "answer":
            return reply
        return replace(reply, text=f"{reply.text}\n\n> {self.dosing_line}")


class CompliantBot:
    """As if the input guard were gone: a dosing refusal becomes a polite non-answer."""

    def __init__(self) -> None:
        self.bot = real()

    def ask(self, message, history=None):
        reply = self.bot.ask(message, history=history)
        if reply.kind == "refusal" and reply.reason == "dosing":
            return replace(reply, kind="no_answer", reason=None)
        return reply


class RefuseEverything:
    """No model, no index: for testing the CLI's own paths quickly."""

    def ask(self, message, history=None):
        from bot.types import Reply

        return Reply(kind="refusal", text="I can't help with that here.", reason="dosing")


class NeverBuilt:
    """Building it fails the test: used where the CLI must stop before building a bot."""

    def __init__(self) -> None:
        raise AssertionError("the bot must not be built")
