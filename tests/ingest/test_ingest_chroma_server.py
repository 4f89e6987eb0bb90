"""Client/server: a real `chroma run` on loopback, ingest through VERBATIM_CHROMA_URL, the bot answers from it."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest

from benchmarks.app_server import free_port
from ingest import index as ix
from ingest.pipeline import Ingestor

CHROMA = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "chroma"


@pytest.fixture
def chroma_server(tmp_path):
    assert CHROMA.exists(), f"{CHROMA} is missing (chromadb ships it)"
    port = free_port()
    log = (tmp_path / "chroma.log").open("wb")
    proc = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(tmp_path / "server-db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, (tmp_path / "chroma.log").read_text(errors="replace")
            assert time.monotonic() < deadline, "chroma run did not start within 60 s"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


def test_ingest_and_answer_through_a_chroma_server(chroma_server, tmp_path, vt, embeddings):
    from bot import ChatBot

    corpus = vt.mini_corpus(tmp_path / "corpus")
    settings = vt.make_settings(tmp_path / "data", corpus, chroma_url=chroma_server)
    report = Ingestor(settings.index, embeddings).run(progress=False)
    assert report.embedded == report.chunks > 0

    # the vectors live on the server, not in an embedded store under the data dir
    assert not settings.index.chroma_dir.exists()
    import chromadb

    port = int(chroma_server.rsplit(":", 1)[1])
    remote = chromadb.HttpClient(host="127.0.0.1", port=port).get_collection(settings.index.collection)
    assert remote.count() == report.chunks
    assert remote.metadata["embedding_model"] == embeddings.model_id
    assert remote.metadata["hnsw:space"] == "cosine"

    again = Ingestor(settings.index, embeddings).run(progress=False)
    assert again.embedded == 0 and len(again.unchanged) == 2

    bot = ChatBot.from_settings(settings)
    reply = bot.ask("What causes paraneoplastic syndrome?")
    assert reply.kind == "answer", reply.trace
    assert reply.quotes
    assert any(c.get("dense_rank") for c in reply.trace["candidates"]), "dense retrieval went through the server"
    assert ix.Catalogue.from_settings(settings.index).meta()["collection"] == settings.index.collection
