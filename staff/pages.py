"""The console's HTML: Jinja2 templates with autoescaping on (every value from a patient, a document, the
trace or a staff note is escaped), no JavaScript at all, one inline stylesheet allowed by a per-response CSP
nonce. Pure rendering: no request handling here."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from jinja2 import ChainableUndefined, DictLoader, Environment, select_autoescape

CSS = """
:root { --ink:#1b1f24; --muted:#5b6570; --line:#d5dbe1; --accent:#1f4e79; --bg:#f6f8fa; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); margin: 0;
  background: #fff; }
a { color: var(--accent); }
header.top { display: flex; align-items: center; gap: 1.5rem; padding: .6rem 1.25rem; background: #0b2540;
  color: #fff; flex-wrap: wrap; }
header.top a { color: #fff; text-decoration: none; padding: .2rem .1rem; border-bottom: 2px solid transparent; }
header.top a[aria-current="page"] { border-bottom-color: #9cc7f0; }
header.top .brand { font-weight: 700; margin-right: .5rem; }
header.top .who { margin-left: auto; display: flex; gap: .75rem; align-items: center; }
header.top button { background: transparent; color: #fff; border: 1px solid #9cc7f0; border-radius: .3rem;
  padding: .15rem .6rem; cursor: pointer; }
main { padding: 1rem 1.25rem 3rem; max-width: 110rem; margin: 0 auto; }
h1 { font-size: 1.4rem; margin: .25rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.25rem 0 .5rem; border-bottom: 1px solid var(--line); padding-bottom: .2rem; }
h3 { font-size: 1rem; margin: 1rem 0 .4rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { border-bottom: 1px solid var(--line); padding: .3rem .45rem; text-align: left; vertical-align: top; }
th { background: var(--bg); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.muted { color: var(--muted); }
.small { font-size: .85rem; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85rem; }
.pre { white-space: pre-wrap; word-break: break-word; }
.box { border: 1px solid var(--line); border-radius: .4rem; padding: .6rem .8rem; background: #fff; }
.filters { display: flex; flex-wrap: wrap; gap: .6rem 1rem; align-items: flex-end; background: var(--bg);
  border: 1px solid var(--line); border-radius: .4rem; padding: .7rem .9rem; margin-bottom: .8rem; }
.filters label, .form label { display: flex; flex-direction: column; font-size: .85rem; gap: .15rem; }
input, select, textarea { font: inherit; padding: .3rem .4rem; border: 1px solid #9aa4ae; border-radius: .3rem; }
button, .button { font: inherit; background: var(--accent); color: #fff; border: 0; border-radius: .3rem;
  padding: .35rem .9rem; cursor: pointer; text-decoration: none; display: inline-block; }
.button.secondary, button.secondary { background: #e8eef4; color: var(--accent); border: 1px solid #b8c7d6; }
.actions { display: flex; gap: .6rem; flex-wrap: wrap; align-items: center; margin: .5rem 0 1rem; }
.kind { display: inline-block; border-radius: .25rem; padding: 0 .35rem; font-size: .8rem; font-weight: 600;
  border: 1px solid; white-space: nowrap; }
.kind-answer { color: #1f4e79; background: #eef5fc; }
.kind-refusal { color: #7a4500; background: #fff4e5; }
.kind-emergency { color: #fff; background: #b00020; border-color: #5f0010; }
.kind-out_of_scope, .kind-no_answer { color: #1d2152; background: #eef0fb; }
.fb { font-size: .8rem; font-weight: 600; white-space: nowrap; }
.fb-down { color: #8a3b00; } .fb-up { color: #17602a; }
.verdict { font-weight: 600; white-space: nowrap; }
.verdict-correct { color: #17602a; } .verdict-incorrect { color: #8a3b00; } .verdict-unsafe { color: #b00020; }
.split { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1.25fr); gap: 1.25rem; }
@media (max-width: 960px) { .split { grid-template-columns: 1fr; } }
blockquote { margin: .4rem 0; padding: .3rem .7rem; border-left: 4px solid var(--accent); background: var(--bg); }
.chosen { background: #eaf6ea; }
.tagged { background: #fff1f1; border-left: 4px solid #b00020; }
.tag { display: inline-block; background: #b00020; color: #fff; border-radius: .25rem; padding: 0 .35rem;
  font-size: .75rem; font-weight: 600; margin-right: .25rem; }
.passage { padding: .3rem .5rem; margin: .15rem 0; border-left: 4px solid transparent; }
.notice { border-left: 4px solid #a15c00; background: #fff4e5; padding: .5rem .8rem; margin: .5rem 0 1rem; }
.error { border-left: 4px solid #b00020; background: #fdecea; padding: .5rem .8rem; margin: .5rem 0 1rem; }
.ok { border-left: 4px solid #17602a; background: #eaf6ea; padding: .5rem .8rem; margin: .5rem 0 1rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(26rem, 1fr)); gap: 1rem; }
.charts img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: .4rem; }
.stats { display: flex; gap: 1rem; flex-wrap: wrap; margin-bottom: 1rem; }
.stats div { border: 1px solid var(--line); border-radius: .4rem; padding: .4rem .8rem; min-width: 9rem; }
.stats strong { display: block; font-size: 1.3rem; }
.login { max-width: 24rem; margin: 4rem auto; }
.login form { display: flex; flex-direction: column; gap: .7rem; }
details summary { cursor: pointer; color: var(--accent); }
fieldset.plain { border: 0; padding: 0; margin: 0 0 .5rem; }
.form label.radio { display: inline-flex; flex-direction: row; gap: .3rem; margin-right: 1rem; font-size: 1rem; }
.pager { display: flex; gap: 1rem; align-items: center; margin: .75rem 0; }
"""

BASE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{% block title %}{{ title }}{% endblock %} — Verbatim staff</title>
<style nonce="{{ nonce }}">{{ css }}</style>
</head>
<body>
<header class="top">
  <span class="brand">Verbatim staff</span>
  {% if user %}
  <nav aria-label="Console">
    {% for key, label, href in nav %}
    <a href="{{ href }}"{% if key == section %} aria-current="page"{% endif %}>{{ label }}</a>{% if not loop.last %} &nbsp; {% endif %}
    {% endfor %}
  </nav>
  <div class="who">
    <span>Signed in as <strong>{{ user }}</strong></span>
    <form method="post" action="{{ root }}/logout">
      <input type="hidden" name="csrf_token" value="{{ csrf }}">
      <button type="submit">Log out</button>
    </form>
  </div>
  {% endif %}
</header>
<main>
{% block main %}{% endblock %}
</main>
</body>
</html>
"""

LOGIN = """{% extends "base.html" %}
{% block main %}
<div class="login">
  <h1>Staff login</h1>
  {% if not configured %}
    <div class="notice" id="no-accounts"><strong>No staff account is configured.</strong> The console shows nothing
    until an administrator adds one on the server:<br><code class="mono">python -m bot.staff add-user NAME</code></div>
  {% else %}
    {% if error %}<div class="error" role="alert">{{ error }}</div>{% endif %}
    <form method="post" action="{{ root }}/login">
      <input type="hidden" name="login_token" value="{{ login_token }}">
      <input type="hidden" name="next" value="{{ next }}">
      <label>User name <input name="username" autocomplete="username" required autofocus value="{{ username }}"></label>
      <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
      <button type="submit">Log in</button>
    </form>
  {% endif %}
</div>
{% endblock %}
"""

MACROS = """
{% macro kind_badge(kind, reason) -%}
<span class="kind kind-{{ kind }}">{{ kind }}</span>{% if reason %} <span class="small">{{ reason }}</span>{% endif %}
{%- endmacro %}

{% macro verdict_badge(v) -%}
{% if v %}<span class="verdict verdict-{{ v.verdict }}">{{ v.verdict }}</span>{% else %}<span class="muted">—</span>{% endif %}
{%- endmacro %}

{% macro reply_block(kind, reason, text, quotes) %}
<div class="box">
  <p>{{ kind_badge(kind, reason) }}</p>
  <div class="pre" id="reply-text">{{ text }}</div>
</div>
{% if quotes %}
<h3>Quotes ({{ quotes|length }})</h3>
{% for q in quotes %}
<blockquote>
  <div class="pre">{{ q.text }}</div>
  <div class="small muted">{{ q.title }} — {{ q.section or "Introduction" }} · <span class="mono">{{ q.source }}</span>
  [{{ q.start }}–{{ q.end }}]{% if q.last_reviewed %} · reviewed {{ q.last_reviewed }}{% endif %}</div>
</blockquote>
{% endfor %}
{% endif %}
{% endmacro %}

{% macro trace_block(trace) %}
{% set t = trace or {} %}
<section id="trace" aria-label="Trace">
<h2>Trace</h2>
{% if t.error %}<div class="error"><strong>Error in stage {{ t.error.stage }}</strong>: {{ t.error.type }} {{ t.error.message }}</div>{% endif %}
{% if t.input_problem %}<p>Input problem: <strong>{{ t.input_problem }}</strong> (the message never reached the guard)</p>{% endif %}

<h3>Timings (ms)</h3>
{% if t.timings_ms %}
<table class="small" id="trace-timings"><tr>{% for k in t.timings_ms %}<th class="num">{{ k }}</th>{% endfor %}</tr>
<tr>{% for k, v in t.timings_ms.items() %}<td class="num">{{ v|num(1) }}</td>{% endfor %}</tr></table>
{% else %}<p class="muted">none recorded</p>{% endif %}

<h3>Input guard</h3>
{% if t.input_guard %}{% set g = t.input_guard %}
<dl class="meta" id="trace-input-guard">
  <dt>decision</dt><dd><strong>{{ g.action }}</strong>{% if g.reason %} — {{ g.reason }}{% endif %}</dd>
  <dt>layer</dt><dd>{{ g.layer or "—" }}</dd>
  <dt>evidence</dt><dd>{% for e in g.evidence or [] %}<span class="mono">“{{ e }}”</span>{% if not loop.last %}, {% endif %}{% else %}—{% endfor %}</dd>
  {% if g.topic %}<dt>topic</dt><dd>{{ g.topic }}</dd>{% endif %}
  {% if g.manipulation %}<dt>manipulation</dt><dd>{{ g.manipulation|join(", ") }}</dd>{% endif %}
  <dt>on topic</dt><dd>{{ g.on_topic }}</dd>
</dl>
{% else %}<p class="muted">not reached</p>{% endif %}

{% if t.query %}{% set q = t.query %}
<h3>Query</h3>
<dl class="meta" id="trace-query">
  <dt>condensed query</dt><dd class="mono">{{ q.condensed }}</dd>
  {% if q.carried_from_history %}<dt>carried from history</dt><dd>{{ q.carried_from_history }}</dd>{% endif %}
  {% if q.corrections %}<dt>spelling corrections</dt><dd>{% for a, b in q.corrections.items() %}{{ a }} → {{ b }}{% if not loop.last %}, {% endif %}{% endfor %}</dd>{% endif %}
  {% if q.expansions %}<dt>expansions</dt><dd>{{ q.expansions|join(", ") }}</dd>{% endif %}
  {% if q.terms %}<dt>terms (weight)</dt><dd class="mono">{% for k, v in q.terms.items() %}{{ k }} ({{ v }}){% if not loop.last %}, {% endif %}{% endfor %}</dd>{% endif %}
</dl>
{% endif %}

{% if t.candidates is defined %}
<h3>Retrieved candidates ({{ t.candidates|length }})</h3>
<table id="trace-candidates">
<thead><tr><th>#</th><th>chunk</th><th>source › section</th><th class="num">dense</th><th class="num">rank</th>
<th class="num">keyword</th><th class="num">rank</th><th class="num">fused</th></tr></thead>
<tbody>
{% for c in t.candidates %}
<tr><td class="num">{{ loop.index }}</td><td class="mono" title="{{ c.chunk_id }}">{{ (c.chunk_id or "")[:10] }}</td>
<td><span class="mono small">{{ c.source }}</span><br>{{ c.section or "Introduction" }}</td>
<td class="num">{{ c.dense|num(4) }}</td><td class="num">{{ c.dense_rank or "—" }}</td>
<td class="num">{{ c.keyword|num(4) }}</td><td class="num">{{ c.keyword_rank or "—" }}</td>
<td class="num">{{ c.fused|num(5) }}</td></tr>
{% endfor %}
</tbody></table>
{% endif %}

{% if t.passages is defined %}
<h3>Scored passages (chosen ones highlighted)</h3>
<table id="trace-passages">
<thead><tr><th>passage</th><th class="num">score</th><th class="num">cosine</th><th class="num">lexical</th><th class="num">chunk</th></tr></thead>
<tbody>
{% for p in t.passages %}
<tr{% if p.passage_id in (t.chosen or []) %} class="chosen"{% endif %}>
<td>{% if p.passage_id in (t.chosen or []) %}<strong>chosen</strong> · {% endif %}<span class="small muted">{{ p.section or "Introduction" }}</span><br>{{ p.text }}
<div class="mono small muted">{{ p.passage_id }}</div></td>
<td class="num">{{ p.score|num(4) }}</td><td class="num">{{ p.cosine|num(4) }}</td><td class="num">{{ p.lexical|num(4) }}</td><td class="num">{{ p.chunk|num(4) }}</td></tr>
{% endfor %}
</tbody></table>
{% endif %}

{% if t.abstain %}
<h3>Abstain decision</h3>
<dl class="meta" id="trace-abstain">
{% for k, v in t.abstain.items() %}<dt>{{ k }}</dt><dd>{{ v|num(4) }}</dd>{% endfor %}
</dl>
{% endif %}

{% if t.withheld %}
<h3>Withheld at composition</h3>
<ul>{% for w in t.withheld %}<li><span class="mono">{{ w.passage_id }}</span> — {{ w.why }}</li>{% endfor %}</ul>
{% endif %}

{% if t.verify %}
<h3>Verbatim check</h3>
<p>{{ t.verify.quotes }} quote(s) checked against the source; dropped: {{ (t.verify.dropped or [])|join(", ") or "none" }}</p>
{% endif %}

{% if t.output_guard is defined %}
<h3>Output guard</h3>
<p id="trace-output-guard">{% if t.output_guard.violations %}<strong>violations:</strong> {{ t.output_guard.violations|join("; ") }}{% else %}passed (no tagged passage, no written-out dose){% endif %}</p>
{% endif %}

<details><summary>Raw trace (JSON)</summary><pre class="mono pre">{{ trace|pretty }}</pre></details>
</section>
{% endmacro %}
"""

TURNS = """{% extends "base.html" %}
{% from "macros.html" import kind_badge, verdict_badge %}
{% block main %}
<h1>Conversations</h1>
{% for e in errors %}<div class="error">{{ e }}</div>{% endfor %}
<form class="filters" method="get" action="{{ root }}/" aria-label="Filters">
  <label>From (UTC date) <input type="date" name="since" value="{{ f.since }}"></label>
  <label>To (inclusive) <input type="date" name="until" value="{{ f.until }}"></label>
  <label>Reply kind <select name="kind"><option value="">any</option>
    {% for k in kinds %}<option value="{{ k }}"{% if f.kind == k %} selected{% endif %}>{{ k }}</option>{% endfor %}</select></label>
  <label>Refusal reason <select name="reason"><option value="">any</option>
    {% for r in reasons %}<option value="{{ r }}"{% if f.reason == r %} selected{% endif %}>{{ r }}</option>{% endfor %}</select></label>
  <label>Feedback <select name="feedback">
    {% for v, l in [("", "any or none"), ("down", "thumbs down"), ("up", "thumbs up"), ("any", "some feedback"), ("none", "no feedback")] %}
    <option value="{{ v }}"{% if f.feedback == v %} selected{% endif %}>{{ l }}</option>{% endfor %}</select></label>
  <label>Reviewed <select name="reviewed">
    {% for v, l in [("", "either"), ("no", "not reviewed"), ("yes", "reviewed")] %}
    <option value="{{ v }}"{% if f.reviewed == v %} selected{% endif %}>{{ l }}</option>{% endfor %}</select></label>
  <label>Latest verdict <select name="verdict"><option value="">any</option>
    {% for v in verdicts %}<option value="{{ v }}"{% if f.verdict == v %} selected{% endif %}>{{ v }}</option>{% endfor %}</select></label>
  <label>Text in message or reply <input type="search" name="q" value="{{ f.q }}" maxlength="200"></label>
  <button type="submit">Filter</button>
  <a class="button secondary" href="{{ root }}/">Clear</a>
</form>
<div class="actions">
  <strong>{{ total }}</strong> turn(s) match.
  <a class="button secondary" href="{{ root }}/export.csv{{ qs }}" download>Export CSV</a>
  <a class="button secondary" href="{{ root }}/export.jsonl{{ qs }}" download>Export JSONL</a>
</div>
<table id="turns">
<thead><tr><th>turn</th><th>sent (UTC)</th><th>conversation</th><th>message</th><th>reply</th><th>feedback</th><th>verdict</th><th class="num">ms</th></tr></thead>
<tbody>
{% for t in turns %}{% set v = t.verdicts[-1] if t.verdicts else None %}
<tr>
<td><a href="{{ root }}/turns/{{ t.id }}">#{{ t.id }}</a></td>
<td class="small">{{ t.created_at|dt }}</td>
<td class="mono small"><a href="{{ root }}/?conversation={{ t.conversation_id }}">{{ t.conversation_id[:8] }}</a> · {{ t.ordinal }}</td>
<td><a href="{{ root }}/turns/{{ t.id }}">{{ t.message|short(140) }}</a></td>
<td>{{ kind_badge(t.kind, t.reason) }}</td>
<td>{% if t.feedback %}<span class="fb fb-{{ t.feedback }}">{{ "thumbs down" if t.feedback == "down" else "thumbs up" }}</span>{% endif %}{% if t.feedback_comment %} <span class="small">{{ t.feedback_comment|short(60) }}</span>{% endif %}</td>
<td>{{ verdict_badge(v) }}{% if v %}<div class="small muted">{{ v.staff_user }}</div>{% endif %}</td>
<td class="num">{{ t.latency_ms }}</td>
</tr>
{% else %}
<tr><td colspan="8" class="muted">No turns match these filters.</td></tr>
{% endfor %}
</tbody></table>
<div class="pager">
  {% if prev_qs is not none %}<a href="{{ root }}/{{ prev_qs }}">← newer</a>{% endif %}
  <span class="muted">{{ first }}–{{ last }} of {{ total }}</span>
  {% if next_qs is not none %}<a href="{{ root }}/{{ next_qs }}">older →</a>{% endif %}
</div>
{% endblock %}
"""

TURN = """{% extends "base.html" %}
{% from "macros.html" import kind_badge, verdict_badge, reply_block, trace_block %}
{% block main %}
<p class="small"><a href="{{ root }}/">← Conversations</a></p>
<h1>Turn #{{ t.id }} <span class="muted small">conversation <span class="mono">{{ t.conversation_id }}</span>, turn {{ t.ordinal }} · sent {{ t.created_at|dt }} · {{ t.latency_ms }} ms</span></h1>
{% if saved %}<div class="ok" role="status">Verdict saved.</div>{% endif %}
{% for e in errors %}<div class="error" role="alert">{{ e }}</div>{% endfor %}
<div class="split">
<div>
  <h2>Patient message</h2>
  <div class="box pre" id="message">{{ t.message }}</div>
  <h2>Reply <span class="small muted">(the Markdown the patient was sent)</span></h2>
  {{ reply_block(t.kind, t.reason, t.reply_text, t.quotes) }}
  <h2>Patient feedback</h2>
  <p>{% if t.feedback %}<span class="fb fb-{{ t.feedback }}">{{ "thumbs down: not helpful" if t.feedback == "down" else "thumbs up: helpful" }}</span>{% if t.feedback_at %} <span class="small muted">({{ t.feedback_at|dt }})</span>{% endif %}{% else %}<span class="muted">none</span>{% endif %}</p>
  {% if t.feedback_comment %}<blockquote class="pre">{{ t.feedback_comment }}</blockquote>{% endif %}

  <h2>Verdict</h2>
  {% if t.verdicts %}
  <table id="verdicts"><thead><tr><th>verdict</th><th>note</th><th>by</th><th>when (UTC)</th></tr></thead><tbody>
  {% for v in t.verdicts|reverse %}
  <tr{% if not loop.first %} class="muted"{% endif %}><td>{{ verdict_badge(v) }}{% if loop.first %} <span class="small">(current)</span>{% else %} <span class="small">(superseded)</span>{% endif %}</td>
  <td class="pre">{{ v.note }}</td><td>{{ v.staff_user }}</td><td class="small">{{ v.created_at|dt }}</td></tr>
  {% endfor %}</tbody></table>
  {% else %}<p class="muted" id="verdicts">Not reviewed yet.</p>{% endif %}
  <form class="form box" method="post" action="{{ root }}/turns/{{ t.id }}/verdict" aria-label="Record a verdict">
    <input type="hidden" name="csrf_token" value="{{ csrf }}">
    <fieldset class="plain"><legend>This reply is…</legend>
    {% for v in verdicts %}<label class="radio"><input type="radio" name="verdict" value="{{ v }}" required> {{ v }}</label>{% endfor %}
    </fieldset>
    <label>Note <textarea name="note" rows="3" maxlength="2000" placeholder="What is wrong or right about it?"></textarea></label>
    <p><button type="submit">Save verdict</button> <span class="small muted">A new verdict supersedes the current one; the history is kept.</span></p>
  </form>

  {% if conversation|length > 1 %}
  <h2>The whole conversation</h2>
  <ol class="small">
  {% for c in conversation %}<li>{% if c.id == t.id %}<strong>{{ c.message|short(120) }}</strong>{% else %}<a href="{{ root }}/turns/{{ c.id }}">{{ c.message|short(120) }}</a>{% endif %} — {{ kind_badge(c.kind, c.reason) }}</li>{% endfor %}
  </ol>
  {% endif %}
</div>
<div>
{{ trace_block(t.trace) }}
</div>
</div>
{% endblock %}
"""

TRY = """{% extends "base.html" %}
{% from "macros.html" import reply_block, trace_block %}
{% block main %}
<h1>Try it</h1>
<p class="muted">Ask as a patient would. The reply and its trace are shown here only: nothing is stored in the conversation log.</p>
{% for e in errors %}<div class="error" role="alert">{{ e }}</div>{% endfor %}
{% if history %}
<h2>Conversation so far</h2>
<ol class="small">{% for m in history %}{% if m.role == "user" %}<li>{{ m.content|short(160) }}</li>{% endif %}{% endfor %}</ol>
{% endif %}
<form class="form box" method="post" action="{{ root }}/try">
  <input type="hidden" name="csrf_token" value="{{ csrf }}">
  <input type="hidden" name="history" value="{{ history_json }}">
  <label>Question <textarea name="message" rows="2" maxlength="{{ max_chars }}" required>{{ message }}</textarea></label>
  <p class="actions"><button type="submit">Ask</button>{% if history %}<a class="button secondary" href="{{ root }}/try">Start over</a>{% endif %}</p>
</form>
{% if reply %}
<div class="split">
<div><h2>Reply</h2>{{ reply_block(reply.kind, reply.reason, reply.text, reply.quotes) }}</div>
<div>{{ trace_block(reply.trace) }}</div>
</div>
{% endif %}
{% endblock %}
"""

LIBRARY = """{% extends "base.html" %}
{% block main %}
<h1>Library</h1>
<p class="muted">The documents the bot quotes from. Passages tagged <span class="tag">dosing</span> or
<span class="tag">unproven_remedy</span> are never quoted to a patient.</p>
<table id="documents">
<thead><tr><th>document</th><th>publisher</th><th>last reviewed</th><th>language</th><th class="num">passages</th><th>blocked passages</th></tr></thead>
<tbody>
{% for d in documents %}
<tr><td><a href="{{ root }}/library/{{ d.source|urlencode }}">{{ d.title }}</a><div class="mono small muted">{{ d.source }}</div></td>
<td>{{ d.metadata.publisher or "—" }}</td><td>{{ d.metadata.last_reviewed or "—" }}</td><td>{{ d.metadata.language or "—" }}</td>
<td class="num">{{ d.passages }}</td>
<td>{% for tag, n in d.tagged.items() %}<span class="tag">{{ tag }}</span> {{ n }} {% else %}<span class="muted">none</span>{% endfor %}</td></tr>
{% else %}
<tr><td colspan="6" class="muted">The index is empty. Build it with <code>python -m ingest</code>.</td></tr>
{% endfor %}
</tbody></table>
{% endblock %}
"""

DOCUMENT = """{% extends "base.html" %}
{% block main %}
<p class="small"><a href="{{ root }}/library">← Library</a></p>
<h1>{{ d.title }}</h1>
<dl class="meta box">
  <dt>file</dt><dd class="mono">{{ d.source }}</dd>
  {% for k, v in d.metadata.items() if k != "title" %}<dt>{{ k }}</dt><dd>{{ v }}</dd>{% endfor %}
  <dt>passages</dt><dd>{{ d.passages }}</dd>
  <dt>blocked</dt><dd>{% for tag, n in d.tagged.items() %}<span class="tag">{{ tag }}</span> {{ n }} {% else %}none{% endfor %}</dd>
</dl>
<p class="actions">
{% if only_tagged %}<a class="button secondary" href="{{ root }}/library/{{ d.source|urlencode }}">Show all passages</a>
{% else %}<a class="button secondary" href="{{ root }}/library/{{ d.source|urlencode }}?tagged=1">Show only blocked passages</a>{% endif %}
</p>
{% for s in sections %}{% if not only_tagged or s.tagged %}
<h2>{{ s.label }} <span class="small muted">{{ s.passages|length }} passage(s){% if s.tagged %}, {{ s.tagged }} blocked{% endif %}</span></h2>
{% for p in s.passages %}{% if not only_tagged or p.tags %}
<div class="passage{% if p.tags %} tagged{% endif %}" id="p-{{ loop.index }}-{{ p.passage.start }}">
  {% for tag in p.tags %}<span class="tag">{{ tag }}</span>{% endfor %}
  <span>{{ p.passage.text }}</span>
  <span class="mono small muted">[{{ p.passage.start }}–{{ p.passage.end }}] {{ p.passage.kind }}</span>
  {% if p.reasons %}<ul class="small">{% for r in p.reasons %}<li><strong>{{ r.tag }}</strong>: {{ r.why }}</li>{% endfor %}</ul>{% endif %}
</div>
{% endif %}{% endfor %}
{% endif %}{% endfor %}
{% endblock %}
"""

DASHBOARD = """{% extends "base.html" %}
{% block main %}
<h1>Dashboard</h1>
{% for e in errors %}<div class="error">{{ e }}</div>{% endfor %}
<form class="filters" method="get" action="{{ root }}/dashboard">
  <label>From (UTC date) <input type="date" name="since" value="{{ s.since }}"></label>
  <label>To (inclusive) <input type="date" name="until" value="{{ s.until }}"></label>
  <button type="submit">Show</button>
</form>
<div class="stats">
  <div>turns<strong>{{ s.total }}</strong></div>
  <div>thumbs down<strong>{{ s.negative }}</strong></div>
  <div>reviewed<strong>{{ s.reviewed }}</strong></div>
  <div>judged unsafe<strong>{{ s.unsafe }}</strong></div>
  {% for k, n in s.kinds.items() %}<div>{{ k }}<strong>{{ n }}</strong><span class="small muted">{{ (100 * n / (s.total or 1))|round(0)|int }} %</span></div>{% endfor %}
</div>
<div class="charts">
  <img src="data:image/png;base64,{{ charts.turns }}" alt="Bar chart of turns per day from {{ s.since }} to {{ s.until }}: {{ s.total }} in all">
  <img src="data:image/png;base64,{{ charts.kinds }}" alt="Share of reply kinds: {% for k, n in s.kinds.items() %}{{ k }} {{ n }}{% if not loop.last %}, {% endif %}{% endfor %}">
  <img src="data:image/png;base64,{{ charts.problems }}" alt="Thumbs down ({{ s.negative }}) and turns judged unsafe ({{ s.unsafe }}) per day">
</div>
<h2>Per day</h2>
<table class="small"><thead><tr><th>day (UTC)</th><th class="num">turns</th><th class="num">thumbs down</th><th class="num">judged unsafe</th></tr></thead><tbody>
{% for d in s.days|reverse %}{% set i = s.days|length - loop.index %}
{% if s.turns_per_day[i] %}<tr><td>{{ d }}</td><td class="num">{{ s.turns_per_day[i] }}</td><td class="num">{{ s.negative_per_day[i] }}</td><td class="num">{{ s.unsafe_per_day[i] }}</td></tr>{% endif %}
{% endfor %}</tbody></table>
{% endblock %}
"""

MESSAGE = """{% extends "base.html" %}
{% block main %}<h1>{{ title }}</h1><p>{{ message }}</p>{% if link %}<p><a href="{{ link }}">{{ link_text }}</a></p>{% endif %}{% endblock %}
"""

TEMPLATES = {
    "base.html": BASE, "macros.html": MACROS, "login.html": LOGIN, "turns.html": TURNS, "turn.html": TURN,
    "try.html": TRY, "library.html": LIBRARY, "document.html": DOCUMENT, "dashboard.html": DASHBOARD,
    "message.html": MESSAGE,
}


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


def environment() -> Environment:
    # ChainableUndefined: traces differ by reply kind and version; a missing field renders empty, never an error
    env = Environment(loader=DictLoader(TEMPLATES), autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(dt=format_dt, num=format_num, short=short, pretty=pretty)
    env.globals.update(css=CSS)
    return env
