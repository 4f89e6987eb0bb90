"""`python -m ingest`: exit codes, skipped files named on stderr, the good file indexed either way.

`--strict` runs as a real process (the CLI as a user runs it). The lenient run calls the same `main()`
in-process with the same VERBATIM_* environment, which spares a second torch start on two cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ingest.index import Catalogue


def _folder_with_one_bad_file(root, fixtures):
    corpus = root / "corpus"
    corpus.mkdir(parents=True)
    (corpus / "good.md").write_bytes((fixtures / "sample.md").read_bytes())
    (corpus / "notes.docx").write_bytes(b"PK\x03\x04 a Word file the library cannot read")
    return corpus


def _check_summary(summary: dict, data) -> None:
    assert summary["added"] == ["good.md"]
    assert [s[0] for s in summary["skipped"]] == ["notes.docx"]
    assert "unsupported" in summary["skipped"][0][1]
    docs = Catalogue(f"sqlite:///{data / 'index.sqlite'}").documents()
    assert set(docs) == {"good.md"}
    assert docs["good.md"].title == "Living with paraneoplastic syndrome"


def test_strict_exits_1_and_still_indexes_the_good_file(tmp_path, vt):
    corpus = _folder_with_one_bad_file(tmp_path, vt.FIXTURES)
    data = tmp_path / "data"
    proc = subprocess.run([sys.executable, "-m", "ingest", "--json", "--strict"], cwd=vt.REPO_ROOT,
                          env=vt.subprocess_env(data, corpus), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "notes.docx" in proc.stderr  # the warning names the file
    assert "DEBUG" not in proc.stderr + proc.stdout  # no library's debug lines in the command's output
    _check_summary(json.loads(proc.stdout), data)


def test_without_strict_exits_0_and_indexes_the_good_file(tmp_path, vt, monkeypatch, capsys):
    from ingest.__main__ import main

    corpus = _folder_with_one_bad_file(tmp_path, vt.FIXTURES)
    data = tmp_path / "data"
    for key in [k for k in os.environ if k.startswith("VERBATIM_")]:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("VERBATIM_DATA_DIR", str(data))
    monkeypatch.setenv("VERBATIM_CORPUS_DIR", str(corpus))
    assert main(["--json"]) == 0
    out, err = capsys.readouterr()
    assert "notes.docx" in err
    _check_summary(json.loads(out), data)
    # a second lenient run: nothing new, still exit 0
    assert main(["--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["unchanged"] == ["good.md"] and again["embedded"] == 0


def test_help_documents_the_exit_codes(vt):
    proc = subprocess.run([sys.executable, "-m", "ingest", "--help"], cwd=vt.REPO_ROOT, capture_output=True,
                          text=True, timeout=120, env=vt.subprocess_env(vt.REPO_ROOT / "nonexistent", vt.BUNDLED_CORPUS))
    assert proc.returncode == 0
    for flag in ("--rebuild", "--strict", "--json", "--report"):
        assert flag in proc.stdout
    assert "exit codes" in proc.stdout.lower()
    for code in ("0", "1", "2", "3", "4"):
        assert f"  {code}  " in proc.stdout
