"""Atomic updates: an ingest killed (SIGKILL) after embedding, before the flip, leaves the previous index
answering; the next run completes and reports the change. With the catalogue in SQLite and in PostgreSQL.

The writer is a real process: it builds the index, changes the corpus, and runs again with an `after_embed`
hook that SIGKILLs it — after the new vectors are in Chroma and before the catalogue flip, the moment a
non-atomic pipeline would leave a half-applied index. (One process for both runs: torch loads once.)
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap

import pytest

from ingest import index as ix

DOC_000 = "000_f4ccc132db03309a.txt"
EXCERPT = "012_article_excerpt.txt"  # see tests/conftest.py mini_corpus; it answers the question below
MARKER = "Night sweats were added to this leaflet for the crash test."

WRITER = textwrap.dedent(
    """
    import json, os, signal
    from ingest import index as ix
    from ingest.pipeline import Ingestor
    from ingest.settings import IndexSettings

    settings = IndexSettings()
    first = Ingestor(settings).run(progress=False)
    catalogue = ix.Catalogue.from_settings(settings)
    print(json.dumps({
        "added": first.added,
        "hashes": {s: d.content_hash for s, d in catalogue.documents().items()},
        "chunks": sorted(c.id for c in catalogue.chunks()),
    }), flush=True)

    # The change: the leaflet gets a new paragraph, the excerpt is deleted.
    with open(settings.corpus_dir / "{leaflet}", "a", encoding="utf-8") as f:
        f.write("\\n\\n{marker}\\n")
    os.remove(settings.corpus_dir / "{excerpt}")

    def die():
        print("embedded; killing before the flip", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    Ingestor(settings).run(progress=False, after_embed=die)
    print("the run was not killed", flush=True)
    """
).replace("{leaflet}", DOC_000).replace("{excerpt}", EXCERPT).replace("{marker}", MARKER)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_killed_ingest_leaves_the_previous_index_answering(tmp_path, vt, embeddings, database, request):
    from bot import ChatBot
    from ingest.pipeline import Ingestor

    corpus = vt.mini_corpus(tmp_path / "corpus")
    data = tmp_path / "data"
    database_url = request.getfixturevalue("pg_url") if database == "postgresql" else ""
    settings = vt.make_settings(data, corpus, database_url)
    env = vt.subprocess_env(data, corpus, VERBATIM_DATABASE_URL=database_url)
    killed = subprocess.run([sys.executable, "-c", WRITER], cwd=vt.REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    lines = killed.stdout.splitlines()
    assert lines and lines[-1] == "embedded; killing before the flip", (killed.stdout, killed.stderr)
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr)
    before = json.loads(lines[0])
    assert sorted(before["added"]) == [DOC_000, EXCERPT]
    assert not (corpus / EXCERPT).exists() and MARKER in (corpus / DOC_000).read_text(encoding="utf-8")

    # The catalogue is untouched ...
    catalogue = ix.Catalogue.from_settings(settings.index)
    assert {s: d.content_hash for s, d in catalogue.documents().items()} == before["hashes"]
    assert sorted(c.id for c in catalogue.chunks()) == before["chunks"]
    # ... and a freshly built bot still answers from the previous index, quoting the deleted document.
    bot = ChatBot.from_settings(settings)
    reply = bot.ask("What causes paraneoplastic syndrome?")
    assert reply.kind == "answer", reply.trace
    assert EXCERPT in {q.source for q in reply.quotes}
    assert all(bot.library.verify(q.source, q.start, q.end, q.text) for q in reply.quotes)
    assert not any(MARKER in p.text for p in bot.library.passages.values())

    # The next run completes and reports the change; the vectors the killed run made are reused.
    report = Ingestor(settings.index, embeddings).run(progress=False)
    assert report.updated == [DOC_000] and report.removed == [EXCERPT]
    assert report.embedded == 0, "the killed run's vectors are in Chroma: nothing should be embedded again"
    assert set(catalogue.documents()) == {DOC_000}
    assert any(MARKER in p.text for p in catalogue.passages([DOC_000]))
    collection, _ = ix.open_collection(settings.index, embeddings.model_id, create=False)
    assert set(collection.get(include=[])["ids"]) == {c.id for c in catalogue.chunks()}

    after = ChatBot.from_settings(settings).ask("What causes paraneoplastic syndrome?")
    assert all(q.source == DOC_000 for q in after.quotes), "the deleted document must no longer be quoted"
