"""A committed list of words or names (bot/models/*.npz): one sorted array of strings under one key, so that the
file loads without pickle and diffs stay small. Used by `CareWords` and `DisorderFinder`."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np


def load(path: Path, key: str) -> list[str]:
    with np.load(path, allow_pickle=False) as data:
        return [str(s) for s in data[key]]


def save(path: Path, key: str, strings: Iterable[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **{key: np.array(sorted(strings))})
