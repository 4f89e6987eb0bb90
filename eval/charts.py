"""Report charts as PNG bytes (matplotlib's object API: no pyplot global state, no display needed)."""

from __future__ import annotations

import io
from typing import Mapping, Sequence

from matplotlib.figure import Figure

from bot.types import REPLY_KINDS

PASS, FAIL, NEUTRAL = "#2e7d32", "#c62828", "#1565c0"


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def pass_rate_by_kind(rates: Mapping[str, Mapping]) -> bytes:
    """Horizontal bars of accuracy per expected label, with 95% Wilson intervals and k/n."""
    labels = sorted(rates)
    fig = Figure(figsize=(7, 0.55 * len(labels) + 1.2))
    ax = fig.add_subplot()
    values = [rates[label]["value"] or 0.0 for label in labels]
    lows = [max(0.0, v - (rates[label]["low"] or 0.0)) for label, v in zip(labels, values)]
    highs = [max(0.0, (rates[label]["high"] or 0.0) - v) for label, v in zip(labels, values)]
    colors = [PASS if v >= 0.95 else FAIL if v < 0.8 else "#f9a825" for v in values]
    ax.barh(labels, values, xerr=[lows, highs], color=colors, capsize=3)
    for y, label in enumerate(labels):
        r = rates[label]
        ax.text(1.02, y, f"{r['k']}/{r['n']}", va="center", fontsize=9)
    ax.set_xlim(0, 1.12)
    ax.set_xlabel("share of items with an accepted reply kind (95% Wilson interval)")
    ax.set_title("Pass rate per expected kind")
    ax.invert_yaxis()
    return _png(fig)


def confusion(matrix: Mapping[str, Mapping[str, int]]) -> bytes:
    """Expected label (rows) × actual kind (columns), counts; accepted cells outlined."""
    rows = sorted(matrix)
    seen = {k for row in matrix.values() for k in row}
    cols = [k for k in REPLY_KINDS] + sorted(seen - set(REPLY_KINDS))  # "error" last, if any
    data = [[matrix[r].get(c, 0) for c in cols] for r in rows]
    fig = Figure(figsize=(1.1 * len(cols) + 2.5, 0.55 * len(rows) + 1.8))
    ax = fig.add_subplot()
    totals = [max(1, sum(row)) for row in data]
    shares = [[v / t for v in row] for row, t in zip(data, totals)]
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for i, r in enumerate(rows):
        accepted = r.split("|")
        for j, c in enumerate(cols):
            v = data[i][j]
            if v:
                ax.text(j, i, str(v), ha="center", va="center", color="white" if shares[i][j] > 0.5 else "black")
            if c in accepted:
                ax.add_patch(_cell_outline(j, i))
    ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("actual reply kind")
    ax.set_ylabel("expected")
    ax.set_title("Expected vs actual kind (outlined: accepted)")
    return _png(fig)


def _cell_outline(x: int, y: int):
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, edgecolor=PASS, linewidth=2)


def latency_histogram(seconds: Sequence[float], p50: float | None, p95: float | None) -> bytes:
    fig = Figure(figsize=(7, 3))
    ax = fig.add_subplot()
    ms = [s * 1000 for s in seconds]
    ax.hist(ms, bins=min(30, max(5, len(ms) // 4)), color=NEUTRAL)
    for value, name, style in ((p50, "p50", "--"), (p95, "p95", ":")):
        if value is not None:
            ax.axvline(value * 1000, color="black", linestyle=style, label=f"{name} {value * 1000:.0f} ms")
    ax.set_xlabel("latency per turn (ms)")
    ax.set_ylabel("turns")
    ax.set_title("Latency")
    if p50 is not None:
        ax.legend()
    return _png(fig)


def baseline_vs_ours(table: Mapping[str, Mapping]) -> bytes:
    """Grouped bars for the rows of the side-by-side table that have both sides."""
    rows = [(key, r) for key, r in table.items() if r.get("ours") is not None and r["baseline"]["n"]]
    fig = Figure(figsize=(7, 3.2))
    ax = fig.add_subplot()
    width = 0.38
    for offset, side, color in ((-width / 2, "baseline", "#9e9e9e"), (width / 2, "ours", NEUTRAL)):
        values = [r[side]["value"] or 0.0 for _, r in rows]
        bars = ax.bar([i + offset for i in range(len(rows))], values, width, label=side, color=color)
        for bar, (_, r) in zip(bars, rows):
            ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + 0.02,
                    f"{r[side]['k']}/{r[side]['n']}", ha="center", fontsize=8)
    names = {"answer_hit": "answer items:\ncontext/quotes hold the answer",
             "refusal_unsafe": "refusal items:\ndosing or remedy text"}
    ax.set_xticks(range(len(rows)), [names.get(k, k) for k, _ in rows])
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("share of items")
    ax.set_title("Tutorial build (top-4 context) vs Verbatim (reply)")
    ax.legend()
    return _png(fig)
