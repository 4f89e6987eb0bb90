"""The console's HTML: the Jinja2 templates in `staff/templates/` (loaded as package data), autoescaping on
(every value from a patient, a document, the trace or a staff note is escaped), no JavaScript at all, one
inline stylesheet (`templates/console.css`) allowed by a per-response CSP nonce. Pure rendering: no request
handling here."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from importlib import resources
from typing import Any

from jinja2 import ChainableUndefined, Environment, PackageLoader, select_autoescape

TEMPLATES = "templates"  # folder inside this package: *.html and console.css


def format_dt(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def format_num(value: Any, digits: int = 4) -> Any:
    if isinstance(value, bool) or not isinstance(value, float):
        return "—" if value is None else value
    return f"{value:.{digits}f}"


def short(text: str | None, limit: int = 120) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


def stylesheet() -> str:
    return resources.files(__package__).joinpath(TEMPLATES, "console.css").read_text(encoding="utf-8")


def environment() -> Environment:
    # autoescape for every template, whatever its file name; ChainableUndefined: traces differ by reply kind and
    # version, so a missing field renders empty, never an error
    env = Environment(loader=PackageLoader(__package__, TEMPLATES),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(dt=format_dt, num=format_num, short=short, pretty=pretty)
    env.globals.update(css=stylesheet())
    return env
