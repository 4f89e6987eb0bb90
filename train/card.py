"""The model card written next to the weights: what was trained, on what, how, and how well."""

from __future__ import annotations

import hashlib
import json
from types import ModuleType

from . import pool

COMMAND = "python -m train {name} --locked-test"


def render(name: str, module: ModuleType, metrics: dict, sample: int, encoder: str) -> str:
    hashes = pool.file_hashes(module.FILES)
    used = sorted(metrics.get("sources", {}))
    licences = sorted({pool.LICENCES[s if s in pool.LICENCES else s.split("/")[0]] for s in used
                       if (s if s in pool.LICENCES else s.split("/")[0]) in pool.LICENCES})
    lines = [
        f"# Model card: {name}",
        "",
        f"Trained by `{COMMAND.format(name=name)}` (seed {pool.SEED}), in {metrics['seconds']} s on {metrics['machine']}."
        + (f" **Tiny sample run ({sample} per class): not the shipped model.**" if sample else ""),
        f"Encoder ({getattr(module, 'ENCODER_USE', 'frozen, shared with retrieval')}): {encoder}.",
        "",
        "## Recipe",
        "",
        (module.__doc__ or "").split("\n", 1)[1].strip(),
        "",
        "## Data (sha256 of the pool files read)",
        "",
        *[f"- `{f}`: `{h}`" for f, h in sorted(hashes.items())],
        *[f"- `{path.parent.name}/{path.name}` (the project's): `{hashlib.sha256(path.read_bytes()).hexdigest()}`"
          for path in getattr(module, "LABEL_FILES", [])],
        "",
        "Never read (kept for the real-message eval sets): " + ", ".join(sorted(pool.EVAL_ONLY_DATASETS))
        + ", and the even-hash half of HealthFC.",
        "",
        "## Sources and licences",
        "",
        *[f"- {lic}" for lic in licences],
        "- prompts/exemplars.yaml: the project's own policy exemplars" if "exemplars" in used else "",
        "- eval/sets: the project's own development questions" if "own" in used else "",
        "- train/labels/library_questions.jsonl: lay questions about the bundled documents, written for training "
        "by separate authors for the project (who and how many: the recipe)" if "library" in used else "",
        "",
        "Some sources are non-commercial (CC BY-NC, CC BY-NC-ND) or copyleft (GPL-3.0): clear them before any "
        "commercial use of these weights.",
        "",
        "## Numbers",
        "",
        "```json",
        json.dumps({k: v for k, v in metrics.items() if k not in ("seconds", "machine")}, indent=2),
        "```",
        "",
    ]
    return "\n".join(lines)
