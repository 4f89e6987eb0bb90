"""Answers that survive a greeting or a closing remark.

    python -m benchmarks.framing [--sample N]

Our own sets' questions are bare; people open and close theirs with remarks ("Hi doctor, ...", "... Please help!").
This asks every single-turn answer item of eval/sets plainly, then wrapped in each remark below, and reports per
remark the items still grounded (an answer quoting one of the item's phrases, scored as `python -m eval run` scores
it) with 95% Wilson intervals, and what the lost ones got instead.

The remarks were counted, not chosen (2026-12-06): the most frequent opening clauses and closing sentences of
- POOL: the training pool's consumer questions (AskDocs, HealthTap, COVID-Q: titles, few remarks);
- HELD_OUT: the eval-only records (iCliniq, eHealth Forum, Question Doctors), which no rule, word list or model of
  the bot is written or trained from. Their numbers are the honest ones: the POOL remarks were seen while fixing.
Run on the configured index (`make index` first). Prints one JSON object; docs/benchmarks.md records it.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import os
import time
from pathlib import Path

SETS = Path(__file__).resolve().parent.parent / "eval" / "sets"


def _lower(q: str) -> str:
    return q[:1].lower() + q[1:]


FRAMES = {
    "POOL": {
        "Help! ...": lambda q: "Help! " + q,
        "Hello. ...": lambda q: "Hello. " + q,
        "hey guys, ...": lambda q: "hey guys, " + _lower(q),
        "... Please help!": lambda q: q + " Please help!",
        "... Any advice?": lambda q: q + " Any advice?",
    },
    "HELD_OUT": {
        "Hi doctor, ...": lambda q: "Hi doctor, " + _lower(q),
        "Hello doctor, ...": lambda q: "Hello doctor, " + _lower(q),
        "Dear doctor, ...": lambda q: "Dear doctor, " + _lower(q),
        "... Thank you.": lambda q: q + " Thank you.",
        "... Please help me.": lambda q: q + " Please help me.",
        "... Please advice.": lambda q: q + " Please advice.",
        "... Thanks in advance.": lambda q: q + " Thanks in advance.",
        "... Please explain.": lambda q: q + " Please explain.",
        "... Thanks.": lambda q: q + " Thanks.",
    },
}


def items(sample: int = 0) -> list:
    """The single-turn answer items of our own sets (the first `sample` of them, if given)."""
    from eval.validation import load_sets

    found = [i for i in load_sets(sorted(SETS.glob("*.jsonl"))) if i.expect == ("answer",) and len(i.turns) == 1]
    return found[:sample] if sample else found


def framed(bot, ctx, questions: list, frames: dict = FRAMES) -> dict:
    """Per group of remarks and per remark: the items still grounded when wrapped in it, and what the ones
    grounded when asked plainly got instead (reply kinds)."""
    from eval.metrics import Rate
    from eval.runner import run_items
    from eval.scoring import score_run

    def ask(frame) -> list[dict]:
        wrapped = [dataclasses.replace(i, turns=(frame(i.turns[0]),)) for i in questions]
        return [score_run(r, ctx) for r in run_items(bot, wrapped, progress=False)]

    def rate(k: int, n: int) -> dict:
        return Rate(k, n).to_dict()  # k, n, value and its 95% Wilson interval, as the eval reports them

    plain = ask(lambda q: q)
    result: dict = {"items": len(questions), "plain": rate(sum(r["pass"] for r in plain), len(questions))}
    for group, remarks in frames.items():
        result[group] = {}
        for name, frame in remarks.items():
            rows = ask(frame)
            lost = collections.Counter(r["kind"] for p, r in zip(plain, rows) if p["pass"] and not r["pass"])
            result[group][name] = {"grounded": rate(sum(r["pass"] for r in rows), len(rows)), "lost_to": dict(lost)}
        k = sum(v["grounded"]["k"] for v in result[group].values())
        result[group]["all"] = rate(k, len(questions) * len(remarks))
    return result


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sample", type=int, default=0, metavar="N", help="only the first N items (tests)")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from eval.runner import load_bot
    from eval.scoring import ScoringContext
    from ingest.settings import Settings

    started = time.perf_counter()
    result = framed(load_bot(), ScoringContext.from_settings(Settings().index), items(args.sample))
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
