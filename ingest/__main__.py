"""`python -m ingest`: build or update the index of the patient documents."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

EXIT_OK, EXIT_SKIPPED, EXIT_USAGE, EXIT_INDEX, EXIT_MISSING = 0, 1, 2, 3, 4

EPILOG = """\
exit codes:
  0  the index is up to date
  1  --strict and at least one file was skipped (the rest was still indexed)
  2  wrong arguments
  3  the index cannot be used as configured (e.g. built with another embedding model: use --rebuild)
  4  a PATH does not exist

Supported files: .txt, .md (YAML front matter → metadata), .html, .pdf. Metadata for plain files comes from
manifest.yaml in the same folder. Settings come from VERBATIM_* environment variables (see README).
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ingest",
        description="Turn a folder of patient documents into the safety-tagged index the bot answers from. "
        "Incremental: unchanged documents are not re-embedded; removed ones are dropped from the index.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                   help="files or folders to ingest (default: the corpus folder, VERBATIM_CORPUS_DIR). "
                   "With PATHs, other indexed documents are kept; without, documents no longer in the corpus are removed.")
    p.add_argument("--rebuild", action="store_true", help="re-process and embed everything into a new index version; the current one answers until the flip")
    p.add_argument("--strict", action="store_true", help="exit with code 1 if any file was skipped")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.add_argument("--report", action="store_true", help="list every tagged passage (document, section, text) for review")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    from rich.console import Console

    from .index import IndexError_
    from .pipeline import Ingestor
    from .settings import Settings

    err = Console(stderr=True)
    settings = Settings()
    try:
        report = Ingestor(settings.index).run(args.paths or None, rebuild=args.rebuild,
                                              progress=not (args.quiet or args.json))
    except FileNotFoundError as exc:
        err.print(f"[red]error:[/] {exc}")
        return EXIT_MISSING
    except IndexError_ as exc:
        err.print(f"[red]error:[/] {exc}")
        return EXIT_INDEX

    if args.json:
        data = report.to_dict()
        if not args.report:
            data.pop("tagged_passages")
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        _print_summary(report, args.report)
    for source, reason in report.skipped:
        err.print(f"[yellow]skipped[/] {source}: {reason}")
    return EXIT_SKIPPED if (args.strict and report.skipped) else EXIT_OK


def _print_summary(report, show_tagged: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console()
    t = Table(title="Index updated", show_header=False)
    for label, value in [
        ("documents added", len(report.added)),
        ("documents updated", len(report.updated)),
        ("documents unchanged", len(report.unchanged)),
        ("documents removed", len(report.removed)),
        ("files skipped", len(report.skipped)),
        ("documents in index", report.documents),
        ("passages", report.passages),
        ("chunks", report.chunks),
        ("chunks embedded now", report.embedded),
        *[(f"passages tagged {k}", v) for k, v in sorted(report.tagged.items())],
        ("seconds", f"{report.seconds:.1f}"),
    ]:
        t.add_row(label, str(value))
    out.print(t)
    if show_tagged:
        r = Table(title="Tagged passages (never quoted to a patient)")
        for col in ("document", "section", "tags", "text"):
            r.add_column(col, overflow="fold")
        for p in report.tagged_passages:
            r.add_row(p["source"], p["section"], ", ".join(p["tags"]), p["text"])
        out.print(r)


if __name__ == "__main__":
    sys.exit(main())
