"""The data the bot hands out: `Reply` and `Quote` (the public contract in DESIGN.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

ReplyKind = Literal["answer", "refusal", "emergency", "out_of_scope", "no_answer"]
REPLY_KINDS: tuple[str, ...] = ("answer", "refusal", "emergency", "out_of_scope", "no_answer")


@dataclass(frozen=True)
class Quote:
    text: str  # a verbatim span of the source document
    source: str  # file name, e.g. "002_9009d71acc615b7f.txt"
    title: str
    section: str  # heading path, " › "-joined
    start: int  # character offsets in the source document
    end: int
    last_reviewed: str | None = None
    passage_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Reply:
    kind: ReplyKind
    text: str  # Markdown shown to the patient
    reason: str | None = None  # for refusals: "dosing" | "unproven_remedy" | ...; also bad-input reasons
    quotes: tuple[Quote, ...] = ()
    trace: dict[str, Any] = field(default_factory=dict)  # what staff see

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "reason": self.reason,
            "text": self.text,
            "quotes": [q.to_dict() for q in self.quotes],
            "trace": self.trace,
        }


def jsonable(value: Any) -> Any:
    """A trace as JSON can hold it (the trace is meant to be JSON-serialisable; anything that is not is kept
    as its repr, not lost). The conversation log stores traces this way and the evaluator writes them so."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if hasattr(value, "to_dict"):
        return jsonable(value.to_dict())
    if isinstance(value, datetime):
        return value.isoformat()
    return repr(value)


def user_turns(history: list[dict] | None) -> list[str]:
    """The patient's own earlier messages, oldest first. The bot's replies are read back only to see whether
    it refused or escalated (`last_reply`, `InputGuard`): that can add a refusal or an escalation, or keep a
    refused message out of the next question, never remove anything."""
    return [m.get("content", "") for m in (history or []) if m.get("role") == "user" and m.get("content")]


def last_reply(history: list[dict] | None) -> str:
    """The bot's reply to the patient's last message ("" when the history does not end with one)."""
    last = (history or [])[-1:]
    return (last[0].get("content") or "") if last and last[0].get("role") == "assistant" else ""
