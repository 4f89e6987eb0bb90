"""Scale-out benchmark: the same simulated patients through nginx against 1, 2, … app workers.

    python -m benchmarks.scale_out --workers 1,2 --patients 20 --questions 3 --json
    python -m benchmarks.scale_out --workers 1,2,4 --patients 40 --questions 5 --write-docs

One PostgreSQL and one `chroma run` for the whole run (the corpus ingested once), then for each setting a new
database, N workers started together and nginx in front (`benchmarks.cluster`). The patients are
`benchmarks.load_chat`'s: each a `gradio_client` session asking a multi-turn mix, all at once, each holding
its own affinity cookie as a browser would. Per setting: throughput, the patients' p50/p95, errors, how the
patients spread over the workers, the workers' CPU time, and whether every turn is in PostgreSQL exactly once
(one complete conversation per patient, no turn missing, none twice).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.cluster import MissingTool, affinity_headers, backends, cluster, worker_for
from benchmarks.load_chat import ROOT, replace_section, run

SECTION = "## Scale-out: workers behind a load balancer"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_setting(b, workers: int, patients: int, questions: int) -> dict:
    with cluster(b, workers, f"scale_out_{workers}") as c:
        headers = [affinity_headers() for _ in range(patients)]
        spread = Counter(worker_for(c.url, h) for h in headers)
        cpu_before = [cpu_seconds(w.proc.pid) for w in c.workers]
        report = run(c.url, patients, questions, c.database_url, headers=headers)
        report["workers"] = workers
        report["patients_per_worker"] = sorted(spread.values(), reverse=True)
        report["workers_cpu_seconds"] = round(sum(cpu_seconds(w.proc.pid) - before
                                                  for w, before in zip(c.workers, cpu_before)), 1)
        report["exactly_once"] = bool(report["turns_logged"] == patients * questions
                                      and report["every_conversation_complete"])
    return report


def markdown(reports: list[dict]) -> str:
    first = reports[0]
    rows = "\n".join(
        f"| {r['workers']} | {r['turns_answered']} / {r['turns_expected']} | {len(r['errors'])} | "
        f"{r['turns_per_second']} | {r['latency_p50_s']:.2f} s | {r['latency_p95_s']:.2f} s | "
        f"{r['latency_max_s']:.2f} s | {r['turns_logged']} ({'yes' if r['exactly_once'] else 'NO'}) | "
        f"{' / '.join(map(str, r['patients_per_worker']))} | {r['workers_cpu_seconds']} s | "
        f"{r['bot_ms_p50']} / {r['bot_ms_p95']} ms | {r['load_average_before']} |"
        for r in reports)
    return f"""{SECTION}

`python -m benchmarks.scale_out --workers {','.join(str(r['workers']) for r in reports)} --patients {first['patients']} \
--questions {first['questions_each']} --write-docs` — measured {datetime.now(timezone.utc):%Y-%m-%d} on {first['cpus']} CPU cores shared
with other work (the load average when each setting started is in the table). Each setting: a new PostgreSQL
database, N workers (`python app.py`) started together, nginx in front with cookie affinity, vectors from one
`chroma run`; {first['patients']} simulated patients × {first['questions_each']} questions (the `load_chat` mix), all at once, each
patient holding its own affinity cookie. Latencies are the patients' (send → full reply); "bot's own work" is
the trace's `timings_ms.total`.

| workers | turns answered | errors | turns/s | p50 | p95 | max | turns in PostgreSQL (each exactly once) | patients per worker | workers' CPU | bot's own work p50 / p95 | load average at start |
|---|---|---|---|---|---|---|---|---|---|---|---|
{rows}

Reading it: this machine has {first['cpus']} cores for everything — the workers, PostgreSQL, Chroma, nginx and
the load generator's {first['patients']} `gradio_client` sessions — so a second worker can add at most the one core
the first left idle, and less when other jobs run. The point of the run is that the setup is correct under
load (0 errors, every turn stored exactly once, patients spread over the workers); how throughput grows with
workers has to be measured on hosts with a core per worker and the load generator elsewhere.
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", default="1,2", metavar="N,N,…", help="worker counts to compare (default 1,2)")
    p.add_argument("--patients", type=int, default=20)
    p.add_argument("--questions", type=int, default=3)
    p.add_argument("--json", action="store_true", help="print the reports as JSON")
    p.add_argument("--write-docs", action="store_true", help="record the results in docs/benchmarks.md")
    args = p.parse_args(argv)
    counts = [int(n) for n in args.workers.split(",") if n.strip()]
    if not counts or min(counts) < 1:
        p.error("--workers takes positive counts, e.g. 1,2")
    reports = []
    try:
        with tempfile.TemporaryDirectory(prefix="verbatim-scale-") as tmp, backends(Path(tmp)) as b:
            for n in counts:
                print(f"{n} worker(s)…", file=sys.stderr, flush=True)
                reports.append(one_setting(b, n, args.patients, args.questions))
    except (MissingTool, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.write_docs:
        replace_section(ROOT / "docs" / "benchmarks.md", SECTION, markdown(reports))
    if args.json:
        print(json.dumps(reports, indent=2))
    else:
        print(markdown(reports))
    for r in reports:
        for e in r["errors"][:10]:
            print(f"error ({r['workers']} workers):", e, file=sys.stderr)
    return 0 if all(r["ok"] and r["exactly_once"] for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
