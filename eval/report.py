"""Writing a run: results.jsonl, summary.json, report.md and a self-contained report.html.

Every piece of text that came from a set or from the bot goes through `html.escape` (HTML) or `_md`
(Markdown): replies quote documents, and documents may contain anything.
"""

from __future__ import annotations

import base64
import json
from html import escape
from pathlib import Path
from typing import Any, Mapping, Sequence

from . import charts

# The headline metrics, in reading order, with what they mean. Others (per-label accuracy, other refusal
# reasons) follow in the order the summary lists them.
LABELS = {
    "accuracy": "Reply kind accepted (all items)",
    "grounded_hit": "Grounded hit (answer items)",
    "quotes_verbatim": "Quotes verbatim (all quotes)",
    "answers_with_quote": "Answers with ≥ 1 quote",
    "refusal_recall.dosing": "Refusal recall: dosing",
    "refusal_recall.unproven_remedy": "Refusal recall: unproven remedy",
    "reason_accuracy": "Refusal reason correct (of refusals)",
    "emergency_recall": "Emergency recall",
    "over_refusal": "Over-refusal (answer items refused/escalated)",
    "leaks": "Leaks (items)",
    "leak_rate": "Leak rate (items)",
    "risky_answered": "Refusal or emergency items answered",
    "precision.no_answer": "no_answer precision",
    "recall.no_answer": "no_answer recall",
    "precision.out_of_scope": "out_of_scope precision",
    "recall.out_of_scope": "out_of_scope recall",
    "abstention.precision": "Abstention precision (either kind)",
    "abstention.recall": "Abstention recall (either kind)",
    "errors": "Bot errors (items)",
    "latency.p50_s": "Latency p50 per turn",
    "latency.p95_s": "Latency p95 per turn",
}


def label(name: str) -> str:
    if name in LABELS:
        return LABELS[name]
    if name.startswith("accuracy."):
        return f"Reply kind accepted: expected {name.split('.', 1)[1]}"
    if name.startswith("refusal_recall."):
        return f"Refusal recall: {name.split('.', 1)[1]}"
    return name


def ordered_metrics(metrics: Mapping[str, Mapping]) -> list[tuple[str, str, Mapping]]:
    names = [n for n in LABELS if n in metrics] + [n for n in metrics if n not in LABELS]
    return [(n, label(n), metrics[n]) for n in names]


def format_value(name: str, metric: Mapping | None) -> str:
    if not metric or metric.get("value") is None:
        return "n/a"
    value = metric["value"]
    if name.startswith("latency."):
        return f"{value * 1000:.0f} ms"
    if "n" in metric:
        return f"{value:.1%}"
    return f"{value:g}"


def format_interval(metric: Mapping | None) -> str:
    if not metric or "n" not in metric:
        return ""
    if metric.get("low") is None:
        return "0 items"
    return f"{metric['k']}/{metric['n']} · {metric['low']:.1%}–{metric['high']:.1%}"


def write_run(out: Path, rows: Sequence[Mapping], summary: Mapping[str, Any]) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in ("results.jsonl", "summary.json", "report.md", "report.html")}
    with paths["results.jsonl"].open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    paths["summary.json"].write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths["report.md"].write_text(render_markdown(rows, summary), encoding="utf-8")
    paths["report.html"].write_text(render_html(rows, summary), encoding="utf-8")
    return paths


# --- Markdown ------------------------------------------------------------------------------------------

def _md(text: Any) -> str:
    """Safe inside a Markdown table cell or line: no raw HTML, no table breaks."""
    s = escape(str(text if text is not None else ""), quote=False)
    return " ".join(s.replace("|", "\\|").split())


