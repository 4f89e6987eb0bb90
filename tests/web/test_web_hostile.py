"""Hostile input at the page's real endpoints (`python app.py` on loopback): text no UTF-8 response can carry,
uploads the page never asks for, and files requested by path."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import httpx
import httpx._content
import pytest

from benchmarks.app_server import Patient

pytestmark = pytest.mark.slow


def files_under(folder) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_a_lone_surrogate_gets_a_clear_reply_and_the_next_question_works(server, conversation_log, monkeypatch):
    # The body a browser sends: JSON.stringify writes a lone surrogate as the escape "\udcff" (httpx itself
    # would refuse to encode it, so its encoder is given the browser's behaviour).
    monkeypatch.setattr(httpx._content, "json_dumps", lambda obj, **kw: json.dumps(obj, ensure_ascii=True,
                                                                                      separators=(",", ":")))
    since = datetime.now(timezone.utc)
    patient = Patient(server.url)
    try:
        messages = patient.ask("symptoms \udcff")[0]["value"]  # orjson refused to send it back: HTTP 500
        assert "\udcff" not in str(messages)
        assert messages[-1]["role"] == "assistant" and "couldn't read that message" in messages[-1]["content"][0]["text"]
        messages = patient.ask("What is a paraneoplastic syndrome?")[0]["value"]
        assert len(messages) == 4 and "vb-answer" in messages[-1]["content"][0]["text"], messages[-1]
    finally:
        patient.close()
    stored = [t.message for t in conversation_log.turns(since=since, limit=None, newest_first=False)]
    assert stored == ["symptoms \ufffd", "What is a paraneoplastic syndrome?"]


def test_uploads_and_file_routes_are_refused_and_nothing_is_written(server):
    temp = server.data_dir.parent / "gradio-tmp"
    before = files_under(temp)
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for name, body, kind in (("page.html", b"<script>alert(1)</script>", "text/html"),
                                 ("x.svg", b"<svg onload=alert(1)/>", "image/svg+xml"),
                                 ("blob.bin", bytes(range(256)) * 4096, "application/octet-stream")):
            r = http.post("/gradio_api/upload", files={"files": (name, body, kind)})
            assert r.status_code == 404, (name, r.status_code, r.text[:200])
        for path in ("/gradio_api/file=/etc/passwd", "/gradio_api/file=../../../../etc/passwd",
                     "/gradio_api/file=%2e%2e/%2e%2e/etc/passwd", "/gradio_api/file/etc/passwd",
                     f"/gradio_api/file={server.data_dir}/conversations.sqlite",
                     "/gradio_api/proxy=http://example.org/"):
            r = http.get(path)
            assert r.status_code == 404 and "root:" not in r.text and "SQLite" not in r.text, (path, r.status_code)
        assert http.get("/").status_code == 200, "the page itself still loads"
    assert files_under(temp) == before
