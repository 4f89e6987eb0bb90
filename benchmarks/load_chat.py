"""Load test of the patient web chat: N simulated patients × M questions, all at once, on loopback.

Each patient is a `gradio_client.Client` (its own Gradio session, like a browser tab) that calls the same
two steps the page calls: `/send` (accept the message) then `/respond` (stream the answer). Patients ask
multi-turn conversations (follow-ups, a dose question, an emergency, an off-topic one) concurrently.

Checks: zero errors, every turn answered with a finished reply, every turn in the conversation log (one
conversation per patient). Measures: per-turn latency as the patient feels it (send → full reply), p50/p95,
the server's own per-turn latency from the log, throughput.

    python -m benchmarks.load_chat                      # starts its own server on a free port, 20 × 5
    python -m benchmarks.load_chat --compare 1,2,4,8 --write-docs
                                                        # … plus the same load at other concurrency limits,
                                                        # recorded in docs/benchmarks.md
    python -m benchmarks.load_chat --url http://127.0.0.1:7860/ --database-url sqlite:///data/conversations.sqlite
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.app_server import Patient, free_port, wait_healthy
from ingest.index import Catalogue
from ingest.settings import IndexSettings, LogSettings

ROOT = Path(__file__).resolve().parent.parent

QUESTIONS = [
    "What is a paraneoplastic syndrome?",
    "What symptoms can it cause?",
    "And the nerves?",
    "How much prednisolone should I take?",
    "What causes paraneoplastic syndrome?",
    "How is it diagnosed?",
    "I can't breathe and my chest hurts",
    "How is it treated?",
    "What's the weather like tomorrow?",
    "Does propolis cure it?",
]
SECTION = "## Web chat under load"
_KIND = re.compile(r'class="vb-reply vb-([a-z-]+)"')


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (no interpolation: a reported p95 is a latency someone really waited)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * p // 100))  # ceil
    return ordered[int(rank) - 1]


# The server with another answering concurrency limit: for `--compare` only (the product has one setting).
LAUNCH_WITH_LIMIT = """
import runpy, sys
import web.page
web.page.CHAT_CONCURRENCY = int(sys.argv[2])
sys.argv = ["app.py", "--host", "127.0.0.1", "--port", sys.argv[1]]
runpy.run_path("app.py", run_name="__main__")
"""


class Server:
    """`python app.py` on a free loopback port with its own data dir and the rest of its settings from the
    environment (the index is built first if its catalogue has none: in the data dir, or in
    `VERBATIM_DATABASE_URL`'s database)."""

    def __init__(self, data_dir: Path, concurrency: int | None = None) -> None:
        self.data_dir = data_dir
        self.concurrency = concurrency
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.env = {**os.environ, "VERBATIM_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1",
                    "ANONYMIZED_TELEMETRY": "False", "GRADIO_ANALYTICS_ENABLED": "False"}
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "Server":
        # the server's own settings say where the catalogue is; version 0: nothing was ever ingested there
        with Catalogue.from_settings(IndexSettings(data_dir=self.data_dir)) as catalogue:
            built = catalogue.version() != "0"
        if not built:
            subprocess.run([sys.executable, "-m", "ingest", "--quiet"], cwd=ROOT, env=self.env, check=True,
                           stdout=subprocess.DEVNULL)
        self.log_file = open(self.data_dir / "server.log", "wb")
        cmd = ([sys.executable, "app.py", "--port", str(self.port)] if self.concurrency is None
               else [sys.executable, "-c", LAUNCH_WITH_LIMIT, str(self.port), str(self.concurrency)])
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=self.log_file, stderr=subprocess.STDOUT)
        wait_healthy(self.url, self.proc, self.data_dir / "server.log")
        return self

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far (Linux)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __exit__(self, *exc) -> None:
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log_file.close()


def patient(url: str, questions: list[str], start: threading.Barrier, results: list, errors: list,
            headers: dict[str, str] | None = None) -> None:
    try:
        client = Patient(url, headers=headers)
    except Exception as exc:
        errors.append(f"connect: {exc!r}")
        return
    start.wait()
    for turn, question in enumerate(questions, 1):
        t0 = time.perf_counter()
        try:
            accepted = client.send(question)
            if accepted[0] != "":  # the box is cleared only when the message was accepted
                raise RuntimeError(f"not accepted: {accepted[-1]!r}")
            chat = client.respond()[0]["value"]
            elapsed = time.perf_counter() - t0
            if len(chat) != 2 * turn:
                raise RuntimeError(f"expected {2 * turn} messages, got {len(chat)}")
            content = chat[-1]["content"][0]["text"]
            kind = _KIND.search(content)
            if chat[-1]["role"] != "assistant" or not kind:
                raise RuntimeError(f"no finished reply: {content[:120]!r}")
            results.append({"question": question, "seconds": elapsed, "kind": kind.group(1).replace("-", "_")})
        except Exception as exc:
            errors.append(f"turn {turn} ({question!r}): {exc!r}")
    client.close()


