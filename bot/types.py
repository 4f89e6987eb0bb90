"""The data the bot hands out: `Reply` and `Quote` (the public contract in DESIGN.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
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
