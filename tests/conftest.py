"""Shared fixtures: real components only (the packaged MiniLM, a real Chroma, real SQLite).

The bundled corpus is copied to a tmp folder and indexed once per session; tests that change an index build
their own in their own tmp folder. Settings are always passed explicitly (never through the process
environment), so the tests of other packages keep their own settings.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

REPO_ROOT = Path(__file__).resolve().parents[1]
BUNDLED_CORPUS = REPO_ROOT / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Debian's Chromium in a container: no sandbox, no GPU, nothing fetched in the background
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


def pytest_addoption(parser):
    parser.addoption("--screenshots", metavar="DIR", default=None,
                     help="write the browser tests' README screenshots to DIR (`make screenshots` passes docs/); "
                          "without it they go to a temporary folder, so a test run never changes tracked files")


@pytest.fixture
def screenshot_dir(request, tmp_path) -> Path:
    """Where the browser tests save their screenshots: --screenshots DIR, else this test's tmp folder."""
    chosen = request.config.getoption("--screenshots")
    return Path(chosen).resolve() if chosen else tmp_path


def _files_under(path: Path) -> frozenset[str]:
    return frozenset(str(p) for p in path.rglob("*")) if path.exists() else frozenset()


# Model caches as they were before any test ran: nothing may be downloaded at run time.
MODEL_CACHES = {
    "chroma": Path.home() / ".cache" / "chroma",
    "huggingface": Path.home() / ".cache" / "huggingface",
}
CACHE_SNAPSHOT = {name: _files_under(path) for name, path in MODEL_CACHES.items()}


def new_cache_files() -> dict[str, set[str]]:
    """Files that appeared in the model caches since the session started."""
    return {name: set(_files_under(path) - CACHE_SNAPSHOT[name]) for name, path in MODEL_CACHES.items()}


def make_settings(data_dir: Path, corpus_dir: Path, database_url: str = "", **index):
    """Settings for one test index; every index field that could leak in from VERBATIM_* variables is pinned
    (`database_url`: the catalogue's and the log's database, default SQLite files in `data_dir`; `index`: other
    values of the `index` section, e.g. `chroma_url=...`)."""
    from ingest.settings import Settings

    values = {"corpus_dir": Path(corpus_dir), "chroma_url": "", "embedding_model": "", "collection": "verbatim",
              "embed_batch_size": 64, "encoder": "onnx"}
    values.update(index)
    return Settings(data_dir=Path(data_dir), database_url=database_url, index=values)


def copy_corpus(dest: Path, source: Path = BUNDLED_CORPUS) -> Path:
    shutil.copytree(source, dest)
    return dest


LEAFLET = "000_f4ccc132db03309a.txt"
ARTICLE = "002_9009d71acc615b7f.txt"
EXCERPT = "012_article_excerpt.txt"


def mini_corpus(dest: Path) -> Path:
    """A small corpus for tests that build many indexes: the bundled leaflet and an excerpt of the article
    (its boilerplate, introduction, causes, treatment and the first rows of the drug table, doses included)."""
    dest.mkdir(parents=True)
    shutil.copy(BUNDLED_CORPUS / LEAFLET, dest / LEAFLET)
    lines = (BUNDLED_CORPUS / ARTICLE).read_text(encoding="utf-8").split("\n")
    (dest / EXCERPT).write_text("\n".join(lines[:19] + lines[75:99]) + "\n", encoding="utf-8")
    (dest / "manifest.yaml").write_text(
        f"{LEAFLET}:\n  title: Paraneoplastic syndrome (patient information)\n"
        f"{EXCERPT}:\n  title: Paraneoplastic syndrome (excerpt)\n  last_reviewed: '2025-07-04'\n",
        encoding="utf-8",
    )
    return dest


def subprocess_env(data_dir: Path, corpus_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for `python -m ingest` and helper scripts run as real processes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERBATIM_")}
    env.update(
        VERBATIM_DATA_DIR=str(data_dir),
        VERBATIM_CORPUS_DIR=str(corpus_dir),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        ANONYMIZED_TELEMETRY="False",
        PYTHONPATH=str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    env.update(extra)
    return env


@dataclass
class BuiltIndex:
    settings: object  # ingest.settings.Settings
    corpus_dir: Path
    report: object  # ingest.pipeline.IngestReport


def build_index(data_dir: Path, corpus_dir: Path, **overrides) -> BuiltIndex:
    from ingest.pipeline import Ingestor

    settings = make_settings(data_dir, corpus_dir, **overrides)
    report = Ingestor(settings.index).run(progress=False)
    return BuiltIndex(settings, corpus_dir, report)


# ---- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def embeddings():
    """The packaged all-MiniLM-L6-v2 as the pipeline and the bot load it by default (int8 ONNX; once per process)."""
    from ingest.embeddings import OnnxEmbeddings

    return OnnxEmbeddings()


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory) -> BuiltIndex:
    """The bundled corpus, copied and indexed once per session. Read-only for the tests that use it."""
    root = tmp_path_factory.mktemp("bundled")
    corpus = copy_corpus(root / "corpus")
    built = build_index(root / "data", corpus)
    assert sorted(built.report.added) == sorted(p.name for p in BUNDLED_CORPUS.glob("*.txt"))
    return built


@pytest.fixture(scope="session")
def chatbot(corpus_index):
    """One ChatBot for the whole session (the bot is stateless between calls)."""
    from bot import ChatBot

    return ChatBot.from_settings(corpus_index.settings)


@pytest.fixture(scope="session")
def vt():
    """The helpers above, for test modules (conftest modules are not meant to be imported)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        REPO_ROOT=REPO_ROOT,
        BUNDLED_CORPUS=BUNDLED_CORPUS,
        FIXTURES=FIXTURES,
        make_settings=make_settings,
        copy_corpus=copy_corpus,
        mini_corpus=mini_corpus,
        LEAFLET=LEAFLET,
        ARTICLE=ARTICLE,
        EXCERPT=EXCERPT,
        subprocess_env=subprocess_env,
        build_index=build_index,
        new_cache_files=new_cache_files,
    )


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium; installed with apt-get when missing (never a browser download by a test tool)."""
    if not Path("/usr/bin/chromium").exists():
        if os.geteuid() != 0:
            pytest.fail("Chromium is missing: run `make browser` (apt-get install -y chromium) as root")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env, stdout=subprocess.DEVNULL)
    assert Path("/usr/bin/chromium").exists(), "apt-get did not install /usr/bin/chromium"
    return "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser(chromium_path):
    """One headless Chromium for the browser tests (web chat and staff console), driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for the session (Debian's `postgresql`, a throwaway cluster on loopback, run as
    the `postgres` user); tests take a fresh database each with `postgres.create_database(name)`. Missing
    server programs fail the tests with the command that installs them (`make servers`): never a skip."""
    from benchmarks.cluster import MissingTool, PostgresServer

    try:
        server = PostgresServer(fsync=False)  # durability across a killed *client* is still real; speed matters here
    except MissingTool as exc:
        pytest.fail(str(exc))
    with server:
        yield server


@pytest.fixture
def pg_url(postgres, request) -> str:
    """A new, empty PostgreSQL database for this test; returns its SQLAlchemy URL."""
    import re
    import secrets

    name = re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:40] + "_" + secrets.token_hex(3)
    return postgres.create_database(name)
