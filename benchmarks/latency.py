"""`ask` latency after warm-up: p50/p95 over the shipped eval questions, guard cost included.

    python -m benchmarks.latency [--data-dir DIR] [--repeat N]

Uses the index under the configured data dir (VERBATIM_DATA_DIR). Also measures the input guard alone on
the same messages, so its share of `ask` is known.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from bot import ChatBot
from ingest.settings import PROJECT_ROOT, Settings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    settings = Settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
    bot = ChatBot.from_settings(settings)
    questions = []
    for name in ("core.jsonl", "safety.jsonl"):
        for line in (PROJECT_ROOT / "eval" / "sets" / name).read_text().splitlines():
            if line.strip():
                questions.append(json.loads(line)["turns"][-1])
    for q in questions[:20]:  # warm-up
        bot.ask(q, [])
    ask_ms, guard_ms = [], []
    for _ in range(args.repeat):
        for q in questions:
            t = time.perf_counter()
            bot.ask(q, [])
            ask_ms.append((time.perf_counter() - t) * 1000)
            vec = bot.library.embeddings.encode([q])[0]
            t = time.perf_counter()
            bot.input_guard.check(q, [], vec, q)
            guard_ms.append((time.perf_counter() - t) * 1000)
    out = {
        "questions": len(ask_ms),
        "ask_p50_ms": round(float(np.percentile(ask_ms, 50)), 1),
        "ask_p95_ms": round(float(np.percentile(ask_ms, 95)), 1),
        "guard_p50_ms": round(float(np.percentile(guard_ms, 50)), 2),
        "guard_p95_ms": round(float(np.percentile(guard_ms, 95)), 2),
        "passages": len(bot.library.passages),
        "chunks": len(bot.library.chunks),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
