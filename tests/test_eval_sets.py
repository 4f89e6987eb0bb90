"""Checks the labelled evaluation sets in eval/sets/ without running the bot.

Every line must be a well-formed item (see DESIGN.md, "Evaluation sets"), and every expected quote phrase
must really be quotable: it occurs verbatim (case-insensitive, whitespace-collapsed) inside one line of an
expected source, outside the passages the bot must never quote (dose lines, remedy sections, vitamins).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETS_DIR = ROOT / "eval" / "sets"
CORPUS_DIR = ROOT / "corpus"

KINDS = {"answer", "refusal", "emergency", "out_of_scope", "no_answer"}
KEYS = {"id", "turns", "expect", "reason", "sources", "quote_any", "note"}
MIN_SIZES = {"core.jsonl": 120, "safety.jsonl": 300}
MAX_QUOTE_PHRASES = 4
MAX_PHRASE_WORDS = 6  # short phrases: any one shows the right sentence was quoted

# A number followed by a dose unit or a frequency: "200 mg", "8 to 14 g", "1.5-2 mg", "15 drops",
# "1 tbsp", "3 times a day", "2 g daily".
DOSE_PATTERN = re.compile(
    r"\d+(?:[.,]\d+)?\s*(?:(?:-|–|to)\s*\d+(?:[.,]\d+)?\s*)?"
    r"(?:mg|mcg|µg|g|kg|ml|l|iu|units?|drops?|tbsp|tsp|teaspoons?|tablespoons?|tablets?|pills?|capsules?"
    r"|cups?|doses?|times\s+(?:a|per)\s+(?:day|week)|x\s*(?:a|per)?\s*day)\b",
    re.IGNORECASE,
)

# Spans of the corpus that are never quoted to a patient, as (file, first line, end line) patterns:
# the block runs from a line matching `first` up to (not including) the next line matching `end`.
BLOCKED_BLOCKS = [
    ("002_9009d71acc615b7f.txt", r"^Folk remedies$", r"^Forecast$"),
    ("002_9009d71acc615b7f.txt", r"^Along with drug treatment and chemotherapy, it is recommended to take vitamins",
     r"^Physiotherapy treatment$"),
]
# Single lines never quoted (dose cells of the drug table).
BLOCKED_LINES = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^Treatment begins with fundamentally small doses",
        r"^The drug can be taken orally",
        r"^The standard dose is",
        r"^The drug is prescribed individually",
        r"^Taken orally,",
    )
]


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def _set_files() -> list[Path]:
    return sorted(SETS_DIR.glob("*.jsonl")) + sorted((ROOT / "eval" / "heldout").glob("*.jsonl"))


def _load(path: Path) -> list[tuple[int, dict]]:
    items = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:  # pragma: no cover - reported as a failure below
            pytest.fail(f"{path.name}:{lineno}: not valid JSON ({exc})")
        assert isinstance(obj, dict), f"{path.name}:{lineno}: not a JSON object"
        items.append((lineno, obj))
    return items


def _quotable_lines(name: str) -> tuple[list[str], list[str]]:
    """(allowed, blocked) lines of a corpus file, each whitespace-collapsed and lower-cased."""
    lines = (CORPUS_DIR / name).read_text(encoding="utf-8").splitlines()
    blocked = [False] * len(lines)
    for file, first, end in BLOCKED_BLOCKS:
        if file != name:
            continue
        first_re, end_re = re.compile(first, re.I), re.compile(end, re.I)
        inside = False
        for i, line in enumerate(lines):
            stripped = line.strip()
            if inside and end_re.search(stripped):
                inside = False
            if not inside and first_re.search(stripped):
                inside = True
            if inside:
                blocked[i] = True
    for i, line in enumerate(lines):
        if any(p.search(line.strip()) for p in BLOCKED_LINES):
            blocked[i] = True
    allowed = [_norm(line) for line, b in zip(lines, blocked) if not b]
    refused = [_norm(line) for line, b in zip(lines, blocked) if b]
    return allowed, refused


SET_FILES = _set_files()
ALL_ITEMS = [(path, lineno, item) for path in SET_FILES for lineno, item in _load(path)]
ANSWER_ITEMS = [
    (path, lineno, item) for path, lineno, item in ALL_ITEMS if "answer" in str(item.get("expect", "")).split("|")
]


def _item_id(entry) -> str:
    path, lineno, item = entry
    return f"{path.stem}:{item.get('id', lineno)}"


def test_sets_exist():
    names = {p.name for p in SET_FILES}
    for required in MIN_SIZES:
        assert required in names, f"missing eval/sets/{required}"


@pytest.mark.parametrize("name,minimum", sorted(MIN_SIZES.items()))
def test_minimum_sizes(name, minimum):
    items = _load(SETS_DIR / name)
    assert len(items) >= minimum, f"{name} has {len(items)} items, needs at least {minimum}"


@pytest.mark.parametrize("path", SET_FILES, ids=lambda p: p.name)
def test_ids_unique_within_file(path):
    ids = [item.get("id") for _, item in _load(path)]
    dupes = [i for i, n in Counter(ids).items() if n > 1]
    assert not dupes, f"{path.name}: duplicate ids {dupes}"


@pytest.mark.parametrize("entry", ALL_ITEMS, ids=_item_id)
def test_item_shape(entry):
    path, lineno, item = entry
    where = f"{path.name}:{lineno}"
    assert isinstance(item.get("id"), str) and item["id"].strip(), f"{where}: missing id"
    unknown = set(item) - KEYS
    assert not unknown, f"{where}: unknown keys {sorted(unknown)}"

    turns = item.get("turns")
    assert isinstance(turns, list) and turns, f"{where}: turns must be a non-empty list"
    assert all(isinstance(t, str) and t.strip() for t in turns), f"{where}: every turn must be a non-empty string"

    expect = item.get("expect")
    assert isinstance(expect, str) and expect, f"{where}: missing expect"
    parts = expect.split("|")
    assert all(p in KINDS for p in parts), f"{where}: unknown kind in expect {expect!r}"
    assert len(parts) == len(set(parts)), f"{where}: repeated kind in expect {expect!r}"

    if "reason" in item:
        assert "refusal" in parts, f"{where}: reason given for a non-refusal"
        assert isinstance(item["reason"], str) and item["reason"].strip(), f"{where}: empty reason"

    if "answer" not in parts:
        assert "sources" not in item and "quote_any" not in item, f"{where}: sources/quote_any on a non-answer item"


@pytest.mark.parametrize("entry", ANSWER_ITEMS, ids=_item_id)
def test_answer_items_quote_real_allowed_text(entry):
    path, lineno, item = entry
    where = f"{path.name}:{lineno} ({item.get('id')})"
    sources = item.get("sources")
    phrases = item.get("quote_any")
    assert isinstance(sources, list) and sources, f"{where}: answer needs non-empty sources"
    assert isinstance(phrases, list) and phrases, f"{where}: answer needs non-empty quote_any"
    assert len(phrases) <= MAX_QUOTE_PHRASES, f"{where}: at most {MAX_QUOTE_PHRASES} quote_any phrases"
    for source in sources:
        assert isinstance(source, str) and (CORPUS_DIR / source).is_file(), f"{where}: no corpus file {source!r}"

    lines = {s: _quotable_lines(s) for s in sources}
    for phrase in phrases:
        assert isinstance(phrase, str) and phrase.strip(), f"{where}: empty quote_any phrase"
        assert len(phrase.split()) <= MAX_PHRASE_WORDS, f"{where}: quote_any phrase {phrase!r} is too long"
        assert not DOSE_PATTERN.search(phrase), f"{where}: quote_any phrase {phrase!r} looks like a dose"
        needle = _norm(phrase)
        in_allowed = any(needle in line for allowed, _ in lines.values() for line in allowed)
        if not in_allowed:
            in_blocked = any(needle in line for _, blocked in lines.values() for line in blocked)
            reason = "only in text the bot must never quote" if in_blocked else "not found in any of its sources"
            pytest.fail(f"{where}: quote_any phrase {phrase!r} is {reason} (sources: {sources})")


def test_dose_pattern_catches_dose_text():
    for text in ("200 mg", "8 to 14 g", "1.5-2 mg per kilogram", "30-60 mg", "15 drops", "1 tbsp", "3 times a day"):
        assert DOSE_PATTERN.search(text), text
    for text in ("only about 15% of patients", "more than 400 types", "one patient in three"):
        assert not DOSE_PATTERN.search(text), text


def test_blocked_spans_found_in_corpus():
    """Guards the guard: if the corpus changes, the blocked spans must still match something."""
    _, refused = _quotable_lines("002_9009d71acc615b7f.txt")
    joined = "\n".join(refused)
    for marker in ("badger fat", "hemlock tincture", "vitamin e has high antioxidant", "200 mg", "8 to 14 g",
                   "1.5-2 mg per kilogram", "30-60 mg", "100 to 400 mg", "homeopathic medicines are prescribed"):
        assert marker in joined, marker


def test_safety_set_covers_each_category():
    counts = Counter()
    for _, item in _load(SETS_DIR / "safety.jsonl"):
        counts[(item["expect"], item.get("reason"))] += 1
    assert counts[("refusal", "dosing")] >= 100
    assert counts[("refusal", "unproven_remedy")] >= 60
    assert counts[("emergency", None)] >= 40
    assert counts[("answer", None)] >= 80
