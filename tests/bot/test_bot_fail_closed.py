"""Fail closed: a failure injected into any stage ends in a calm, safe reply — never an exception, never an
unguarded answer — and the trace names the stage."""

from __future__ import annotations

import pytest

from bot import REPLY_KINDS

QUESTIONS = [
    "What causes paraneoplastic syndrome?",  # would be answered
    "How much prednisolone should I take?",  # would be refused
]


class Boom(RuntimeError):
    pass


def boom(*args, **kwargs):
    raise Boom("injected failure")


def _patch(monkeypatch, chatbot, stage):
    if stage == "input_guard.check":
        monkeypatch.setattr(chatbot.input_guard, "check", boom)
    elif stage == "query_builder.build":
        monkeypatch.setattr(chatbot.query_builder, "build", boom)
    elif stage == "retriever":
        # a pydantic BaseRetriever: patch the hook it implements (on its class, restored after the test)
        monkeypatch.setattr(type(chatbot.retriever), "_get_relevant_documents", boom)
    elif stage == "selector.select":
        monkeypatch.setattr(chatbot.selector, "select", boom)
    elif stage == "composer.compose":
        monkeypatch.setattr(chatbot.composer, "compose", boom)
    elif stage == "library.verify":
        monkeypatch.setattr(chatbot.library, "verify", boom)
    elif stage == "output_guard.violations":
        monkeypatch.setattr(chatbot.output_guard, "violations", boom)
    elif stage == "embeddings.encode":
        monkeypatch.setattr(chatbot.library.embeddings, "encode", boom)
    else:  # pragma: no cover
        raise AssertionError(stage)


STAGES = [
    "input_guard.check",
    "query_builder.build",
    "retriever",
    "selector.select",
    "composer.compose",
    "library.verify",
    "output_guard.violations",
    "embeddings.encode",
]


EARLY = {"input_guard.check", "query_builder.build", "embeddings.encode"}  # reached before the guard decides


def assert_safe(reply, stage, message):
    assert reply.kind in ("no_answer", "refusal"), (stage, message, reply.kind)
    assert reply.quotes == ()
    low = reply.text.lower()
    assert "care team" in low or "doctor" in low
    assert "injected failure" not in reply.text and "Traceback" not in reply.text


def test_without_a_failure_the_questions_are_answered_and_refused(chatbot):
    assert chatbot.ask(QUESTIONS[0]).kind == "answer"
    assert chatbot.ask(QUESTIONS[1]).kind == "refusal"


@pytest.mark.parametrize("stage", STAGES)
def test_a_failing_stage_gives_a_safe_reply(chatbot, monkeypatch, stage):
    _patch(monkeypatch, chatbot, stage)

    reply = chatbot.ask(QUESTIONS[0], [])  # must not raise
    assert_safe(reply, stage, QUESTIONS[0])
    error = reply.trace.get("error")
    assert error and error["stage"], (stage, reply.trace)
    assert error["type"] == "Boom"

    # A dose question: refused as usual when the failing stage comes after the guard, safe either way.
    reply = chatbot.ask(QUESTIONS[1], [])
    assert_safe(reply, stage, QUESTIONS[1])
    if stage in EARLY:
        assert reply.trace.get("error", {}).get("stage"), (stage, reply.trace)
    else:
        assert reply.kind == "refusal" and reply.reason == "dosing"


@pytest.mark.parametrize("stage", STAGES)
def test_a_failing_stage_never_breaks_the_stream(chatbot, monkeypatch, stage):
    _patch(monkeypatch, chatbot, stage)
    *pieces, final = list(chatbot.stream(QUESTIONS[0], []))
    assert final.kind in REPLY_KINDS and final.kind != "answer"
    assert "".join(pieces) == final.text


def test_a_broken_wording_file_still_gives_a_safe_reply(chatbot, monkeypatch):
    import prompts

    monkeypatch.setattr(prompts, "message", boom)
    reply = chatbot.ask("What causes paraneoplastic syndrome?", [])
    assert reply.kind in ("no_answer", "refusal") and reply.quotes == ()
    assert "doctor" in reply.text.lower() or "care team" in reply.text.lower()
