"""Fixtures for the evaluation tests, on top of tests/conftest.py's session index and bot.

The CLI reads its settings from VERBATIM_* variables, as evaluators run it; they are set per test
(monkeypatch) and never for the whole session, so other packages' tests keep their own settings.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def eval_env(corpus_index, chatbot, vt, monkeypatch) -> dict[str, str]:
    """The environment of a CLI run against the session's index (returned for subprocesses, also applied
    to this process for in-process runs). `--bot eval_test_bots:real` reuses the session's ChatBot."""
    import eval_test_bots

    env = vt.subprocess_env(corpus_index.settings.data_dir, corpus_index.corpus_dir)
    for key in [k for k in os.environ if k.startswith("VERBATIM_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        if key.startswith("VERBATIM_") or key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "ANONYMIZED_TELEMETRY"):
            monkeypatch.setenv(key, value)
    monkeypatch.setattr(eval_test_bots, "SHARED", chatbot)
    return env
