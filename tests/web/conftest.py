"""Fixtures for the web tests: the real server (`python app.py`) on a free loopback port, Debian's Chromium
driven by Playwright, and the server's conversation log opened the way the staff console will open it.

The server gets a copy of the session's index (built once by `corpus_index` in tests/conftest.py) in its own
tmp data dir, so its conversation log is SQLite under that data dir — the default configuration.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from benchmarks.app_server import app_server

DESKTOP = {"width": 1280, "height": 900}
REPLY_TIMEOUT_MS = 60_000  # generous: the machine is shared; nothing here asserts on speed


class RunningServer:
    def __init__(self, url: str, data_dir: Path, proc: subprocess.Popen, log_path: Path) -> None:
        self.url, self.data_dir, self.proc, self.log_path = url, data_dir, proc, log_path
        self.database_url = f"sqlite:///{data_dir / 'conversations.sqlite'}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="session")
def server_data_dir(corpus_index, tmp_path_factory) -> Path:
    """A copy of the session's index: the server reads it and writes its conversation log beside it."""
    data_dir = tmp_path_factory.mktemp("web") / "data"
    shutil.copytree(corpus_index.settings.data_dir, data_dir)
    for stale in data_dir.glob("conversations.sqlite*"):
        stale.unlink()
    return data_dir


@pytest.fixture(scope="session")
def server(server_data_dir, vt) -> RunningServer:
    """`python app.py --port P` as a real process, as `make run` starts it."""
    env = vt.subprocess_env(server_data_dir, vt.BUNDLED_CORPUS, GRADIO_ANALYTICS_ENABLED="False",
                            GRADIO_TEMP_DIR=str(server_data_dir.parent / "gradio-tmp"))  # where uploads would land
    log_path = server_data_dir.parent / "server.log"
    with app_server(env, log_path) as (url, proc):
        yield RunningServer(url, server_data_dir, proc, log_path)


@pytest.fixture(scope="session")
def conversation_log(server):
    """The server's log, read from the test process (WAL: readers never block the server)."""
    from store import ConversationLog

    log = ConversationLog(server.database_url)
    yield log
    log.close()


@pytest.fixture
def page(browser, server):
    """A fresh patient: a new browser context (own cookies, own Gradio session) on the chat page."""
    context = browser.new_context(viewport=DESKTOP, locale="en-GB")
    pg = context.new_page()
    pg.errors = []  # uncaught page errors and dialogs (an alert() would mean injected script ran)
    pg.on("pageerror", lambda exc: pg.errors.append(f"pageerror: {exc}"))
    pg.on("dialog", lambda d: (pg.errors.append(f"dialog: {d.message}"), d.dismiss()))
    pg.set_default_timeout(REPLY_TIMEOUT_MS)
    pg.goto(server.url)
    pg.get_by_label("Your question").wait_for()
    yield pg
    context.close()
