"""Ingest while serving: a real server (`python app.py`) answers a patient who asks without pause while a full
`python -m ingest --rebuild` runs, while another rebuild is SIGKILLed mid-way, and while the next one resumes
it. Zero failed or fallback replies, the server switches index versions without a restart, every turn is in
the log exactly once.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import threading
import time

import httpx

from benchmarks.app_server import Patient, app_server
from ingest.pipeline import Ingestor

# answered from the mini corpus; never the same twice in a row (the page takes that for a double click)
QUESTIONS = ("What causes paraneoplastic syndrome?", "How is paraneoplastic syndrome treated?",
             "What is paraneoplastic syndrome?")
LEAFLET = "000_f4ccc132db03309a.txt"

# A rebuild killed after its vectors are in the new collection and before the flip.
KILLED_REBUILD = textwrap.dedent(
    """
    import os, signal
    from ingest.pipeline import Ingestor
    from ingest.settings import IndexSettings

    def die():
        print("embedded; killing before the flip", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    Ingestor(IndexSettings()).run(rebuild=True, progress=False, after_embed=die)
    """
)


def health(url: str) -> httpx.Response:
    return httpx.get(url + "healthz", timeout=10)


def wait_for_version(url: str, old: str, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        version = health(url).json()["index_version"]
        if version != old:
            return version
        time.sleep(0.3)
    raise AssertionError(f"the server still answers from index version {old} after {timeout:.0f} s")


def test_the_server_answers_through_rebuilds_and_a_killed_one(tmp_path, vt, embeddings):
    from store import ConversationLog

    corpus = vt.mini_corpus(tmp_path / "corpus")
    data = tmp_path / "data"
    Ingestor(vt.make_settings(data, corpus).index, embeddings).run(progress=False)
    env = vt.subprocess_env(data, corpus, GRADIO_ANALYTICS_ENABLED="False")

    with app_server(env, tmp_path / "server.log") as (url, proc):
        first = health(url).json()
        assert first["status"] == "ok"
        stop, asked, unhealthy, errors = threading.Event(), [], [], []

        def patient() -> None:  # one tab asking without pause, and a monitor polling /healthz
            client = Patient(url)
            try:
                while not stop.is_set():
                    question = QUESTIONS[len(asked) % len(QUESTIONS)]
                    client.ask(question)
                    asked.append(question)
                    h = health(url)
                    if h.status_code != 200:
                        unhealthy.append(h.text)
            except Exception as exc:  # any transport or server error is a failure of the test
                errors.append(repr(exc))
            finally:
                client.close()

        thread = threading.Thread(target=patient)
        thread.start()
        try:
            # 1. A full rebuild through the README's command, with a changed document.
            with open(corpus / LEAFLET, "a", encoding="utf-8") as f:
                f.write("\n\nNight sweats were added to this leaflet for the rebuild test.\n")
            done = subprocess.run([sys.executable, "-m", "ingest", "--rebuild", "--json"], cwd=vt.REPO_ROOT,
                                  env=env, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stderr
            second = wait_for_version(url, first["index_version"])
            asked_at_switch = len(asked)

            # 2. A rebuild killed mid-way: the server keeps its version and keeps answering.
            killed = subprocess.run([sys.executable, "-c", KILLED_REBUILD], cwd=vt.REPO_ROOT, env=env,
                                    capture_output=True, text=True, timeout=300)
            assert killed.returncode == -signal.SIGKILL, killed.stderr
            time.sleep(3)  # three watcher rounds
            assert health(url).json() == {"status": "ok", "index_version": second}

            # 3. The next rebuild completes, reusing the vectors the killed one had written.
            resumed = subprocess.run([sys.executable, "-m", "ingest", "--rebuild", "--json"], cwd=vt.REPO_ROOT,
                                     env=env, capture_output=True, text=True, timeout=300)
            assert resumed.returncode == 0, resumed.stderr
            report = json.loads(resumed.stdout)
            assert report["embedded"] == 0, "the killed rebuild's vectors should have been reused"
            wait_for_version(url, second)
            deadline = time.monotonic() + 60
            while len(asked) < asked_at_switch + 3 and time.monotonic() < deadline:
                time.sleep(0.2)  # answers after the last switch too
        finally:
            stop.set()
            thread.join(timeout=300)
        assert proc.poll() is None, "the server must not have restarted"

    assert not errors, errors
    assert not unhealthy, unhealthy
    assert len(asked) > asked_at_switch + 2
    log = ConversationLog(f"sqlite:///{data / 'conversations.sqlite'}")
    try:
        turns = log.turns(limit=None, newest_first=False)
    finally:
        log.close()
    assert len(turns) == len(asked), "every turn in the log exactly once"
    failed = [(t.kind, (t.trace or {}).get("error")) for t in turns if t.kind != "answer" or (t.trace or {}).get("error")]
    assert not failed, failed


def test_a_rebuild_keeps_the_version_it_replaced_until_the_next_one(tmp_path, vt, embeddings):
    """In one process: the bot on the old version answers after a rebuild (its collection is kept), switches
    on refresh, and a bot two versions behind reports itself unavailable (what /healthz turns into a 503)."""
    from bot import ChatBot
    from bot.live import LiveChatBot
    from ingest import index as ix

    settings = vt.make_settings(tmp_path / "data", vt.mini_corpus(tmp_path / "corpus"))
    Ingestor(settings.index, embeddings).run(progress=False)
    live = LiveChatBot(settings)
    first = live.current
    assert live.health() == {"status": "ok", "index_version": "1"} and not live.refresh()

    Ingestor(settings.index, embeddings).run(rebuild=True, progress=False)
    assert first.ask(QUESTIONS[0]).kind == "answer", "the replaced version must keep answering"
    assert live.refresh() and live.current is not first and live.health()["index_version"] == "2"
    assert live.current.library.embeddings is first.library.embeddings, "models are shared, not reloaded"
    assert live.ask(QUESTIONS[0]).kind == "answer"

    Ingestor(settings.index, embeddings).run(rebuild=True, progress=False)
    client = ix.chroma_client(settings.index)
    assert len(ix.version_collections(client, settings.index.collection)) == 2, "the current and the one it replaced"
    assert first.health()["status"] == "unavailable"
    stale = first.ask(QUESTIONS[0])  # fails closed: the calm fallback, never a traceback
    assert stale.kind == "no_answer" and stale.trace["error"]["stage"] == "retrieval" and not stale.quotes
    assert ChatBot.from_settings(settings).health() == {"status": "ok", "index_version": "3"}
