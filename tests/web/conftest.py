"""Fixtures for the web tests: the real server (`python app.py`) on a free loopback port, Debian's Chromium
driven by Playwright, and the server's conversation log opened the way the staff console will open it.

The server gets a copy of the session's index (built once by `corpus_index` in tests/conftest.py) in its own
tmp data dir, so its conversation log is SQLite under that data dir — the default configuration.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 900}
REPLY_TIMEOUT_MS = 60_000  # generous: the machine is shared; nothing here asserts on speed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, log_path: Path, timeout: float = 240) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(url + "healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"the server did not become healthy in {timeout:.0f} s:\n{log_path.read_text()[-3000:]}")


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
    port = free_port()
    env = vt.subprocess_env(server_data_dir, vt.BUNDLED_CORPUS, GRADIO_ANALYTICS_ENABLED="False")
    log_path = server_data_dir.parent / "server.log"
    with open(log_path, "wb") as out:
        proc = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)],
                                cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_healthy(url, proc, log_path)
        yield RunningServer(url, server_data_dir, proc, log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def conversation_log(server):
    """The server's log, read from the test process (WAL: readers never block the server)."""
    from bot.conversation_log import ConversationLog

    log = ConversationLog(server.database_url)
    yield log
    log.close()


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield b
        b.close()


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
