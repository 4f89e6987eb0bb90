"""What a server does when it loads an index version — at start and at every new version (`bot.library.Library`,
`bot.live`): read the catalogue's snapshot, build the keyword index from its chunks, and the rest of the
library. For the bundled corpus plus the first N MedQuAD documents, with the catalogue in SQLite and, with
--postgres, in a throwaway PostgreSQL (the same rows, copied by one flip).

    python -m benchmarks.index_load --docs 200 --postgres
    python -m benchmarks.index_load --docs 0                 # the bundled corpus alone

Each time is the median of --repeat runs in one process (the model loaded once, not timed).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from benchmarks.ingest_throughput import copy_medquad
from bot.library import Library
from ingest.embeddings import load_embeddings
from ingest.index import Catalogue
from ingest.keyword import KeywordIndex
from ingest.pipeline import Ingestor
from ingest.settings import PROJECT_ROOT, IndexSettings


def median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return round(statistics.median(times), 3)


def measure(settings: IndexSettings, embeddings, repeat: int) -> dict:
    with Catalogue.from_settings(settings) as catalogue:
        _, documents, passages, chunks = catalogue.snapshot()
        snapshot_s = median_seconds(catalogue.snapshot, repeat)
    return {"documents": len(documents), "passages": len(passages), "chunks": len(chunks),
            "catalogue_snapshot_s": snapshot_s,
            "keyword_build_s": median_seconds(lambda: KeywordIndex.build(chunks), repeat),
            "library_load_s": median_seconds(lambda: Library(settings, embeddings), repeat)}


def copy_catalogue(source: IndexSettings, target: IndexSettings) -> None:
    """The source catalogue's version into the target's database, by one flip."""
    with Catalogue.from_settings(source) as src, Catalogue.from_settings(target) as dst:
        meta, documents, passages, chunks = src.snapshot()
        rows = {s: (d, [p for p in passages if p.source == s], [c for c in chunks if c.source == s])
                for s, d in documents.items()}
        dst.flip(rows, [], {k: v for k, v in meta.items() if k != "index_version"})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--docs", type=int, default=200, help="MedQuAD documents besides the bundled corpus (0: none)")
    p.add_argument("--postgres", action="store_true", help="also with the catalogue in a throwaway PostgreSQL")
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="verbatim-index-load-") as tmp, ExitStack() as stack:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(PROJECT_ROOT / "corpus", corpus)
        if args.docs:
            copy_medquad(corpus, args.docs)
        settings = IndexSettings(data_dir=Path(tmp) / "data", corpus_dir=corpus, database_url="")
        embeddings = load_embeddings(settings)
        Ingestor(settings, embeddings).run(progress=False)
        results = {"sqlite": measure(settings, embeddings, args.repeat)}
        if args.postgres:
            from benchmarks.cluster import PostgresServer

            pg = stack.enter_context(PostgresServer())
            on_pg = settings.model_copy(update={"database_url": pg.create_database("index_load")})
            copy_catalogue(settings, on_pg)
            results["postgresql"] = measure(on_pg, embeddings, args.repeat)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
