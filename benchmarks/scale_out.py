"""Scale-out benchmark: the same simulated patients through nginx against 1, 2, … app workers.

    python -m benchmarks.scale_out --workers 1,2 --patients 20 --questions 3 --json
    python -m benchmarks.scale_out --workers 1,2,4 --patients 40 --questions 5 --write-docs
    python -m benchmarks.scale_out --workers 1,2 --faults --write-docs   # … then the fault run below

One PostgreSQL and one `chroma run` for the whole run, then for each setting a new database and Chroma
collection with the corpus ingested into them, N workers started together, each with its own data dir, and
nginx in front (`benchmarks.cluster`). The patients are
`benchmarks.load_chat`'s: each a `gradio_client` session asking a multi-turn mix, all at once, each holding
its own affinity cookie as a browser would. Per setting: throughput, the patients' p50/p95, errors, how the
patients spread over the workers, the workers' CPU time, and whether every turn is in PostgreSQL exactly once
(one complete conversation per patient, no turn missing, none twice).

`--faults` adds one more run on the largest setting (at least 2 workers): once a third of the turns are
answered, one worker is killed (SIGKILL) and `python -m ingest --rebuild` runs while the rest serve. A patient
whose turn was in flight on the killed worker asks that question again, as a person would. Checked: every
reply a patient saw is in the log (no committed turn lost), no reply is the fail-closed fallback (nothing
answered from a half-built index), the killed worker's patients finish their questions on another worker,
and every surviving worker ends on the new index version.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.app_server import Patient
from benchmarks.cluster import MissingTool, affinity_headers, backends, cluster, worker_for
from benchmarks.load_chat import QUESTIONS, ROOT, percentile, replace_section, run

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


_KIND = re.compile(r'class="vb-reply vb-([a-z-]+)"')


def fault_patient(url: str, headers: dict, questions: list[str], start: threading.Barrier, out: dict) -> None:
    """One patient through the load balancer; a turn that breaks (its worker died) is asked once more."""
    out.update(answered=[], retried=0, errors=[], moved=False)
    try:
        p = Patient(url, headers=headers)
    except Exception as exc:
        out["errors"].append(f"connect: {exc!r}")
        return
    start.wait()
    for question in questions:
        for attempt in (1, 2):
            t0 = time.perf_counter()
            try:
                if p.send(question)[0] != "":
                    raise RuntimeError("not accepted")
                chat = p.respond()[0]["value"]
                kind = _KIND.search(chat[-1]["content"][0]["text"]) if chat[-1]["role"] == "assistant" else None
                if not kind:
                    raise RuntimeError("no finished reply")
                out["moved"] = out["moved"] or any(
                    "new conversation" in m["content"][0]["text"] for m in chat if m["role"] == "assistant")
                out["answered"].append((question, time.perf_counter() - t0))
                out.setdefault("done_at", []).append(time.perf_counter())
                break
            except Exception as exc:
                if attempt == 2:
                    out["errors"].append(f"{question!r}: {exc!r}")
                else:
                    out["retried"] += 1
                    p.close()
                    p = Patient(url, headers=headers)  # the tab reloads: a new session on a live worker
    p.close()


def fault_run(b, workers: int, patients: int, questions: int) -> dict:
    import httpx

    from store import ConversationLog

    with cluster(b, workers, f"scale_out_faults_{workers}") as c:
        headers = [affinity_headers() for _ in range(patients)]
        doomed = c.workers[0]
        on_doomed = [i for i, h in enumerate(headers) if worker_for(c.url, h) == f"127.0.0.1:{doomed.port}"]
        version_before = int(httpx.get(c.workers[-1].url + "healthz", timeout=30).json()["index_version"])
        outs = [dict() for _ in range(patients)]
        barrier = threading.Barrier(patients)
        threads = [threading.Thread(target=fault_patient, daemon=True, args=(
            c.url, headers[i], [QUESTIONS[(i + k) % len(QUESTIONS)] for k in range(questions)], barrier, outs[i]))
            for i in range(patients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        while sum(len(o.get("answered", ())) for o in outs) < patients * questions // 3:
            time.sleep(0.05)
        doomed.kill()
        killed_at = time.perf_counter() - t0
        rebuild_start = time.perf_counter()
        rebuild = c.ingest(b.root / c.database / "rebuild-data", "--rebuild")  # from a data dir of its own
        rebuild_end = time.perf_counter()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        survivors = c.workers[1:]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            versions = [int(httpx.get(w.url + "healthz", timeout=30).json()["index_version"]) for w in survivors]
            if versions == [version_before + 1] * len(survivors):
                break
            time.sleep(0.5)
        log = ConversationLog(c.database_url)
        turns = log.turns(limit=None)
        log.close()
    answered = [q for o in outs for q, _ in o["answered"]]
    logged = Counter(t.message for t in turns)
    missing = sum((Counter(answered) - logged).values())
    latencies = [s for o in outs for _, s in o["answered"]]
    done_at = [d for o in outs for d in o.get("done_at", ())]
    return {
        "workers": workers, "patients": patients, "questions_each": questions,
        "turns_expected": patients * questions, "turns_answered": len(answered),
        "errors": [e for o in outs for e in o["errors"]], "retried_after_the_kill": sum(o["retried"] for o in outs),
        "killed_after_s": round(killed_at, 2), "wall_seconds": round(wall, 2),
        "latency_p50_s": round(percentile(latencies, 50), 3), "latency_p95_s": round(percentile(latencies, 95), 3),
        "rebuild_exit_code": rebuild.returncode, "index_version_before": version_before,
        "rebuild_seconds": round(rebuild_end - rebuild_start, 2),
        "turns_finished_during_the_rebuild": sum(1 for d in done_at if rebuild_start <= d < rebuild_end),
        "turns_finished_after_the_rebuild": sum(1 for d in done_at if d >= rebuild_end),
        "survivors_index_versions": versions,
        "answered_turns_missing_from_the_log": missing, "turns_logged": len(turns),
        "fallback_replies": sum(1 for t in turns if "error" in t.trace),
        "patients_on_the_killed_worker": len(on_doomed),
        "of_them_finished_every_question": sum(1 for i in on_doomed if len(outs[i]["answered"]) == questions),
        "of_them_told_new_conversation": sum(1 for i in on_doomed if outs[i]["moved"]),
    }


def fault_ok(r: dict) -> bool:
    return (not r["errors"] and r["turns_answered"] == r["turns_expected"] and r["rebuild_exit_code"] == 0
            and r["answered_turns_missing_from_the_log"] == 0 and r["fallback_replies"] == 0
            and r["of_them_finished_every_question"] == r["patients_on_the_killed_worker"]
            and r["survivors_index_versions"] == [r["index_version_before"] + 1] * (r["workers"] - 1))


def fault_markdown(r: dict) -> str:
    return f"""
