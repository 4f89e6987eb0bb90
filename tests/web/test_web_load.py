"""A small version of the load benchmark (benchmarks/load_chat.py) against the real server: several
patients at once, zero errors, every turn in the log. No timing assertions (the machine is shared)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_patients_in_parallel_get_every_answer_and_every_turn_is_logged(server):
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.load_chat", "--url", server.url, "--database-url", server.database_url,
         "--patients", "5", "--questions", "2", "--json"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["errors"] == []
    assert report["turns_answered"] == report["turns_logged"] == 10
    assert report["conversations_logged"] == 5 and report["every_conversation_complete"]
    assert set(report["kinds"]) <= {"answer", "refusal", "emergency", "out_of_scope", "no_answer"}


def test_the_benchmark_starts_its_server_on_the_catalogue_and_log_its_settings_name(pg_url, tmp_path, vt):
    """With `VERBATIM_DATABASE_URL`, the index catalogue and the log are in PostgreSQL, not the data dir: the
    benchmark finds the index built there (no second ingest: the index version stays) and checks the turns
    in that log."""
    from ingest.index import Catalogue

    data_dir = tmp_path / "data"
    built = vt.build_index(data_dir, vt.copy_corpus(tmp_path / "corpus"), database_url=pg_url)
    with Catalogue.from_settings(built.settings.index) as catalogue:
        version = catalogue.version()
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.load_chat", "--data-dir", str(data_dir), "--patients", "2",
         "--questions", "1", "--json"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
        env=vt.subprocess_env(data_dir, built.corpus_dir, VERBATIM_DATABASE_URL=pg_url),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["errors"] == [] and report["turns_answered"] == report["turns_logged"] == 2
    with Catalogue.from_settings(built.settings.index) as catalogue:
        assert catalogue.version() == version
    assert not (data_dir / "index.sqlite").exists() and not (data_dir / "conversations.sqlite").exists()


def test_the_benchmark_appends_its_own_section_and_leaves_the_others(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO_ROOT))
    from benchmarks.load_chat import SECTION, write_docs

    report = {"patients": 2, "questions_each": 1, "turns_expected": 2, "turns_answered": 2, "errors": [],
              "wall_seconds": 1.0, "turns_per_second": 2.0, "latency_p50_s": 0.5, "latency_p95_s": 0.9,
              "latency_max_s": 0.9, "kinds": {"answer": 2}, "cpus": 2, "turns_logged": 2}
    path = tmp_path / "benchmarks.md"
    path.write_text("# Benchmarks\n\n## Retrieval\n\nnumbers\n")
    write_docs(report, path)
    write_docs({**report, "latency_p50_s": 0.25}, path)  # a re-run replaces its section only
    text = path.read_text()
    assert text.count(SECTION) == 1 and "## Retrieval\n\nnumbers\n" in text
    assert "0.25 s" in text and "| 0.50 s" not in text
    path.write_text(text.replace(SECTION, "## Intro\n\ntext\n\n" + SECTION) + "\n## Later section\n\nmore\n")
    write_docs(report, path)
    text = path.read_text()
    assert text.count(SECTION) == 1 and "## Later section\n\nmore\n" in text and "## Intro\n\ntext\n" in text
