"""`python -m train {intent,answerability,disorders,synonyms,coverage,care,encoder}`: build a learned component, write its weights and model card."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

MODELS = Path(__file__).resolve().parent.parent / "bot" / "models"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m train",
        description="Train a learned component of the bot from ../shared/training (or $VERBATIM_TRAINING_DIR). "
        "Writes <out>/<name>.npz and <out>/<name>.md (the model card: recipe, data hashes, licences, numbers); "
        "`encoder` writes the int8 ONNX encoder to ingest/models/ instead.",
    )
    p.add_argument("component", choices=["intent", "answerability", "disorders", "synonyms", "coverage", "care", "encoder"])
    p.add_argument("--out", type=Path, default=None,
                   help=f"folder for weights and card (default {MODELS}; the encoder: ingest/models)")
    p.add_argument("--sample", type=int, default=0, metavar="N", help="train on a tiny sample (tests); the card says so")
    p.add_argument("--locked-test", action="store_true",
                   help="also score the locked test split (do this once per change, never while tuning)")
    p.add_argument("--cache", type=Path, default=Path("data/train_cache"),
                   help="sentence-vector cache, so a rerun skips encoding (default data/train_cache)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from ingest.embeddings import SentenceTransformerEmbeddings, VectorCache

    from . import answerability, card, care, coverage, disorders, encoder as onnx_encoder, intent, pool, synonyms

    started = time.perf_counter()
    encoder = SentenceTransformerEmbeddings(batch_size=64)
    encode = VectorCache(encoder.encode, None if args.sample else args.cache / f"{args.component}.npz")
    module = {"intent": intent, "answerability": answerability, "disorders": disorders, "synonyms": synonyms, "coverage": coverage,
              "care": care, "encoder": onnx_encoder}[args.component]
    model, metrics = module.train(encode, sample=args.sample, with_test=args.locked_test)
    metrics["seconds"] = round(time.perf_counter() - started, 1)
    metrics["machine"] = f"{platform.machine()}, {os.cpu_count()} CPU cores"
    out = args.out or getattr(module, "OUT", MODELS)
    weights = out / getattr(module, "FILENAME", f"{args.component}.npz")
    out.mkdir(parents=True, exist_ok=True)
    model.save(weights)
    weights.with_suffix(".md").write_text(card.render(args.component, module, metrics, args.sample, encoder.model_id))
    print(json.dumps(metrics, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
