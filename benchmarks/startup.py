"""Start-up cost, the fp32 torch encoder and the int8 ONNX encoder side by side in one run.

    python -m benchmarks.startup [--runs N]

For each encoder (`VERBATIM_ENCODER=torch|onnx`) and each run, in fresh processes on the configured index
(`make index` first):
- `python app.py` until `/healthz` answers 200, then the server's resident memory (VmRSS, after one patient
  question through the page, so the models are warm);
- `from bot import ChatBot` → `ChatBot.from_settings()` → the first `ask`: seconds to the first answer, and
  whether torch was imported at all.
Prints one JSON object (medians over the runs); docs/benchmarks.md records it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.app_server import REPO_ROOT, Patient, free_port, wait_healthy

FIRST_ANSWER = """
import sys, time
t = time.perf_counter()
from bot import ChatBot
bot = ChatBot.from_settings()
reply = bot.ask("What is paraneoplastic syndrome?")
print(time.perf_counter() - t, reply.kind, "torch" in sys.modules)
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def server_start(env: dict[str, str]) -> tuple[float, float]:
    """Seconds from `python app.py` to /healthz 200, and the server's RSS in MB after one answer."""
    port = free_port()
    with tempfile.NamedTemporaryFile(suffix=".log") as log:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)],
                                cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}/"
            wait_healthy(url, proc, Path(log.name), timeout=300)
            healthy = time.perf_counter() - started
            patient = Patient(url)
            patient.ask("What is paraneoplastic syndrome?")
            patient.close()
            return healthy, rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(30)


def first_answer(env: dict[str, str]) -> tuple[float, bool]:
    out = subprocess.run([sys.executable, "-c", FIRST_ANSWER], cwd=REPO_ROOT, env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out[1] == "answer", out
    return float(out[0]), out[2] == "True"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    result = {}
    for encoder in ("torch", "onnx"):
        env = {**os.environ, "VERBATIM_ENCODER": encoder, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "ANONYMIZED_TELEMETRY": "False", "GRADIO_ANALYTICS_ENABLED": "False"}
        healthz, rss, answer, torch_loaded = [], [], [], set()
        for _ in range(args.runs):  # interleaving the encoders would be fairer on a busy machine; runs are minutes
            h, r = server_start(env)
            a, t = first_answer(env)
            healthz.append(h), rss.append(r), answer.append(a), torch_loaded.add(t)
        result[encoder] = {"healthz_s": round(statistics.median(healthz), 2),
                           "first_answer_s": round(statistics.median(answer), 2),
                           "server_rss_mb": round(statistics.median(rss)), "torch_imported": sorted(torch_loaded),
                           "runs": args.runs}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
