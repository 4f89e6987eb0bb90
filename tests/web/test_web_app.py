"""`python app.py`: the command line of the web server (the server itself is exercised in the browser tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_help_names_host_and_port():
    proc = subprocess.run([sys.executable, "app.py", "--help"], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0
    assert "--host" in proc.stdout and "--port" in proc.stdout and "127.0.0.1" in proc.stdout


@pytest.mark.slow
def test_an_empty_index_is_explained_not_a_traceback(tmp_path, vt):
    env = vt.subprocess_env(tmp_path / "data", tmp_path / "corpus")
    proc = subprocess.run([sys.executable, "app.py", "--port", "1"], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 1
    assert "python -m ingest" in proc.stderr and "Traceback" not in proc.stderr


def test_a_python_without_the_apps_packages_is_told_what_to_run():
    proc = subprocess.run([sys.executable, "-S", "app.py"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "make run" in proc.stderr and ".venv/bin/python app.py" in proc.stderr


@pytest.mark.slow
def test_a_start_prints_no_progress_bars_warnings_or_debug_lines(server):
    out = server.output()
    assert "Verbatim patient chat: http://" in out
    noise = [line for line in out.splitlines()
             if "Loading weights" in line or " DEBUG " in line or " WARNING verbatim" in line or "it/s]" in line]
    assert not noise, noise


def test_importing_the_web_server_skips_gradios_stub_writer_and_keeps_its_components_whole():
    """web/__init__.py replaces Gradio's development-time .pyi writer (half of `import gradio`) with a no-op:
    in a fresh interpreter, no component class is re-parsed from source, and the events the metaclass adds
    are all there."""
    probe = (
        "import ast, web.server, gradio as gr, gradio.component_meta as meta, gradio.blocks_events as be\n"
        "parsed = []\n"
        "real_parse = ast.parse\n"
        "ast.parse = lambda *a, **k: parsed.append(1) or real_parse(*a, **k)\n"
        "class Probe(gr.Textbox):\n"
        "    pass\n"
        "print(meta.create_or_modify_pyi.__module__, be.create_or_modify_pyi.__module__, len(parsed),\n"
        "      all(callable(getattr(gr.Textbox, e)) for e in ('submit', 'change', 'blur')), callable(Probe.submit))\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["web", "web", "0", "True", "True"]
