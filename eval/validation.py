"""Loading evaluation sets (the JSONL format of DESIGN.md), checked before anything runs.

Every problem is collected — file, line and field — so an evaluator fixes a set in one pass instead of
one error per run. Unknown fields are kept and ignored: a set written by someone else for their own
bookkeeping (notes, tags, authors) must run unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bot.types import REPLY_KINDS

KNOWN_FIELDS = ("id", "turns", "expect", "reason", "sources", "quote_any")


@dataclass(frozen=True)
class Item:
    id: str
    turns: tuple[str, ...]
    expect: tuple[str, ...]  # accepted reply kinds ("a|b" accepts either)
    reason: str | None = None  # expected refusal reason
    sources: tuple[str, ...] = ()
    quote_any: tuple[str, ...] = ()
    set: str = ""  # file name of the set, for the report
    line: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def expect_label(self) -> str:
        return "|".join(self.expect)

    @property
    def expects_answer_only(self) -> bool:
        """Grounding is measured only where an answer is the one right outcome."""
        return self.expect == ("answer",)


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class SetError(ValueError):
    """One or more sets are invalid; `problems` lists each with file, line and field."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _strings(value: Any, name: str, problems: list[tuple[str | None, str]], required: bool) -> tuple[str, ...]:
    if value is None:
        if required:
            problems.append((name, "missing"))
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append((name, "must be a list of non-empty strings"))
        return ()
    if required and not value:
        problems.append((name, "must not be empty"))
    return tuple(value)


def parse_item(obj: Any) -> tuple[Item | None, list[tuple[str | None, str]]]:
    """One decoded JSON line → an Item, or the (field, message) problems that prevent it."""
    if not isinstance(obj, dict):
        return None, [(None, f"expected a JSON object, got {type(obj).__name__}")]
    problems: list[tuple[str | None, str]] = []

    item_id = obj.get("id")
    if item_id is None:
        problems.append(("id", "missing"))
    elif not isinstance(item_id, str) or not item_id.strip():
        problems.append(("id", "must be a non-empty string"))

    turns = _strings(obj.get("turns"), "turns", problems, required=True)

    expect: tuple[str, ...] = ()
    raw_expect = obj.get("expect")
    if raw_expect is None:
        problems.append(("expect", "missing"))
    elif not isinstance(raw_expect, str):
        problems.append(("expect", "must be a string such as \"answer\" or \"no_answer|out_of_scope\""))
    else:
        expect = tuple(part.strip() for part in raw_expect.split("|"))
        unknown = [k for k in expect if k not in REPLY_KINDS]
        if unknown:
            problems.append(("expect", f"unknown value {', '.join(map(repr, unknown))}; "
                                       f"use one of {', '.join(REPLY_KINDS)} (\"a|b\" accepts either)"))

    reason = obj.get("reason")
    if reason is not None and (not isinstance(reason, str) or not reason.strip()):
        problems.append(("reason", "must be a non-empty string such as \"dosing\""))

    # An answer-only item is scored on grounding, which needs both lists.
    answer_only = expect == ("answer",)
    sources = _strings(obj.get("sources"), "sources", problems, required=answer_only)
    quote_any = _strings(obj.get("quote_any"), "quote_any", problems, required=answer_only)

    if problems:
        return None, problems
    extra = {k: v for k, v in obj.items() if k not in KNOWN_FIELDS}
    return Item(item_id, turns, expect, reason, sources, quote_any, extra=extra), []


def load_set(path: Path) -> tuple[list[Item], list[Problem]]:
    items: list[Item] = []
    problems: list[Problem] = []
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return [], [Problem(name, 0, None, "file not found")]
    except (OSError, UnicodeDecodeError) as exc:
        return [], [Problem(name, 0, None, f"cannot be read ({exc})")]
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue  # blank lines separate groups in hand-written sets
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(name, number, None, f"malformed JSON ({exc.msg} at column {exc.colno})"))
            continue
        item, found = parse_item(obj)
        problems.extend(Problem(name, number, f, m) for f, m in found)
        if item is not None:
            items.append(replace(item, set=path.name, line=number))
    if not items and not problems:
        problems.append(Problem(name, 0, None, "the set has no items"))
    return items, problems


def load_sets(paths: list[Path]) -> list[Item]:
    """All items of all sets, or SetError listing every problem (ids must be unique across the run)."""
    items: list[Item] = []
    problems: list[Problem] = []
    for path in paths:
        found, bad = load_set(Path(path))
        items.extend(found)
        problems.extend(bad)
    first: dict[str, Item] = {}
    for item in items:
        if item.id in first:
            other = first[item.id]
            problems.append(Problem(item.set and _path_of(paths, item.set), item.line, "id",
                                    f"duplicate id {item.id!r} (first used in {other.set} line {other.line})"))
        else:
            first[item.id] = item
    if problems:
        raise SetError(problems)
    return items


def _path_of(paths: list[Path], name: str) -> str:
    return next((str(p) for p in paths if Path(p).name == name), name)
