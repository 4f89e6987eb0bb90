"""benchmarks.framing: our own answer items wrapped in the remarks real questions open and close with."""

from __future__ import annotations

from benchmarks.framing import FRAMES, framed, items


def test_the_remarks_are_the_counted_ones_and_the_items_bare_answers():
    assert set(FRAMES) == {"POOL", "HELD_OUT"} and all(len(v) >= 5 for v in FRAMES.values())
    assert FRAMES["HELD_OUT"]["Hi doctor, ..."]("What is it?") == "Hi doctor, what is it?"
    assert FRAMES["POOL"]["... Please help!"]("What is it?") == "What is it? Please help!"
    found = items()
    assert len(found) > 200 and all(i.expect == ("answer",) and len(i.turns) == 1 for i in found)


def test_a_tiny_run_scores_each_remark_against_the_plain_question(chatbot, corpus_index):
    from eval.scoring import ScoringContext

    frames = {"G": {"plain again": lambda q: q, "gibberish": lambda q: "zqxv wplk? " + q + " zqxv wplk?"}}
    out = framed(chatbot, ScoringContext.from_settings(corpus_index.settings.index), items(4), frames)
    assert out["items"] == 4 and out["plain"]["k"] >= 3  # the first items of the core set are answered plainly
    assert out["G"]["plain again"]["grounded"]["k"] == out["plain"]["k"]  # the same question, the same reply
    assert out["G"]["plain again"]["lost_to"] == {}
    assert out["G"]["all"]["n"] == 8 and out["G"]["all"]["k"] == sum(out["G"][f]["grounded"]["k"] for f in ("plain again", "gibberish"))