def run(url: str, patients: int, questions: int, database_url: str | None, server: Server | None = None,
        headers: list[dict[str, str]] | None = None) -> dict:
    """`headers`: one dict per patient, sent with each of its requests (a load balancer's affinity cookie)."""
    import resource

    started_at = datetime.now(timezone.utc)
    load_before = os.getloadavg()[0]
    client_cpu = resource.getrusage(resource.RUSAGE_SELF)
    server_cpu = server.cpu_seconds() if server else None
    results: list[dict] = []
    errors: list[str] = []
    barrier = threading.Barrier(patients)
    threads = []
    for i in range(patients):
        qs = [QUESTIONS[(i + k) % len(QUESTIONS)] for k in range(questions)]  # each patient its own mix
        threads.append(threading.Thread(target=patient, args=(url, qs, barrier, results, errors,
                                                              headers[i] if headers else None), daemon=True))
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    latencies = [r["seconds"] for r in results]
    kinds: dict[str, int] = {}
    for r in results:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    report = {
        "patients": patients, "questions_each": questions, "turns_expected": patients * questions,
        "turns_answered": len(results), "errors": errors, "wall_seconds": round(wall, 2),
        "turns_per_second": round(len(results) / wall, 2) if wall else None,
        "latency_p50_s": round(percentile(latencies, 50), 3), "latency_p95_s": round(percentile(latencies, 95), 3),
        "latency_max_s": round(max(latencies), 3) if latencies else None, "kinds": kinds,
        "cpus": os.cpu_count(), "python": platform.python_version(), "load_average_before": round(load_before, 2),
        "client_cpu_seconds": round(usage.ru_utime + usage.ru_stime - client_cpu.ru_utime - client_cpu.ru_stime, 1),
    }
    if server is not None:
        report["server_cpu_seconds"] = round(server.cpu_seconds() - server_cpu, 1)
        if server.concurrency is not None:
            report["chat_concurrency"] = server.concurrency
    try:
        from web.page import CHAT_CONCURRENCY, QUEUE_MAX_SIZE

        report.setdefault("chat_concurrency", CHAT_CONCURRENCY)
        report["queue_max_size"] = QUEUE_MAX_SIZE
    except Exception:
        pass
    if database_url:
        from store import ConversationLog

        log = ConversationLog(database_url)
        turns = log.turns(since=started_at, limit=None)
        per_conversation: dict[str, int] = {}
        for t in turns:
            per_conversation[t.conversation_id] = per_conversation.get(t.conversation_id, 0) + 1
        server_ms = [t.latency_ms for t in turns]
        bot_ms = [float(t.trace.get("timings_ms", {}).get("total", 0)) for t in turns]
        report.update({
            "turns_logged": len(turns), "conversations_logged": len(per_conversation),
            "every_conversation_complete": sorted(per_conversation.values()) == [questions] * patients,
            "server_latency_p50_ms": percentile(server_ms, 50) if server_ms else None,
            "server_latency_p95_ms": percentile(server_ms, 95) if server_ms else None,
            "bot_ms_p50": round(percentile(bot_ms, 50)) if bot_ms else None,
            "bot_ms_p95": round(percentile(bot_ms, 95)) if bot_ms else None,
        })
        log.close()
    report["ok"] = (not errors and len(results) == patients * questions
                    and (database_url is None or (report["turns_logged"] == patients * questions
                                                  and report["every_conversation_complete"])))
    return report


def _ms(report: dict, key: str) -> str:
    value = report.get(key)
    return "n/a" if value is None else f"{value:.0f} ms"


