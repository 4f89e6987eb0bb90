"""The training pool: reading ../shared/training, splitting by group, hashing (sentence vectors are cached by
ingest.embeddings.VectorCache)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path
from typing import Iterator

POOL_ENV = "VERBATIM_TRAINING_DIR"
SEED = 20261201

# Whole datasets (and half of HealthFC) kept out of every training run: eval/real/*.jsonl was drawn from them,
# so those sets measure models that never saw a word of them.
EVAL_ONLY_DATASETS = frozenset({"icliniq", "ehealthforum", "questiondoctors", "suicidal-tweets", "cyberseceval-prompt-injection"})

LICENCES = {
    "medquad_qa": "MedQuAD (abachaa/MedQuAD), CC BY 4.0 — Ben Abacha & Demner-Fushman, BMC Bioinformatics 2019",
    "medical-safety": "GavinAbercrombie/medical-safety, GPL-3.0 — Abercrombie & Rieser, AACL-IJCNLP 2022",
    "mqp/healthtap": "curai/medical-question-pair-dataset, no licence stated — McCreery et al., KDD 2020",
    "covid-q": "JerryWeiAI/COVID-Q, GPL-3.0 — Wei et al., NLP-COVID 2020",
    "healthfc": "jvladika/HealthFC, CC BY-NC-ND 4.0 (non-commercial) — Vladika et al., LREC-COLING 2024; Medizin-transparent",
    "sdcnl": "ayaanzhaque/SDCNL, no licence stated — Haque et al., ICANN 2021",
    "reddit-cssrs": "Moodify copy of Gaur et al. WWW 2019 (C-SSRS Reddit), no licence stated",
    "dreaddit": "Moodify copy of Turcan & McKeown 2019 (Dreaddit), no licence stated",
    "counsel-chat": "nbertagnolli/counsel-chat, MIT",
    "cams": "drmuskangarg/CAMS, research use — Garg et al., LREC 2022",
    "toxicchat-0124-human": "ToxicChat 0124 via JUDGE-BENCH, CC BY-NC 4.0 (non-commercial) — Lin et al., EMNLP 2023",
    "jailbreakbench-artifacts": "JailbreakBench/artifacts, MIT — Chao et al., NeurIPS 2024",
}


def pool_dir() -> Path:
    here = Path(__file__).resolve().parent.parent
    return Path(os.environ.get(POOL_ENV) or here.parent / "shared" / "training")


def read(name: str, folder: Path | None = None) -> Iterator[dict]:
    path = (folder or pool_dir()) / f"{name}.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def file_hashes(names: list[str], folder: Path | None = None) -> dict[str, str]:
    out = {}
    for name in names:
        path = (folder or pool_dir()) / f"{name}.jsonl.gz"
        out[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def bucket(key: str) -> int:
    """0-99, stable across runs and machines (never Python's salted hash)."""
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest(), 16) % 100


def split_of(group: str) -> str:
    """train 70 / validation 15 / locked test 15, by group (document, focus, post), never by row."""
    b = bucket("split:" + group)
    return "train" if b < 70 else "val" if b < 85 else "test"


def healthfc_eval_only(record_id: str) -> bool:
    """The HealthFC half kept for eval/real (the same rule eval/real/REAL_SETS.md states)."""
    return int(hashlib.sha1(record_id.encode()).hexdigest(), 16) % 2 == 0
