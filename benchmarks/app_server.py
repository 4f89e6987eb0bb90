"""Start the real server (`python app.py`) on a free loopback port, and stop it.

Shared by the web and staff tests and by `benchmarks.load_chat` (pytest runs from the repository root,
so `benchmarks` is importable in the tests).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

REPO_ROOT = Path(__file__).resolve().parents[1]


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


@contextmanager
def app_server(env: dict[str, str], log_path: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """`python app.py --port P` as `make run` starts it; yields (url, process) once /healthz answers."""
    port = free_port()
    with open(log_path, "wb") as out:
        proc = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)],
                                cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_healthy(url, proc, log_path)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Patient:
    """One patient tab, through the patient app's public Gradio API (what the page itself calls). Like the
    page, it keeps the conversation id the server last showed and sends it with each question."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        """`headers`: sent with every request, e.g. a load balancer's affinity cookie (a browser keeps the one
        the load balancer set; `gradio_client` keeps no cookies, so a simulated patient brings its own)."""
        from gradio_client import Client

        self.client = Client(url, verbose=False, download_files=False, analytics_enabled=False, headers=headers)
        self.conversation = ""

    def send(self, question: str) -> tuple:
        """The page's first step (textbox, chat, status): the box comes back empty when it was accepted."""
        return self.client.predict(question, self.conversation, api_name="/send")

    def respond(self) -> tuple:
        """The second step, once the reply is complete: (chat, sources, banner, conversation id)."""
        outputs = self.client.submit(api_name="/respond").result(timeout=300)
        self.conversation = outputs[-1] or self.conversation
        return outputs

    def ask(self, question: str) -> tuple:
        self.send(question)
        return self.respond()

    def close(self) -> None:
        self.client.close()
