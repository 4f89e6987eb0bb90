"""The wording files (prompts/messages.yaml, prompts/web.yaml) against their schema: every required key, and
exactly the placeholders the code fills. Plus the checker itself on broken files."""

from __future__ import annotations

import copy

import pytest

import prompts
from prompts import schema


@pytest.mark.parametrize("name", sorted(schema.WORDING))
def test_the_shipped_wording_files_are_complete(name):
    assert schema.check(name) == []


def test_check_all_passes_on_the_shipped_files():
    schema.check_all()


def test_every_web_text_renders_with_the_values_the_page_gives():
    from web import ui  # reads web.yaml at import: a broken file fails here, not on a patient's click

    for key, want in schema.WORDING["web"].items():
        if isinstance(want, schema.Text):
            assert ui.text(key, **{p: "x" for p in want.placeholders})


def test_the_page_uses_only_keys_the_schema_knows():
    """A key the page reads but the schema does not list would go unchecked."""
    import re
    from pathlib import Path

    import web

    source = "\n".join(p.read_text() for p in Path(web.__file__).parent.glob("*.py"))
    used = set(re.findall(r"""text\(f?["']([a-z_.]+)["']""", source))
    used |= {f"kind_labels.{k}" for k in ("refusal", "no_answer", "out_of_scope", "emergency")}
    assert used - set(schema.WORDING["web"]) == set()


class TestTheChecker:
    @pytest.fixture
    def messages(self):
        return copy.deepcopy(prompts.load("messages"))

    def test_a_missing_key(self, messages):
        del messages["too_long"]
        assert schema.check("messages", messages) == ["messages: too_long: missing"]

    def test_a_missing_and_an_unknown_placeholder(self, messages):
        messages["too_long"] = "Your message is $length characters long; keep it under $limt."
        assert schema.check("messages", messages) == [
            "messages: too_long: placeholder(s) missing: $limit",
            "messages: too_long: unknown placeholder(s) $limt (allowed: $length, $limit)",
        ]

    def test_a_stray_dollar_sign(self, messages):
        messages["no_answer"] = "That costs $ 5."
        assert schema.check("messages", messages) == [
            "messages: no_answer: a '$' that starts no placeholder (write '$$' for a dollar sign)"]
        messages["no_answer"] = "That costs $$5."
        assert schema.check("messages", messages) == []

    def test_nested_keys_and_lists(self):
        web = copy.deepcopy(prompts.load("web"))
        del web["labels"]["send"]
        web["kind_labels"]["emergency"] = ""
        web["example_questions"] = []
        assert schema.check("web", web) == [
            "web: kind_labels.emergency: must be a non-empty text",
            "web: labels.send: missing",
            "web: example_questions: must be a list of at least 1 non-empty text(s)",
        ]

    def test_not_a_mapping(self):
        assert schema.check("web", ["a list"]) == ["web: the file must be a mapping of keys to texts"]

    def test_check_all_names_every_problem(self, monkeypatch):
        broken = copy.deepcopy(prompts.load("messages"))
        del broken["safe_failure"]
        real = schema.load
        monkeypatch.setattr(schema, "load", lambda name: broken if name == "messages" else real(name))
        with pytest.raises(schema.WordingError, match="messages: safe_failure: missing"):
            schema.check_all()