def render_markdown(rows: Sequence[Mapping], summary: Mapping[str, Any]) -> str:
    run = summary.get("run", {})
    gate = {v["metric"]: v for v in summary.get("gate", [])}
    lines = [
        "# Evaluation report",
        "",
        f"- started: {_md(run.get('started'))}, {run.get('seconds', 0):.0f} s",
        f"- sets: {_md(', '.join(run.get('sets', [])))}",
        f"- items: {summary['items']}, passed every check: {summary['passed']}",
        "- charts: see report.html",
        "",
    ]
    cmp = summary.get("compare")
    if cmp:
        lines += [*_compare_md(cmp), ""]
    deltas = cmp["metrics"] if cmp else {}
    lines += [
        "## Metrics",
        "",
        "| metric | value | k/n · 95% CI |" + (" before | Δ |" if cmp else "") + " gate |",
        "|---|---|---|" + ("---|---|" if cmp else "") + "---|",
    ]
    for name, text, metric in ordered_metrics(summary["metrics"]):
        g = gate.get(name)
        status = "" if not g else f"{'pass' if g['ok'] else '**FAIL**'} ({_md(g['threshold'])})"
        d = deltas.get(name, {})
        before = f" {_num(d.get('before'))} | {_delta(d.get('delta'))} |" if cmp else ""
        lines.append(f"| {_md(text)} | {format_value(name, metric)} | {format_interval(metric)} |{before} {status} |")

    lines += ["", "## Leaks", ""]
    lines += [f"- **{_md(leak['id'])}**: {_md('; '.join(leak['findings']))}" for leak in summary["leaks"]] or ["None."]

    if summary.get("baseline"):
        lines += ["", *_baseline_md(summary["baseline"])]

    failing = [r for r in rows if not r["pass"]]
    lines += ["", f"## Failing items ({len(failing)})", ""]
    for r in failing:
        lines += _failing_md(r)
    return "\n".join(lines) + "\n"


def _compare_md(cmp: Mapping) -> list[str]:
    lines = [f"## Compared with {_md(cmp.get('previous', 'the earlier run'))}", ""]
    lines += [f"### Flipped items ({len(cmp['flipped'])})", ""]
    lines += [f"- {_md(f['id'])}: {f['before']} → {f['after']} ({_md(f['kind_before'])} → {_md(f['kind_after'])})"
              for f in cmp["flipped"]] or ["None."]
    if cmp["added"] or cmp["removed"]:
        lines += ["", f"New items: {_md(_ids(cmp['added']))}; removed items: {_md(_ids(cmp['removed']))}"]
    return lines


def _baseline_md(base: Mapping) -> list[str]:
    s = base["settings"]
    lines = [
        "## Baseline: LangChain tutorial build",
        "",
        f"RecursiveCharacterTextSplitter({s['chunk_size']}/{s['chunk_overlap']}), in-memory Chroma, same MiniLM, "
        f"top-{s['k']} on the {s['query']}, no guardrails.",
        "",
        "| measure | baseline | ours |",
        "|---|---|---|",
    ]
    for row in base["table"].values():
        ours = row["ours"]
        lines.append(f"| {_md(row['label'])} | {format_value('', row['baseline'])} ({format_interval(row['baseline'])}) | "
                     f"{format_value('', ours) + ' (' + format_interval(ours) + ')' if ours else '—'} |")
    return lines


def _failing_md(r: Mapping) -> list[str]:
    failed = [k for k, v in r["checks"].items() if v is False]
    lines = [
        f"### {_md(r['id'])} ({_md(r['set'])}:{r['line']})",
        "",
        f"- turns: {_md(' ⏵ '.join(r['turns']))}",
        f"- expected: {_md(r['expect'])}{' / ' + _md(r['expected_reason']) if r.get('expected_reason') else ''}; "
        f"got: {_md(r['kind'])}{' / ' + _md(r['reason']) if r.get('reason') else ''}",
        f"- failed checks: {_md(', '.join(failed))}",
    ]
    if r.get("error"):
        lines.append(f"- error: {_md(r['error'])}")
    if r.get("quote_any"):
        lines.append(f"- expected phrases: {_md(' · '.join(r['quote_any']))} in {_md(', '.join(r['sources']))}")
    lines.append(f"- reply: {_md(r.get('text') or '')}")
    for i, q in enumerate(r["quotes"], start=1):
        lines.append(f"  - quote {i} ({_md(q.get('source'))} {q.get('start')}–{q.get('end')}): {_md(q.get('text'))}")
    for leak in r["leaks"]:
        lines.append(f"- leak: {_md(leak)}")
    return lines + [""]


def _ids(ids: Sequence[str], shown: int = 20) -> str:
    """A few ids and a count: comparing with a run of another set would otherwise list hundreds."""
    if not ids:
        return "none"
    more = f" … and {len(ids) - shown} more (summary.json lists all)" if len(ids) > shown else ""
    return f"{len(ids)}: {', '.join(ids[:shown])}{more}"


def _num(v: Any) -> str:
    return "n/a" if v is None else f"{v:.3g}" if isinstance(v, float) else str(v)


def _delta(v: Any) -> str:
    return "n/a" if v is None else f"{v:+.3g}" if v else "0"


# --- HTML ----------------------------------------------------------------------------------------------

CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0} td,th{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f5f5f5} .ok{color:#2e7d32;font-weight:600} .bad{color:#c62828;font-weight:600}
.muted{color:#666} .charts img{max-width:100%;border:1px solid #eee;margin:.4em 0}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:1em} .wide{grid-column:1/3}
.item{border:1px solid #e0e0e0;border-left:4px solid #c62828;padding:.6em 1em;margin:1em 0;border-radius:4px}
.reply{white-space:pre-wrap;background:#fafafa;padding:.5em;border-radius:4px}
blockquote{margin:.4em 0;padding:.3em .8em;border-left:3px solid #1565c0;background:#f3f7fc}
.leak{background:#ffebee;padding:.5em;border-radius:4px}
"""


def _img(png: bytes, alt: str, wide: bool = False) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img class="{"wide" if wide else ""}" alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def render_html(rows: Sequence[Mapping], summary: Mapping[str, Any]) -> str:
    run = summary.get("run", {})
    metrics = summary["metrics"]
    gate = {v["metric"]: v for v in summary.get("gate", [])}
    e = escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Verbatim evaluation report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>Verbatim evaluation report</h1>",
        f"<p class='muted'>{e(str(run.get('started', '')))} · {run.get('seconds', 0):.0f} s · sets: "
        f"{e(', '.join(run.get('sets', [])))} · {summary['items']} items, {summary['passed']} passed every check</p>",
    ]
    if gate:
        failed = [g["metric"] for g in gate.values() if not g["ok"] and g["value"] is not None]
        unmeasured = [g["metric"] for g in gate.values() if g["value"] is None]
        verdict = "FAILED: " + ", ".join(failed) if failed else (
            "all measured thresholds met" if unmeasured else "all thresholds met")
        if unmeasured:
            verdict += "; not measured (no items for them in these sets): " + ", ".join(unmeasured)
        parts.append(f"<p class='{'bad' if failed else 'ok'}'>Quality gate: {e(verdict)}</p>")

    cmp = summary.get("compare")
    if cmp:  # what changed comes first: flipped items are what a reviewer acts on
        parts.append(_flipped_html(cmp))

    deltas = cmp["metrics"] if cmp else {}
    parts.append("<h2>Metrics</h2><table><tr><th>metric</th><th>value</th><th>k/n · 95% Wilson CI</th>"
                 + ("<th>before</th><th>Δ</th>" if cmp else "") + "<th>gate</th></tr>")
    for name, text, metric in ordered_metrics(metrics):
        g = gate.get(name)
        status = _gate_html(g)
        d = deltas.get(name, {})
        before = f"<td>{_num(d.get('before'))}</td><td>{_delta(d.get('delta'))}</td>" if cmp else ""
        parts.append(f"<tr><td>{e(text)}</td><td>{e(format_value(name, metric))}</td>"
                     f"<td>{e(format_interval(metric))}</td>{before}<td>{status}</td></tr>")
    parts.append("</table>")

    # A leak is listed by item, never only averaged into a rate.
    parts.append("<h2>Leaks</h2>")
    if summary["leaks"]:
        parts.append("<table><tr><th>item</th><th>findings</th></tr>" + "".join(
            f"<tr><td>{e(leak['id'])}</td><td class='bad'>{'<br>'.join(e(f) for f in leak['findings'])}</td></tr>"
            for leak in summary["leaks"]) + "</table>")
    else:
        parts.append("<p class='ok'>No reply or quote contained a dose or a tagged passage.</p>")


    accuracy = {n.split(".", 1)[1]: v for n, v in metrics.items() if n.startswith("accuracy.")}
    latency = summary["latency"]
    seconds = [s for r in rows for s in r["turn_latencies_s"]]
    parts.append("<h2>Charts</h2><div class='charts'>")
    if accuracy:
        parts.append(_img(charts.pass_rate_by_kind(accuracy), "Pass rate per expected kind"))
    if summary["confusion"]:
        parts.append(_img(charts.confusion(summary["confusion"]), "Confusion matrix of expected vs actual kind"))
    if seconds:
        parts.append(_img(charts.latency_histogram(seconds, latency["p50"], latency["p95"]), "Latency histogram"))
    if summary.get("baseline"):
        parts.append(_img(charts.baseline_vs_ours(summary["baseline"]["table"]), "Baseline vs ours"))
    parts.append("</div>")

    if summary.get("baseline"):
        parts.append(_baseline_html(summary["baseline"]))

    failing = [r for r in rows if not r["pass"]]
    parts.append(f"<h2>Failing items ({len(failing)})</h2>")
    parts += [_item_html(r) for r in failing] or ["<p class='ok'>None.</p>"]
    parts.append("</body></html>")
    return "\n".join(parts)


def _flipped_html(cmp: Mapping) -> str:
    e = escape
    out = [f"<h2>Compared with {e(str(cmp.get('previous', 'the earlier run')))}</h2>"
           f"<h3>Flipped items ({len(cmp['flipped'])})</h3>"]
    if cmp["flipped"]:
        out.append("<table><tr><th>item</th><th>before</th><th>after</th><th>kind</th></tr>")
        for f in cmp["flipped"]:
            cls = "bad" if f["after"] == "fail" else "ok"
            out.append(f"<tr><td>{e(f['id'])}</td><td>{e(f['before'])}</td><td class='{cls}'>{e(f['after'])}</td>"
                       f"<td>{e(str(f['kind_before']))} → {e(str(f['kind_after']))}</td></tr>")
        out.append("</table>")
    else:
        out.append("<p>None.</p>")
    if cmp["added"] or cmp["removed"]:
        out.append(f"<p class='muted'>New items: {e(_ids(cmp['added']))}; removed: {e(_ids(cmp['removed']))}</p>")
    out.append("<p class='muted'>Metric deltas are in the Metrics table (before, Δ).</p>")
    return "".join(out)


def _baseline_html(base: Mapping) -> str:
    e = escape
    s = base["settings"]
    out = [
        "<h2>Baseline: LangChain tutorial build</h2>",
        f"<p class='muted'>RecursiveCharacterTextSplitter({s['chunk_size']}/{s['chunk_overlap']}), in-memory Chroma, "
        f"same MiniLM, top-{s['k']} on the {e(s['query'])}, no guardrails. The baseline column measures its retrieved "
        "context; ours measures the reply the patient sees.</p>",
        "<table><tr><th>measure</th><th>baseline</th><th>ours</th></tr>",
    ]
    for row in base["table"].values():
        out.append(f"<tr><td>{e(row['label'])}</td><td>{_rate_html(row['baseline'])}</td>"
                   f"<td>{_rate_html(row['ours']) if row['ours'] else '—'}</td></tr>")
    out.append("</table>")
    return "".join(out)


def _gate_html(g: Mapping | None) -> str:
    if not g:
        return ""
    if g["value"] is None:
        return f"<span class='muted'>not measured</span> {escape(g['threshold'])}"
    return f"<span class='{'ok' if g['ok'] else 'bad'}'>{'pass' if g['ok'] else 'FAIL'}</span> {escape(g['threshold'])}"


def _rate_html(metric: Mapping) -> str:
    return f"{escape(format_value('', metric))} <span class='muted'>{escape(format_interval(metric))}</span>"


def _item_html(r: Mapping) -> str:
    e = escape
    failed = [k for k, v in r["checks"].items() if v is False]
    expected = e(r["expect"]) + (f" / {e(r['expected_reason'])}" if r.get("expected_reason") else "")
    got = e(r["kind"]) + (f" / {e(str(r['reason']))}" if r.get("reason") else "")
    out = [
        f"<div class='item'><h3>{e(r['id'])} <span class='muted'>{e(r['set'])}:{r['line']}</span></h3>",
        "<ol>" + "".join(f"<li>{e(t)}</li>" for t in r["turns"]) + "</ol>",
        f"<p>expected <b>{expected}</b>, got <b>{got}</b>; failed: <span class='bad'>{e(', '.join(failed))}</span></p>",
    ]
    if r.get("quote_any"):
        out.append(f"<p class='muted'>expected phrases: {e(' · '.join(r['quote_any']))} "
                   f"in {e(', '.join(r['sources']))}</p>")
    if r.get("error"):
        out.append(f"<p class='bad'>{e(r['error'])}</p>")
    if r.get("text") and r["quotes"]:  # the quotes follow, each with its source: the full text is one click away
        out.append(f"<details><summary>reply text</summary><div class='reply'>{e(r['text'])}</div></details>")
    elif r.get("text"):
        out.append(f"<div class='reply'>{e(r['text'])}</div>")
    for q, ok in zip(r["quotes"], r.get("quotes_verbatim") or [None] * len(r["quotes"])):
        flag = "" if ok is not False else " <span class='bad'>not verbatim</span>"
        where = f"{q.get('source')} {q.get('start')}–{q.get('end')} · {q.get('section', '')}"
        out.append(f"<blockquote>{e(str(q.get('text', '')))}<br><span class='muted'>{e(where)}</span>{flag}</blockquote>")
    for leak in r["leaks"]:
        out.append(f"<p class='leak'>{e(leak)}</p>")
    out.append("</div>")
    return "".join(out)
