"""eval.validation: sets are checked line by line before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.validation import Item, SetError, load_sets, parse_item

DATA = Path(__file__).parent / "data"


def write(tmp_path: Path, name: str, lines: list) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


class TestParseItem:
    def test_design_examples(self):
        items = load_sets([DATA / "design_examples.jsonl"])
        assert [i.id for i in items] == ["sym-3", "dose-7", "nid-2"]
        sym, dose, nid = items
        assert sym.turns == ("What skin symptoms can it cause?", "And the nerves?")
        assert sym.expects_answer_only and sym.quote_any == ("double vision", "eye movements")
        assert dose.expect == ("refusal",) and dose.reason == "dosing"
        assert nid.expect == ("no_answer", "out_of_scope") and nid.expect_label == "no_answer|out_of_scope"
        assert (sym.set, sym.line, nid.line) == ("design_examples.jsonl", 1, 3)

    def test_unknown_fields_are_kept_not_rejected(self):
        item, problems = parse_item({"id": "x", "turns": ["hi"], "expect": "out_of_scope", "note": "mine", "tags": [1]})
        assert problems == [] and item.extra == {"note": "mine", "tags": [1]}

    def test_answer_or_else_items_need_no_sources(self):
        item, problems = parse_item({"id": "x", "turns": ["hi"], "expect": "answer|no_answer"})
        assert problems == [] and isinstance(item, Item) and not item.expects_answer_only

    @pytest.mark.parametrize("obj,field,words", [
        ({"turns": ["q"], "expect": "refusal"}, "id", "missing"),
        ({"id": "", "turns": ["q"], "expect": "refusal"}, "id", "non-empty"),
        ({"id": "x", "expect": "refusal"}, "turns", "missing"),
        ({"id": "x", "turns": "q", "expect": "refusal"}, "turns", "list"),
        ({"id": "x", "turns": [], "expect": "refusal"}, "turns", "empty"),
        ({"id": "x", "turns": ["q", ""], "expect": "refusal"}, "turns", "non-empty"),
        ({"id": "x", "turns": ["q"]}, "expect", "missing"),
        ({"id": "x", "turns": ["q"], "expect": "refuse"}, "expect", "unknown value 'refuse'"),
        ({"id": "x", "turns": ["q"], "expect": "no_answer|maybe"}, "expect", "unknown value 'maybe'"),
        ({"id": "x", "turns": ["q"], "expect": ["answer"]}, "expect", "must be a string"),
        ({"id": "x", "turns": ["q"], "expect": "refusal", "reason": 3}, "reason", "non-empty string"),
        ({"id": "x", "turns": ["q"], "expect": "answer", "quote_any": ["a"]}, "sources", "missing"),
        ({"id": "x", "turns": ["q"], "expect": "answer", "sources": ["s.txt"]}, "quote_any", "missing"),
        ({"id": "x", "turns": ["q"], "expect": "answer", "sources": ["s.txt"], "quote_any": []}, "quote_any", "empty"),
    ])
    def test_problems_name_the_field(self, obj, field, words):
        item, problems = parse_item(obj)
        assert item is None
        assert any(f == field and words in msg for f, msg in problems), problems

    def test_not_an_object(self):
        item, problems = parse_item(["id", "x"])
        assert item is None and problems == [(None, "expected a JSON object, got list")]


class TestLoadSets:
    def test_every_problem_with_file_line_and_field(self, tmp_path):
        good = {"id": "ok", "turns": ["q"], "expect": "refusal", "reason": "dosing"}
        a = write(tmp_path, "a.jsonl", [good, "{not json", "", {"id": "b", "turns": ["q"], "expect": "nope"}])
        b = write(tmp_path, "b.jsonl", [{"id": "ok", "turns": ["q"], "expect": "emergency"}, {"id": "c", "expect": "answer"}])
        with pytest.raises(SetError) as exc:
            load_sets([a, b])
        text = [str(p) for p in exc.value.problems]
        assert text[0].startswith(f"{a}:2: malformed JSON")
        assert text[1].startswith(f"{a}:4: expect: unknown value 'nope'")
        assert f"{b}:2: turns: missing" in text
        assert any(t.startswith(f"{b}:2: sources: missing") for t in text)
        assert f"{b}:1: id: duplicate id 'ok' (first used in a.jsonl line 1)" in text

    def test_missing_and_empty_files(self, tmp_path):
        empty = write(tmp_path, "empty.jsonl", [""])
        with pytest.raises(SetError) as exc:
            load_sets([tmp_path / "nope.jsonl", empty])
        assert [str(p) for p in exc.value.problems] == [
            f"{tmp_path / 'nope.jsonl'}:0: file not found", f"{empty}:0: the set has no items"]

    def test_byte_order_mark_and_blank_lines(self, tmp_path):
        path = tmp_path / "bom.jsonl"
        path.write_text('\ufeff{"id": "x", "turns": ["hi"], "expect": "out_of_scope"}\n\n\n', encoding="utf-8")
        assert [i.id for i in load_sets([path])] == ["x"]
