"""Distractor robustness: the bundled corpus plus N MedQuAD documents in one index.

    python -m benchmarks.distractors [--docs N] [--keep DIR]

Builds the mixed corpus under a work folder, ingests it, then runs `python -m eval run` on the core set
and `benchmarks.latency` against that index, and prints where the reports are. Compare its grounded hit
with a run on the bundled corpus alone (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.ingest_throughput import copy_medquad
from ingest.settings import PROJECT_ROOT


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=0, help="MedQuAD documents to add (0 = all 5,483)")
    ap.add_argument("--keep", type=Path, default=None, help="work folder to use and keep")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="verbatim-distractors-"))
    corpus = work / "corpus"
    shutil.copytree(PROJECT_ROOT / "corpus", corpus, dirs_exist_ok=True)
    copy_medquad(corpus, args.docs)
    env = {**os.environ, "VERBATIM_DATA_DIR": str(work / "data"), "VERBATIM_CORPUS_DIR": str(corpus)}
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ingest", "--quiet"], env=env, check=True)
    print(f"ingest: {time.perf_counter() - t:.0f} s", flush=True)
    out = work / "report-core"
    subprocess.run([sys.executable, "-m", "eval", "run", str(PROJECT_ROOT / "eval/sets/core.jsonl"),
                    "--no-ingest", "--quiet", "--out", str(out)], env=env, check=True)
    subprocess.run([sys.executable, "-m", "benchmarks.latency"], env=env, check=True)
    print(f"report: {out}/report.md  (work folder {work})")


if __name__ == "__main__":
    main()