**Faults during the run** (`--faults`): {r['workers']} workers, {r['patients']} patients × {r['questions_each']} questions;
after {r['killed_after_s']} s (a third of the turns answered) worker 1 was killed with SIGKILL and
`python -m ingest --rebuild` ran while the others served.

| measure | result |
|---|---|
| turns answered | {r['turns_answered']} / {r['turns_expected']} (errors: {len(r['errors'])}) |
| turns asked again because their worker died mid-answer | {r['retried_after_the_kill']} |
| answered turns missing from PostgreSQL | {r['answered_turns_missing_from_the_log']} (turns logged: {r['turns_logged']}) |
| fail-closed fallback replies (e.g. from a half-built index) | {r['fallback_replies']} |
| patients on the killed worker who finished every question | {r['of_them_finished_every_question']} / {r['patients_on_the_killed_worker']} (a broken turn is asked again from a fresh tab; patients who kept their tab and were told "new conversation": {r['of_them_told_new_conversation']}) |
| rebuild | exit {r['rebuild_exit_code']} after {r['rebuild_seconds']} s; surviving workers' index version {r['index_version_before']} → {', '.join(map(str, r['survivors_index_versions']))} |
| turns finished while the rebuild ran / after it | {r['turns_finished_during_the_rebuild']} / {r['turns_finished_after_the_rebuild']} |
| latency per answered turn, p50 / p95 | {r['latency_p50_s']:.2f} s / {r['latency_p95_s']:.2f} s |
""" + ("""
No turn finished after the rebuild's flip in this run, so it shows serving while a rebuild runs, not the
switch under load (`tests/cluster/` checks that every worker answers from the new version after a rebuild).
""" if r["turns_finished_after_the_rebuild"] == 0 else "")


def markdown(reports: list[dict], faults: dict | None = None) -> str:
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
--questions {first['questions_each']}{' --faults' if faults else ''} --write-docs` — measured {datetime.now(timezone.utc):%Y-%m-%d} on {first['cpus']} CPU cores shared
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
""" + (fault_markdown(faults) if faults else "")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", default="1,2", metavar="N,N,…", help="worker counts to compare (default 1,2)")
    p.add_argument("--patients", type=int, default=20)
    p.add_argument("--questions", type=int, default=3)
    p.add_argument("--faults", action="store_true",
                   help="then kill a worker and rebuild the index during a run on the largest setting (≥ 2 workers)")
    p.add_argument("--json", action="store_true", help="print the reports as JSON")
    p.add_argument("--write-docs", action="store_true", help="record the results in docs/benchmarks.md")
    args = p.parse_args(argv)
    counts = [int(n) for n in args.workers.split(",") if n.strip()]
    if not counts or min(counts) < 1:
        p.error("--workers takes positive counts, e.g. 1,2")
    if args.faults and max(counts) < 2:
        p.error("--faults needs a setting with at least 2 workers")
    reports, faults = [], None
    try:
        with tempfile.TemporaryDirectory(prefix="verbatim-scale-") as tmp, backends(Path(tmp)) as b:
            for n in counts:
                print(f"{n} worker(s)…", file=sys.stderr, flush=True)
                reports.append(one_setting(b, n, args.patients, args.questions))
            if args.faults:
                print(f"{max(counts)} workers, one killed and a rebuild during the run…", file=sys.stderr, flush=True)
                faults = fault_run(b, max(counts), args.patients, args.questions)
    except (MissingTool, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.write_docs:
        replace_section(ROOT / "docs" / "benchmarks.md", SECTION, markdown(reports, faults))
    if args.json:
        print(json.dumps({"settings": reports, "faults": faults} if faults else reports, indent=2))
    else:
        print(markdown(reports, faults))
    for r in reports:
        for e in r["errors"][:10]:
            print(f"error ({r['workers']} workers):", e, file=sys.stderr)
    for e in (faults or {}).get("errors", [])[:10]:
        print("error (faults):", e, file=sys.stderr)
    return 0 if all(r["ok"] and r["exactly_once"] for r in reports) and (faults is None or fault_ok(faults)) else 1


if __name__ == "__main__":
    sys.exit(main())
