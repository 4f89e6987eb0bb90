"""The quality gate: thresholds from YAML, checked against a run summary.

The file maps a metric name (as in summary.json) to `min` and/or `max`:

    grounded_hit: {min: 0.95}
    leaks: {max: 0}

A metric that the run could not measure (no items for it, value n/a) fails the gate: a gate that passes
because nothing was tested protects no one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

DEFAULT_THRESHOLDS = Path(__file__).with_name("thresholds.yaml")


@dataclass(frozen=True)
class Threshold:
    metric: str
    min: float | None = None
    max: float | None = None

    def describe(self) -> str:
        parts = [f"{sign} {bound:g}" for sign, bound in (("≥", self.min), ("≤", self.max)) if bound is not None]
        return " and ".join(parts)


@dataclass(frozen=True)
class Verdict:
    threshold: Threshold
    value: float | None
    ok: bool
    detail: dict[str, Any]  # the metric as in summary.json (k, n, interval when a rate)


class ThresholdError(ValueError):
    pass


def load_thresholds(path: Path) -> list[Threshold]:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ThresholdError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise ThresholdError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict) or not data:
        raise ThresholdError(f"{path}: expected a mapping of metric name to {{min: …}} / {{max: …}}")
    out = []
    for name, spec in data.items():
        if not isinstance(spec, dict) or not spec or set(spec) - {"min", "max"}:
            raise ThresholdError(f"{path}: {name}: expected {{min: number}} and/or {{max: number}}")
        for key, value in spec.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ThresholdError(f"{path}: {name}.{key}: expected a number, got {value!r}")
        out.append(Threshold(str(name), spec.get("min"), spec.get("max")))
    return out


def check(thresholds: list[Threshold], summary: Mapping[str, Any]) -> list[Verdict]:
    metrics = summary.get("metrics", {})
    verdicts = []
    for t in thresholds:
        detail = dict(metrics.get(t.metric) or {})
        value = detail.get("value")
        ok = value is not None and (t.min is None or value >= t.min) and (t.max is None or value <= t.max)
        verdicts.append(Verdict(t, value, ok, detail))
    return verdicts
