"""`python -m eval`: run labelled sets through the bot, report, compare, gate CI.

The CLI only parses arguments, calls the modules and translates errors into messages and exit codes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import report as rep
from .runner import DEFAULT_BOT
from .thresholds import DEFAULT_THRESHOLDS

EXIT_OK, EXIT_GATE, EXIT_USAGE, EXIT_BOT = 0, 1, 2, 3
SHIPPED_SETS = Path(__file__).with_name("sets")

EPILOG = """\
exit codes:
  0  done (run), or every threshold met (check)
  1  check: at least one metric misses its threshold (listed)
  2  wrong arguments, an invalid set (file, line and field listed) or an invalid thresholds file
  3  the bot cannot be built (e.g. no index: run `python -m ingest`)

Both commands first bring the index up to date with the corpus (incremental: unchanged documents are not
re-embedded), so the numbers describe the code and corpus as they are; --no-ingest evaluates the index as
it stands. Settings come from VERBATIM_* environment variables, as for the bot.
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m eval", description="Evaluate the bot on labelled question sets.",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--bot", default=DEFAULT_BOT, metavar="MODULE:CALLABLE",
                        help=f"what builds the bot (default {DEFAULT_BOT})")
    common.add_argument("--no-ingest", action="store_true", help="evaluate the index as it is, without updating it")
    common.add_argument("--quiet", action="store_true", help="no progress bars")

    run = sub.add_parser("run", parents=[common], help="run sets and write a report",
                         description="Ask every item of the sets through the bot and write a report.",
                         epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("sets", nargs="+", type=Path, metavar="SET.jsonl")
    run.add_argument("--out", type=Path, help="report folder (default reports/<timestamp>/)")
    run.add_argument("--compare", type=Path, metavar="DIR", help="an earlier run's folder to compare with")
    run.add_argument("--baseline", action="store_true",
                     help="also measure the LangChain tutorial build (1000/200 splitter, Chroma, top-4) side by side")
    run.add_argument("--thresholds", type=Path, default=DEFAULT_THRESHOLDS,
                     help="thresholds shown next to the metrics (informational for run)")
    run.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")

    check = sub.add_parser("check", parents=[common], help="run the shipped sets; fail below thresholds",
                           description="Run sets (default: the shipped eval/sets/*.jsonl) and exit 1 when any "
                           "metric misses its threshold.", epilog=EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("sets", nargs="*", type=Path, metavar="SET.jsonl", help="default: eval/sets/*.jsonl")
    check.add_argument("--thresholds", type=Path, default=DEFAULT_THRESHOLDS)
    check.add_argument("--out", type=Path, help="also write a report to this folder")
    return p


@dataclass
class Failure(Exception):
    code: int
    message: str


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    err = Console(stderr=True)
    try:
        if args.command == "run":
            return cmd_run(args, err)
        return cmd_check(args, err)
    except Failure as f:
        print(f.message, file=sys.stderr)  # plain: file:line: field must not be re-wrapped
        return f.code


def cmd_run(args, err: Console) -> int:
    from .thresholds import ThresholdError, load_thresholds

    items = _load_items(args.sets)
    thresholds = None
    if args.thresholds != DEFAULT_THRESHOLDS or DEFAULT_THRESHOLDS.exists():  # a file asked for must exist
        try:
            thresholds = load_thresholds(args.thresholds)
        except ThresholdError as exc:
            raise Failure(EXIT_USAGE, f"error: {exc}") from None
    previous = None
    if args.compare:  # fail before the long part
        from .compare import RunNotFound, load_run

        try:
            previous = load_run(args.compare)
        except RunNotFound as exc:
            raise Failure(EXIT_USAGE, f"error: {exc}") from None

    rows, summary, settings = evaluate(items, args, err)
    if thresholds:
        summary["gate"] = _gate(thresholds, summary)
    out = args.out or _timestamped(Path("reports"))
    if args.baseline:
        summary["baseline"], baseline_rows = _baseline(items, rows, settings, args.quiet)
        out.mkdir(parents=True, exist_ok=True)
        (out / "baseline.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in baseline_rows),
                                            encoding="utf-8")
    if previous:
        from .compare import compare

        summary["compare"] = {"previous": str(args.compare), **compare(*previous, summary, rows)}
    paths = rep.write_run(out, rows, summary)

    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        _print_summary(summary)
        Console().print(f"report: {escape(str(paths['report.html']))}", soft_wrap=True)
    return EXIT_OK


def cmd_check(args, err: Console) -> int:
    from .thresholds import ThresholdError, load_thresholds

    sets = args.sets or sorted(SHIPPED_SETS.glob("*.jsonl"))
    if not sets:
        raise Failure(EXIT_USAGE, f"error: no sets to check in {SHIPPED_SETS}")
    try:
        thresholds = load_thresholds(args.thresholds)
    except ThresholdError as exc:
        raise Failure(EXIT_USAGE, f"error: {exc}") from None
    items = _load_items(sets)
    rows, summary, _ = evaluate(items, args, err)
    summary["gate"] = _gate(thresholds, summary)
    if args.out:
        rep.write_run(args.out, rows, summary)

    # One plain line per threshold, never truncated or wrapped: CI logs are read in narrow windows and grepped.
    out = Console()
    out.print(f"Quality gate: {escape(str(args.thresholds))}, {summary['items']} items", soft_wrap=True)
    width = max(len(g["metric"]) for g in summary["gate"])
    for g in summary["gate"]:
        metric = summary["metrics"].get(g["metric"])
        interval = rep.format_interval(metric)
        status = "[green]ok  [/]" if g["ok"] else "[red bold]FAIL[/]"  # the gate: not measured fails too
        needs = f"needs {g['threshold']:<7}  ({interval})" if interval else f"needs {g['threshold']}"
        out.print(f"{status}  {g['metric']:<{width}}  {rep.format_value(g['metric'], metric):>7}  {needs}",
                  highlight=False, soft_wrap=True)
    for leak in summary["leaks"]:
        out.print(f"[red]leak[/] {escape(leak['id'])}: {escape('; '.join(leak['findings']))}", highlight=False,
                  soft_wrap=True)
    failed = [g for g in summary["gate"] if not g["ok"]]
    if failed:
        for g in failed:
            value = rep.format_value(g["metric"], summary["metrics"].get(g["metric"]))
            problem = "below threshold:" if g["value"] is not None else "not measured (no items for it; the gate needs it):"
            out.print(f"[red]{problem}[/] {g['metric']} = {value}, needs {g['threshold']}", highlight=False,
                      soft_wrap=True)
        return EXIT_GATE
    out.print(f"[green]all {len(summary['gate'])} thresholds met[/] on {summary['items']} items")
    return EXIT_OK


def evaluate(items, args, err: Console) -> tuple[list[dict], dict[str, Any], Any]:
    """Index up to date → bot → every item asked → scored rows and summary."""
    from ingest.settings import Settings

    from .runner import load_bot, run_items
    from .scoring import ScoringContext, score_run, summarize

    settings = Settings()
    started_at, started = datetime.now().astimezone(), time.perf_counter()
    if not args.no_ingest:
        _update_index(settings.index, err, quiet=args.quiet)
    try:
        bot = load_bot(args.bot)
    except Exception as exc:  # the bot's own message names the fix (e.g. "run python -m ingest")
        raise Failure(EXIT_BOT, f"error: cannot build the bot with {args.bot}: {exc}") from None
    runs = run_items(bot, items, progress=not args.quiet)
    ctx = ScoringContext.from_settings(settings.index)
    rows = [score_run(r, ctx) for r in runs]
    summary = summarize(rows)
    summary["run"] = {
        "started": started_at.isoformat(timespec="seconds"),
        "seconds": time.perf_counter() - started,
        "sets": [str(s) for s in args.sets] or [str(p) for p in sorted(SHIPPED_SETS.glob("*.jsonl"))],
        "bot": args.bot,
        "corpus_dir": str(settings.index.corpus_dir),
        "data_dir": str(settings.data_dir),
    }
    return rows, summary, settings


def _load_items(paths: Sequence[Path]):
    from .validation import SetError, load_sets

    try:
        return load_sets(list(paths))
    except SetError as exc:
        lines = [f"error: {len(exc.problems)} problem(s) in the set(s); nothing was run:"]
        raise Failure(EXIT_USAGE, "\n".join(lines + [f"  {p}" for p in exc.problems])) from None


def _update_index(settings, err: Console, quiet: bool) -> None:
    """`settings`: the `index` section."""
    from ingest.index import IndexError_
    from ingest.pipeline import Ingestor

    try:
        report = Ingestor(settings).run(progress=not quiet)
    except (IndexError_, FileNotFoundError) as exc:
        raise Failure(EXIT_BOT, f"error: cannot update the index: {exc}") from None
    if not quiet:
        err.print(f"index: {report.documents} documents, {report.embedded} chunks embedded now", highlight=False)


def _gate_cell(g: dict | None) -> str:
    """A threshold's cell in a run's table: a metric with no items in the run is not measured, not below."""
    if not g:
        return ""
    return "[yellow]not measured[/]" if g["value"] is None else "[green]ok[/]" if g["ok"] else "[red]below[/]"


def _gate(thresholds, summary) -> list[dict]:
    from .thresholds import check

    return [{"metric": v.threshold.metric, "threshold": v.threshold.describe(), "value": v.value, "ok": v.ok}
            for v in check(thresholds, summary)]


def _baseline(items, rows, settings, quiet: bool) -> tuple[dict, list[dict]]:
    from ingest.embeddings import SentenceTransformerEmbeddings
    from ingest.safety import SafetyTagger, dose_patterns

    from .baseline import TutorialRetriever, run_baseline, side_by_side

    index = settings.index
    retriever = TutorialRetriever(index.corpus_dir, SentenceTransformerEmbeddings(index.model_path))
    try:
        results = run_baseline(items, retriever, dose_patterns().find, SafetyTagger().tags_for_text,
                               progress=not quiet)
    finally:
        retriever.close()
    return side_by_side(results, rows, items), [r.to_dict() for r in results]


def _timestamped(root: Path) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out, n = root / stamp, 1
    while out.exists():  # two runs in one second
        n += 1
        out = root / f"{stamp}-{n}"
    return out


def _print_summary(summary: dict) -> None:
    out = Console()
    gate = {g["metric"]: g for g in summary.get("gate", [])}
    table = Table(title=f"{summary['items']} items, {summary['passed']} passed every check")
    for col in ("metric", "value", "k/n · 95% CI", "gate"):
        table.add_column(col)
    for name, text, metric in rep.ordered_metrics(summary["metrics"]):
        if name.startswith("accuracy."):
            continue  # per-label rows are in the report
        g = gate.get(name)
        table.add_row(text, rep.format_value(name, metric), rep.format_interval(metric),
                      _gate_cell(g))
    out.print(table)
    for leak in summary["leaks"]:
        out.print(f"[red]leak[/] {escape(leak['id'])}: {escape('; '.join(leak['findings']))}", highlight=False,
                  soft_wrap=True)
    if summary.get("compare", {}).get("flipped"):
        for f in summary["compare"]["flipped"]:
            out.print(f"flipped {escape(f['id'])}: {f['before']} → {f['after']}", highlight=False, soft_wrap=True)
    if summary.get("baseline"):
        for row in summary["baseline"]["table"].values():
            ours = row["ours"]
            out.print(f"baseline · {row['label']}: {rep.format_value('', row['baseline'])}"
                      + (f" vs ours {rep.format_value('', ours)}" if ours else ""), highlight=False, soft_wrap=True)
