"""What the console hands out in bulk: exports of filtered turns (CSV, JSONL) and the dashboard's numbers
and charts (matplotlib, rendered to PNG in memory: no files, no pyplot global state, safe across threads).
The turns come from the log's public iterators (`ConversationLog.iter_turns`, `turn_summaries`)."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterator

from bot.types import REPLY_KINDS
from store import ConversationLog, Turn

CSV_COLUMNS = [
    "turn_id", "conversation_id", "ordinal", "created_at", "completed_at", "latency_ms", "message", "kind", "reason",
    "reply_text", "quote_sources", "feedback", "feedback_comment", "verdict", "verdict_note", "verdict_by",
    "verdict_at", "verdict_count",
]


def latest_verdict(turn: Turn):
    return turn.verdicts[-1] if turn.verdicts else None


def turn_record(turn: Turn) -> dict[str, Any]:
    """One turn as a JSON object: everything staff see, with every verdict (latest last, and on its own)."""
    v = latest_verdict(turn)
    return {
        "turn_id": turn.id, "conversation_id": turn.conversation_id, "ordinal": turn.ordinal,
        "created_at": turn.created_at.isoformat(), "completed_at": turn.completed_at.isoformat(),
        "latency_ms": turn.latency_ms, "message": turn.message, "kind": turn.kind, "reason": turn.reason,
        "reply_text": turn.reply_text, "quotes": turn.quotes, "trace": turn.trace, "feedback": turn.feedback,
        "feedback_comment": turn.feedback_comment,
        "verdict": _verdict_dict(v) if v else None,
        "verdicts": [_verdict_dict(x) for x in turn.verdicts],
    }


def _verdict_dict(v) -> dict[str, Any]:
    return {"verdict": v.verdict, "note": v.note, "staff_user": v.staff_user, "created_at": v.created_at.isoformat()}


def jsonl_lines(turns: Iterator[Turn]) -> Iterator[str]:
    for t in turns:
        yield json.dumps(turn_record(t), ensure_ascii=False) + "\n"


def _cell(value: Any) -> Any:
    """Spreadsheets run cells that start with = + - @ (and tab / CR) as formulas: make them text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_lines(turns: Iterator[Turn]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf)

    def flush() -> str:
        out = buf.getvalue()
        buf.seek(0)
        buf.truncate()
        return out

    yield "\ufeff"  # so spreadsheet programs read UTF-8
    writer.writerow(CSV_COLUMNS)
    yield flush()
    for t in turns:
        v = latest_verdict(t)
        row = [t.id, t.conversation_id, t.ordinal, t.created_at.isoformat(), t.completed_at.isoformat(), t.latency_ms,
               t.message, t.kind, t.reason or "", t.reply_text,
               " | ".join(dict.fromkeys(q.get("source", "") for q in t.quotes)), t.feedback or "",
               t.feedback_comment or "", v.verdict if v else "", v.note if v else "", v.staff_user if v else "",
               v.created_at.isoformat() if v else "", len(t.verdicts)]
        writer.writerow([_cell(x) for x in row])
        yield flush()


# ----------------------------------------------------------------------------------------------- dashboard


@dataclass
class DashboardStats:
    since: date
    until: date  # inclusive
    days: list[date] = field(default_factory=list)
    turns_per_day: list[int] = field(default_factory=list)
    negative_per_day: list[int] = field(default_factory=list)
    unsafe_per_day: list[int] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)
    total: int = 0
    negative: int = 0
    unsafe: int = 0
    reviewed: int = 0


def dashboard_stats(log: ConversationLog, since: date, until: date) -> DashboardStats:
    """Per day of the patient's message (UTC): turns, thumbs-down, turns whose latest verdict is "unsafe";
    and the share of each reply kind over the whole range."""
    start = datetime.combine(since, datetime.min.time()).replace(tzinfo=timezone.utc)
    end = datetime.combine(until + timedelta(days=1), datetime.min.time()).replace(tzinfo=timezone.utc)
    days = [since + timedelta(days=i) for i in range((until - since).days + 1)]
    per_day = {d: [0, 0, 0] for d in days}
    kinds: Counter[str] = Counter()
    stats = DashboardStats(since, until, days)
    for row in log.turn_summaries(start, end):
        counts = per_day.setdefault(row.created_at.date(), [0, 0, 0])
        counts[0] += 1
        counts[1] += row.feedback == "down"
        counts[2] += row.verdict == "unsafe"
        kinds[row.kind] += 1
        stats.reviewed += row.verdict is not None
    stats.turns_per_day = [per_day[d][0] for d in days]
    stats.negative_per_day = [per_day[d][1] for d in days]
    stats.unsafe_per_day = [per_day[d][2] for d in days]
    stats.kinds = {k: kinds.get(k, 0) for k in REPLY_KINDS} | {k: n for k, n in kinds.items() if k not in REPLY_KINDS}
    stats.total, stats.negative, stats.unsafe = sum(stats.turns_per_day), sum(stats.negative_per_day), sum(stats.unsafe_per_day)
    return stats


KIND_COLOURS = {"answer": "#1f4e79", "refusal": "#a15c00", "emergency": "#b00020", "out_of_scope": "#4a55a2",
                "no_answer": "#6b7280"}


def dashboard_charts(stats: DashboardStats) -> dict[str, bytes]:
    """Three PNG charts: turns per day, share of reply kinds, negative feedback and unsafe verdicts per day."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    def png(fig) -> bytes:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
        return buf.getvalue()

    def date_axis(ax, top: int) -> None:
        locator = AutoDateLocator(maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(0, max(1, top) * 1.15)  # counts: whole numbers, zero at the bottom, never an empty scale
        ax.spines[["top", "right"]].set_visible(False)

    charts = {}
    fig = Figure(figsize=(6.4, 2.8))
    ax = fig.subplots()
    ax.bar(stats.days, stats.turns_per_day, color="#1f4e79", width=0.8)
    ax.set_title("Turns per day")
    ax.set_ylabel("turns")
    date_axis(ax, max(stats.turns_per_day, default=0))
    charts["turns"] = png(fig)

    fig = Figure(figsize=(6.4, 2.8))
    ax = fig.subplots()
    total = max(1, stats.total)
    names = list(stats.kinds)
    shares = [100 * stats.kinds[k] / total for k in names]
    bars = ax.barh(names[::-1], shares[::-1], color=[KIND_COLOURS.get(k, "#888") for k in names[::-1]])
    for bar, k in zip(bars, names[::-1]):
        ax.text(bar.get_width() + 1, bar.get_y() + bar.get_height() / 2, f"{stats.kinds[k]}", va="center", fontsize=9)
    ax.set_xlim(0, 105)
    ax.set_xlabel("% of turns")
    ax.set_title("Share of reply kinds")
    ax.spines[["top", "right"]].set_visible(False)
    charts["kinds"] = png(fig)

    fig = Figure(figsize=(6.4, 2.8))
    ax = fig.subplots()
    ax.plot(stats.days, stats.negative_per_day, marker="o", color="#a15c00", label="thumbs down")
    ax.plot(stats.days, stats.unsafe_per_day, marker="s", color="#b00020", label="judged unsafe (latest verdict)")
    ax.set_title("Negative feedback and unsafe verdicts per day")
    ax.legend(frameon=False, fontsize=9, loc="upper left")
    date_axis(ax, max(stats.negative_per_day + stats.unsafe_per_day, default=0))
    charts["problems"] = png(fig)
    return charts
