"""The first stage: is the message something the pipeline can read, and the conversation as the bot uses it.

Empty, over-long and unreadable (binary, no letters) messages get a clear reply instead of an answer;
control characters are blanked, invisible formatting characters removed, and look-alike letters of another
script inside a Latin word read as Latin (`readable`); the history keeps only well-formed
{"role", "content"} turns. The patient's earlier messages (`user_turns`) are taken from it here, once.
A message that is only a greeting or only thanks / an acknowledgement / a goodbye is marked `small_talk`
(prompts/answering.yaml): it asks nothing, so after the input guard it gets a short reply, not a search. One that
only asks for more ("tell me more", "anything else?") is marked "more": the last question is asked again
(`MessageChecks.more`), and what the bot quoted already is not quoted again.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from confusable_homoglyphs import categories, confusables

import prompts
from ingest.text import fold

from .replies import Replies
from .small_talk import SmallTalk
from .types import user_turns

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Invisible formatting characters (zero-width spaces and joiners, soft hyphens, bidirectional controls, BOM): a
# reader sees nothing there, so they are removed, not blanked: "pred\u200bnisolone" reads as "prednisolone".
INVISIBLE = re.compile(r"[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_WORD = re.compile(r"\w+")
_LATIN = re.compile(r"[A-Za-z]")


def _as_latin(word: str) -> str:
    """A word mixing Latin letters with letters of another script that look like Latin ones ("prednisоlone" with a
    Cyrillic о, "kіll") is read with the Latin letters, as a reader sees it. Unicode's confusables table
    (confusable_homoglyphs) says which letters look alike; a word wholly in another script ("преднизолон") stays."""
    if word.isascii() or not _LATIN.search(word):
        return word
    latin = {}
    for found in confusables.is_confusable(word, greedy=True, preferred_aliases=["latin"]) or []:
        if categories.alias(found["character"]) in ("LATIN", "COMMON"):  # digits and marks stay as written
            continue
        like = [h["c"] for h in found["homoglyphs"] if len(h["c"]) == 1 and categories.alias(h["c"]) == "LATIN"]
        if like:
            latin[found["character"]] = like[0]
    return "".join(latin.get(ch, ch) for ch in word)


def readable(text: str) -> str:
    """The text as a reader sees it: NFC, control characters blanked, invisible ones removed, look-alike letters
    of another script inside a Latin word read as Latin."""
    text = INVISIBLE.sub("", CONTROL.sub(" ", unicodedata.normalize("NFC", text)))
    return text if text.isascii() else _WORD.sub(lambda m: _as_latin(m.group(0)), text)


# Problems the input guard still reads the message for before it is declined: crisis language or a dose question in
# an over-long message, or after a page of digits or symbols, is escalated or refused (`InputGuardStage.screen`).
SCREENED = ("too_long", "unreadable")
HISTORY_TURNS = 20  # the most recent turns read from a history
def clean_history(history: Any, limit: int) -> list[dict[str, str]]:
    """Keep well-formed {"role", "content"} turns; anything else in the history is ignored, not fatal."""
    out: list[dict[str, str]] = []
    if not isinstance(history, (list, tuple)):
        return out
    for m in history[-HISTORY_TURNS:]:
        if isinstance(m, dict) and m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str):
            out.append({"role": m["role"], "content": readable(m["content"])[:limit]})
    return out


@dataclass(frozen=True)
class CheckedMessage:
    """A message as the later stages read it. With a `problem`, `reply_text` says what is wrong and nothing
    else runs (except the input guard's screen of a message too long or unreadable: `SCREENED`)."""

    message: str  # NFC, control characters blanked, stripped; for a problem message: control characters blanked
    history: list[dict[str, str]] = field(default_factory=list)
    user_turns: tuple[str, ...] = ()
    folded: str = ""  # `fold(message)`, once per question
    problem: str | None = None  # not_text | empty | too_long | unreadable
    reply_text: str = ""
    small_talk: str | None = None  # about | more | greeting | closing: the message is only that (`SmallTalk`)
    personal: bool = False  # asks whether something applies to the patient's own case (answering.yaml `self_assessment`)
    shown: str = ""  # for a request for more: the bot's earlier replies, whose quotes are not quoted again

    @property
    def trace(self) -> dict[str, Any]:
        if self.problem:
            return {"input_problem": self.problem}
        return {"personal": True} if self.personal else {}


class MessageChecks:
    def __init__(self, max_chars: int, replies: Replies) -> None:
        if max_chars < 1:
            raise ValueError(f"max_chars must be at least 1, not {max_chars}")
        self.max_chars = max_chars
        self.replies = replies
        self.small_talk = SmallTalk()
        # prompts/answering.yaml `self_assessment`: whether the documents are asked about the patient's own case
        self._self_assessment = [re.compile(p) for p in prompts.load("answering")["self_assessment"]]

    def run(self, message: Any, history: Any = None) -> CheckedMessage:
        problem = self._problem(message)
        if problem:
            code, text = problem
            return CheckedMessage(readable(message) if isinstance(message, str) else "", clean_history(history, self.max_chars),
                                  problem=code, reply_text=text)
        message = readable(message).strip()
        cleaned = clean_history(history, self.max_chars)
        history = self._without_small_talk(cleaned)
        folded = fold(message)
        small_talk = self.small_talk(folded)
        if small_talk is None:
            message = self.small_talk.without_salutation(message)
            folded = fold(message)
        shown = "\n".join(m["content"] for m in cleaned if m["role"] == "assistant") if small_talk == "more" else ""
        personal = any(rx.search(folded) for rx in self._self_assessment)
        return CheckedMessage(message, history, tuple(user_turns(history)), folded, small_talk=small_talk, shown=shown,
                              personal=personal)

    def more(self, checked: CheckedMessage) -> CheckedMessage | None:
        """For a request for more: the patient's last question (before any small talk), as it was asked then,
        carrying what the bot has shown since; None when there is no earlier question."""
        asked = [i for i, m in enumerate(checked.history) if m["role"] == "user"]
        if not asked:
            return None
        before = checked.history[: asked[-1]]
        question = checked.history[asked[-1]]["content"]
        return CheckedMessage(question, before, tuple(user_turns(before)), fold(question), shown=checked.shown)

    def _without_small_talk(self, history: list[dict[str, str]]) -> list[dict[str, str]]:
        """The history without its small-talk exchanges (the patient's "thanks" and the bot's reply to it): they
        say nothing a follow-up could lean on, so "and for a child?" after "ok thanks" still follows the
        question before it."""
        out: list[dict[str, str]] = []
        skip_reply = False
        for m in history:
            if m["role"] == "user":
                skip_reply = bool(self.small_talk(fold(m["content"])))
                if not skip_reply:
                    out.append(m)
            elif not skip_reply:
                out.append(m)
            else:
                skip_reply = False
        return out

    def _problem(self, message: Any) -> tuple[str, str] | None:
        say = self.replies.message
        if not isinstance(message, str):
            return "not_text", say("unreadable")
        if not message.strip():
            return "empty", say("empty_message")
        limit = self.max_chars
        if len(message) > limit:
            return "too_long", say("too_long", length=f"{len(message):,}", limit=f"{limit:,}")
        visible = INVISIBLE.sub("", CONTROL.sub("", message))
        letters = sum(ch.isalpha() for ch in visible)
        if "\ufffd" in message or letters < 2 or letters < 0.3 * len(visible.strip()):
            return "unreadable", say("unreadable")
        return None
