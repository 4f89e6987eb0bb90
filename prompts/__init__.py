"""Wording and policy as data: YAML files loaded with importlib.resources.

Everything a staff member may want to change without touching Python lives here: cleaning patterns,
the safety policy, exemplars, lay-term synonyms and every message the bot says.
"""

from __future__ import annotations

import string
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

import yaml


@cache
def load(name: str) -> Any:
    """Load `prompts/<name>.yaml` (cached; treat the result as read-only)."""
    text = resources.files(__name__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def render(template: str, **values: str) -> str:
    """Fill `$name` placeholders strictly: a missing value is an error, not a silent blank."""
    return string.Template(template).substitute(**values)


def message(key: str, **values: str) -> str:
    """A patient-facing message from `messages.yaml`, rendered strictly."""
    return render(load("messages")[key], **values).strip()


def date_text(value: Any) -> str | None:
    """A date as patients read it everywhere ("2025-07-04" → "4 July 2025"); unparseable: as given; empty → None."""
    if value in (None, ""):
        return None
    try:
        d = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)
    return f"{d.day} {d:%B %Y}"
