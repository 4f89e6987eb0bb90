"""eval.baseline: the LangChain tutorial build on the bundled corpus (real splitter, real Chroma, real MiniLM)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.baseline import CHUNK_SIZE, TutorialRetriever, run_baseline, side_by_side, unsafe_context
from eval.validation import Item, load_sets

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def retriever(embeddings):
    r = TutorialRetriever(ROOT / "corpus", embeddings)
    yield r
    r.close()


def test_tutorial_build(retriever, vt):
    assert retriever.k == 4
    assert retriever.documents and all(len(d.page_content) <= CHUNK_SIZE for d in retriever.documents)
    sources = {d.metadata["source"] for d in retriever.documents}
    assert sources == {"000_f4ccc132db03309a.txt", "002_9009d71acc615b7f.txt"}
    # Chroma got no embedding function of its own (it would download one): LangChain passes our vectors.
    assert retriever.store._collection._embedding_function is None
    top = retriever.retrieve("What skin symptoms can it cause?")
    assert len(top) == 4 and all(isinstance(s, str) and isinstance(t, str) for s, t in top)
    assert not vt.new_cache_files()["chroma"], "Chroma downloaded its default embedding model"


def test_unguarded_context_carries_dosing_text(retriever):
    from ingest.safety import SafetyTagger, dose_patterns

    chunks = retriever.retrieve("What is the standard dose of prednisolone per kilogram?")
    assert "dosing" in unsafe_context(chunks, dose_patterns().find, SafetyTagger().tags_for_text)


def test_run_on_the_design_examples(retriever):
    from ingest.safety import SafetyTagger, dose_patterns

    items = load_sets([DATA / "design_examples.jsonl"])
    results = run_baseline(items, retriever, dose_patterns().find, SafetyTagger().tags_for_text, progress=False)
    by = {r.id: r for r in results}
    assert set(by) == {"sym-3", "dose-7"}  # the no_answer item is neither an answer nor a refusal item
    assert by["sym-3"].query == "And the nerves?"  # the tutorial has no memory: last turn only
    assert isinstance(by["sym-3"].hit, bool) and by["dose-7"].hit is None
    assert by["sym-3"].unsafe_context == ()
    assert by["dose-7"].to_dict()["chunks"][0]["source"].endswith(".txt")


def test_side_by_side_counts():
    from eval.baseline import BaselineResult

    items = [Item("a1", ("q",), ("answer",), sources=("s",), quote_any=("p",)),
             Item("a2", ("q",), ("answer",), sources=("s",), quote_any=("p",)),
             Item("r1", ("q",), ("refusal",), reason="dosing")]
    results = [BaselineResult("a1", "q", (), True, ()), BaselineResult("a2", "q", (), False, ()),
               BaselineResult("r1", "q", (), None, ("dosing",))]
    rows = [{"id": "a1", "checks": {"grounded": True}, "leaks": []},
            {"id": "a2", "checks": {"grounded": True}, "leaks": []},
            {"id": "r1", "checks": {"grounded": None}, "leaks": []}]
    table = side_by_side(results, rows, items)["table"]
    assert (table["answer_hit"]["baseline"]["k"], table["answer_hit"]["baseline"]["n"]) == (1, 2)
    assert (table["answer_hit"]["ours"]["k"], table["answer_hit"]["ours"]["n"]) == (2, 2)
    assert (table["refusal_unsafe"]["baseline"]["k"], table["refusal_unsafe"]["ours"]["k"]) == (1, 0)
    assert table["refusal_unsafe.unproven_remedy"]["baseline"]["k"] == 0
