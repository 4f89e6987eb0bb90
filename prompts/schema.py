"""What every wording file must contain: its keys and, for each, exactly the `$placeholders` the code fills.

A staff member editing `messages.yaml` or `web.yaml` can drop a key or mistype `$limit` as `$limt`; `render`
would then fail on a patient's request (or silently lose a value). `check` finds that first — `make test` runs
it (tests/prompts) — and says which file, which key and what is wrong. Keys not listed here are allowed.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

from . import load


@dataclass(frozen=True)
class Text:
    """A string whose `$placeholders` are exactly these (empty: none, so a literal `$` must be written `$$`)."""

    placeholders: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TextList:
    """A list of at least `min_items` plain strings (no placeholders)."""

    min_items: int = 1


def _texts(*keys: str) -> dict[str, Text]:
    return {k: Text() for k in keys}


# file (prompts/<name>.yaml) → dotted key → what it must be
WORDING: dict[str, dict[str, Text | TextList]] = {
    "messages": {
        **_texts("answer_lead", "answer_lead_followup", "answer_lead_more", "answer_lead_personal", "no_more", "more_available", "care_team_pointer", "no_answer_shown_close",
                 "refusal_unproven_remedy", "refusal_undocumented_remedy", "refusal_default_topic", "emergency", "emergency_self_harm", "out_of_scope", "no_answer",
                 "safe_failure", "empty_message", "unreadable", "small_talk_greeting", "small_talk_closing",
                 "small_talk_about"),
        "quote_attribution": Text(frozenset({"title", "section", "reviewed"})),
        "quote_reviewed": Text(frozenset({"date"})),
        "refusal_dosing": Text(frozenset({"topic"})),
        "too_long": Text(frozenset({"length", "limit"})),
        "no_answer_in_passing": Text(frozenset({"names"})),
        "no_answer_not_named": Text(frozenset({"names"})),
        "no_answer_listed": Text(frozenset({"names"})),
        "no_answer_mentioned": Text(frozenset({"names"})),
    },
    "web": {
        **_texts("page_title", "header_md", "disclaimer_md", "emergency_banner_html", "still_answering",
                 "already_answered", "conversation_lost_md", "feedback_not_saveable", "feedback_failed", "feedback_helpful",
                 "feedback_not_helpful", "comment_failed", "feedback_thanks_up", "feedback_thanks_down",
                 "feedback_thanks", "pending_md", "no_sources_md", "library_empty_md", "no_review_date",
                 "safe_failure_fallback"),
        **_texts(*(f"kind_labels.{k}" for k in ("refusal", "no_answer", "out_of_scope", "emergency"))),
        **_texts(*(f"labels.{k}" for k in (
            "conversation", "chat_placeholder_md", "question", "question_placeholder", "send", "new_conversation",
            "comment", "comment_placeholder", "comment_send", "comment_close", "example_questions_md",
            "sources_heading_md", "library_heading_md"))),
        "example_questions": TextList(1),
        "feedback_ask_why": Text(frozenset({"feedback"})),
        "reviewed_on": Text(frozenset({"date"})),
        "sections_quoted": Text(frozenset({"sections"})),
    },
}


class WordingError(ValueError):
    """A wording file that the code cannot use; the message lists every problem."""


def placeholders(template: str) -> set[str]:
    """The `$name` / `${name}` placeholders of a template (`$$` is a literal dollar sign)."""
    return set(string.Template(template).get_identifiers())


def _lookup(data: Any, key: str) -> tuple[bool, Any]:
    for part in key.split("."):
        if not isinstance(data, dict) or part not in data:
            return False, None
        data = data[part]
    return True, data


def check(name: str, data: Any = None) -> list[str]:
    """Problems of `prompts/<name>.yaml` (or of `data`, the same file already parsed): `name: key: problem`."""
    spec = WORDING[name]
    if data is None:
        data = load(name)
    if not isinstance(data, dict):
        return [f"{name}: the file must be a mapping of keys to texts"]
    problems = []
    for key, want in spec.items():
        found, value = _lookup(data, key)
        where = f"{name}: {key}"
        if not found:
            problems.append(f"{where}: missing")
        elif isinstance(want, TextList):
            if not isinstance(value, list) or len(value) < want.min_items or not all(
                    isinstance(v, str) and v.strip() for v in value):
                problems.append(f"{where}: must be a list of at least {want.min_items} non-empty text(s)")
        elif not isinstance(value, str) or not value.strip():
            problems.append(f"{where}: must be a non-empty text")
        elif not string.Template(value).is_valid():
            problems.append(f"{where}: a '$' that starts no placeholder (write '$$' for a dollar sign)")
        else:
            have = placeholders(value)
            if missing := sorted(want.placeholders - have):
                problems.append(f"{where}: placeholder(s) missing: " + ", ".join(f"${p}" for p in missing))
            if unknown := sorted(have - want.placeholders):
                allowed = ", ".join(f"${p}" for p in sorted(want.placeholders)) or "none"
                problems.append(f"{where}: unknown placeholder(s) " + ", ".join(f"${p}" for p in unknown)
                                + f" (allowed: {allowed})")
    return problems


def check_all() -> None:
    """Raise `WordingError` listing every problem of every wording file; return quietly when all are fine."""
    problems = [p for name in WORDING for p in check(name)]
    if problems:
        raise WordingError("the wording files need fixing:\n" + "\n".join(f"  {p}" for p in problems))
