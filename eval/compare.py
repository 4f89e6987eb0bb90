"""Comparing a run with an earlier one: metric deltas and the items that flipped between pass and fail.

Flipped items come first because they are what a reviewer acts on: an aggregate that moved by one point
is one item, and which item it was says whether it matters.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence


class RunNotFound(FileNotFoundError):
    pass


def load_run(folder: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """summary.json and results.jsonl of an earlier `python -m eval run --out FOLDER`."""
    folder = Path(folder)
    summary_path, results_path = folder / "summary.json", folder / "results.jsonl"
    if not summary_path.is_file() or not results_path.is_file():
        raise RunNotFound(f"{folder} holds no earlier run (summary.json and results.jsonl are written by "
                          "`python -m eval run --out DIR`)")
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    rows = [json.loads(line) for line in results_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return summary, rows


def compare(before_summary: Mapping, before_rows: Sequence[Mapping],
            after_summary: Mapping, after_rows: Sequence[Mapping]) -> dict[str, Any]:
    before_m, after_m = before_summary.get("metrics", {}), after_summary.get("metrics", {})
    deltas = {}
    for name in [*after_m, *(n for n in before_m if n not in after_m)]:
        b = (before_m.get(name) or {}).get("value")
        a = (after_m.get(name) or {}).get("value")
        deltas[name] = {"before": b, "after": a, "delta": a - b if a is not None and b is not None else None}

    before = {r["id"]: r for r in before_rows}
    after = {r["id"]: r for r in after_rows}
    flipped = []
    for item_id, row in after.items():
        old = before.get(item_id)
        if old is not None and bool(old["pass"]) != bool(row["pass"]):
            flipped.append({
                "id": item_id,
                "before": "pass" if old["pass"] else "fail",
                "after": "pass" if row["pass"] else "fail",
                "kind_before": old.get("kind"),
                "kind_after": row.get("kind"),
            })
    # regressions (pass → fail) before fixes, each group in the order of the current run
    flipped.sort(key=lambda f: f["after"] == "pass")
    return {
        "flipped": flipped,
        "metrics": deltas,
        "added": [i for i in after if i not in before],
        "removed": [i for i in before if i not in after],
    }
