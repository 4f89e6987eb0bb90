"""Ingest throughput on MedQuAD: pipeline chunks/s (its configured encoder, int8 ONNX by default) vs raw fp32
SentenceTransformer.encode on the same chunks.

    python -m benchmarks.ingest_throughput [--docs N] [--keep DIR]

Extracts ../shared/corpora/medquad.tar.gz (MedQuAD, Ben Abacha & Demner-Fushman 2019, CC BY 4.0) into
benchmarks/data/medquad (git-ignored), ingests the first N documents into a fresh data dir, then encodes
the very same chunk texts with the bare model, in the same process, and prints both rates and their ratio.
With --keep the work folder (DIR/corpus/medquad, DIR/data) is kept, and `benchmarks.distractors --keep DIR`
then only adds the bundled corpus to that index (ingest is incremental).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tarfile
import tempfile
import time
from pathlib import Path

from ingest.embeddings import SentenceTransformerEmbeddings, load_embeddings
from ingest.index import Catalogue
from ingest.pipeline import Ingestor
from ingest.settings import PROJECT_ROOT, IndexSettings

ARCHIVE = PROJECT_ROOT.parent / "shared" / "corpora" / "medquad.tar.gz"
DATA = PROJECT_ROOT / "benchmarks" / "data"


def medquad() -> Path:
    target = DATA / "medquad"
    if not target.is_dir():
        DATA.mkdir(parents=True, exist_ok=True)
        with tarfile.open(ARCHIVE) as tar:
            tar.extractall(target, filter="data")
        (DATA / "LICENSE-MedQuAD.txt").write_text(
            "MedQuAD: Ben Abacha A, Demner-Fushman D. A question-entailment approach to question answering. "
            "BMC Bioinformatics 2019. CC BY 4.0.\n"
        )
    return target


def copy_medquad(corpus: Path, docs: int = 0) -> None:
    """Copy the first `docs` MedQuAD documents (0 = all) to corpus/medquad, keeping their relative paths."""
    root = medquad()
    for f in sorted(root.rglob("*.md"))[: docs or None]:
        dest = corpus / "medquad" / f.relative_to(root)
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, dest)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=0, help="ingest only the first N documents (0 = all 5,483)")
    ap.add_argument("--keep", type=Path, default=None, help="work folder to use and keep (must not hold an index yet)")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="verbatim-bench-"))
    if (work / "data").exists():
        ap.error(f"{work / 'data'} exists: a throughput run must start from an empty index")
    corpus = work / "corpus"
    copy_medquad(corpus, args.docs)
    settings = IndexSettings(data_dir=work / "data", corpus_dir=corpus)
    emb = load_embeddings(settings)  # what ingest uses (int8 ONNX by default)
    raw = SentenceTransformerEmbeddings(settings.model_path, settings.embed_batch_size)  # the reference
    ingestor = Ingestor(settings, emb)
    t = time.perf_counter()
    report = ingestor.run(progress=False)
    pipeline_s = time.perf_counter() - t
    with Catalogue.from_settings(settings) as catalogue:
        texts = [c.text for c in catalogue.chunks()]
    t = time.perf_counter()
    raw.encode(texts)  # raw fp32 SentenceTransformer.encode on the same chunks, in the same run
    encode_s = time.perf_counter() - t
    result = {
        "documents": report.documents,
        "passages": report.passages,
        "chunks": len(texts),
        "pipeline_seconds": round(pipeline_s, 1),
        "pipeline_chunks_per_s": round(len(texts) / pipeline_s, 1),
        "raw_encode_seconds": round(encode_s, 1),
        "raw_encode_chunks_per_s": round(len(texts) / encode_s, 1),
        "encoder": emb.encoder,
        "ratio": round(encode_s / pipeline_s, 3),
        "tagged": report.tagged,
        "skipped": len(report.skipped),
    }
    print(json.dumps(result, indent=2))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