def markdown(report: dict, compared: list[dict] | None = None) -> str:
    cpu = ""
    if "server_cpu_seconds" in report:
        cpu = (f" CPU used during the run: server {report['server_cpu_seconds']} s, load generator "
               f"{report['client_cpu_seconds']} s (its {report['patients']} `gradio_client` sessions run on the same cores).")
    out = f"""{SECTION}

`python -m benchmarks.load_chat --compare 1,2,4,8 --write-docs` — {report['patients']} simulated patients ×
{report['questions_each']} questions, all at once, against `python app.py` on loopback; measured
{datetime.now(timezone.utc):%Y-%m-%d} on {report['cpus']} CPU cores shared with other work (load average
{report.get('load_average_before', 'n/a')} when the run started, so absolute latencies are pessimistic).{cpu}
Each patient is a `gradio_client` session calling the page's own two steps (`/send`, then the streamed
`/respond`), asking a multi-turn mix: answers, follow-ups, a dose question, an emergency, an off-topic and a
remedy question.

| measure | result |
|---|---|
| turns answered | {report['turns_answered']} / {report['turns_expected']} |
| errors | {len(report['errors'])} |
| turns in the conversation log | {report.get('turns_logged', 'n/a')} ({report.get('conversations_logged', 'n/a')} conversations, each complete: {report.get('every_conversation_complete', 'n/a')}) |
| latency per turn, patient's view (send → full reply), p50 | {report['latency_p50_s']:.2f} s |
| … p95 | {report['latency_p95_s']:.2f} s |
| … max | {report['latency_max_s']:.2f} s |
| server side per turn (log: message accepted → turn stored, queue wait included), p50 / p95 | {_ms(report, 'server_latency_p50_ms')} / {_ms(report, 'server_latency_p95_ms')} |
| the bot's own work per turn (trace `timings_ms.total`), p50 / p95 | {_ms(report, 'bot_ms_p50')} / {_ms(report, 'bot_ms_p95')} |
| throughput | {report['turns_per_second']} turns/s over {report['wall_seconds']} s |
| reply kinds | {', '.join(f'{k} {v}' for k, v in sorted(report['kinds'].items()))} |
"""
    if compared:
        out += """
The same load with other answering concurrency limits (one server per limit, run one after the other):

| `concurrency_limit` | p50 | p95 | max | turns/s | bot's own work p50 / p95 | errors |
|---|---|---|---|---|---|---|
"""
        for r in compared:
            out += (f"| {r.get('chat_concurrency')} | {r['latency_p50_s']:.2f} s | {r['latency_p95_s']:.2f} s | "
                    f"{r['latency_max_s']:.2f} s | {r['turns_per_second']} | {_ms(r, 'bot_ms_p50')} / {_ms(r, 'bot_ms_p95')} | "
                    f"{len(r['errors'])} |\n")
    out += f"""
Queue and concurrency settings (`web/page.py`) and why:
- **`concurrency_limit={report.get('chat_concurrency', '?')}` for answering, under one `concurrency_id="chat"`** shared by every
  trigger that asks a question (Enter, Send, each example button), so the limit holds for the whole page; it is
  also the queue's `default_concurrency_limit`. Answering is CPU-bound (embedding the question, scoring
  passages) and the host has 2 cores, so the limit mostly decides how a patient's wait splits between queueing
  and sharing the CPU with other answers: the bot's own time per answer grows with the limit (the table above),
  while throughput and the patients' waits change little on this shared machine. 1 would put every patient
  behind any single slow answer (a long document, the future LLM path); 8 makes each answer several times
  slower to compute, with more threads and memory in flight, for no measurable gain. 4 — two answers per core —
  keeps both cores busy while other replies stream out or wait on the log's fsync, and bounds the contention.
- **`max_size={report.get('queue_max_size', '?')}`**: the queue is bounded; past it a patient gets Gradio's "queue is full" notice
  at once instead of an unbounded wait and unbounded memory.
- **`queue=False` for the cheap steps** (accepting and validating a message, thumbs and comments, new
  conversation): they take milliseconds and never wait behind answers, so the page reacts at once under load;
  the patient's message appears immediately and the reply streams in when its turn in the queue comes.
- Reading the numbers: the bot's own work per turn is a fraction of what a patient waits; the rest is waiting
  in the queue behind other patients' answers, Gradio's per-event work, and CPU shared with the load generator
  and other jobs. Each waiting patient already sees their message and a "Looking in the documents…" placeholder.
"""
    return out


def write_docs(report: dict, path: Path, compared: list[dict] | None = None) -> None:
    replace_section(path, SECTION, markdown(report, compared))


def replace_section(path: Path, heading: str, section: str) -> None:
    """Replace (or append) only the section under `heading`: other sections belong to other benchmarks."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start = text.find(heading + "\n")
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        nxt = text.find("\n## ", start + len(heading))
        text = text[:start] + section + (text[nxt + 1:] if nxt != -1 else "")
        text = text.replace(section + "## ", section + "\n## ")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", help="a running server (default: start `python app.py` on a free port)")
    p.add_argument("--database-url", help="its conversation log, to check every turn was stored")
    p.add_argument("--data-dir", type=Path, help="data dir for the server this script starts (default: temporary)")
    p.add_argument("--patients", type=int, default=20)
    p.add_argument("--questions", type=int, default=5)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--write-docs", action="store_true", help="record the results in docs/benchmarks.md")
    p.add_argument("--compare", default="", metavar="N,N,…",
                   help="also run the same load against servers with these answering concurrency limits")
    args = p.parse_args(argv)
    limits = [int(n) for n in args.compare.split(",") if n.strip()]
    if args.url and limits:
        p.error("--compare starts its own servers; leave out --url")

    compared: list[dict] = []
    if args.url:
        report = run(args.url.rstrip("/") + "/", args.patients, args.questions, args.database_url)
    else:
        with tempfile.TemporaryDirectory(prefix="verbatim-load-") as tmp:
            data_dir = args.data_dir or Path(tmp)
            db = args.database_url or LogSettings(data_dir=data_dir).log_database_url  # where its server logs
            with Server(data_dir) as server:
                report = run(server.url, args.patients, args.questions, db, server)
            for limit in limits:
                with Server(data_dir, concurrency=limit) as server:
                    compared.append(run(server.url, args.patients, args.questions, db, server))
    if args.write_docs:
        write_docs(report, ROOT / "docs" / "benchmarks.md", compared)
    if args.json:
        print(json.dumps({**report, "compared": compared} if compared else report, indent=2))
    else:
        print(markdown(report, compared))
        for e in [*report["errors"], *(e for r in compared for e in r["errors"])][:20]:
            print("error:", e, file=sys.stderr)
    return 0 if report["ok"] and all(r["ok"] for r in compared) else 1


if __name__ == "__main__":
    sys.exit(main())
