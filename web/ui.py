"""Pure functions that turn the bot's data into what the patient page shows (no server, no Gradio import).

Chat messages use Gradio's `{"role", "content"}` format; contents are Markdown. Everything that came from a
person or a document is made inert here, before Gradio's own sanitiser runs (defence in depth):
- the patient's words are fully escaped (`escape_markdown`): shown exactly as typed, never as markup;
- the bot's Markdown (which embeds document quotes) keeps its formatting but cannot carry HTML, images or
  script links (`safe_markdown`).
The only HTML in a message is the wrapper this module writes around a reply, which gives each reply kind a
CSS class (refusals, no-answer and emergencies look different) and a visible label for people who cannot
see colours.

Every word the page says in its own voice is data: `prompts/web.yaml`, read once at import (`text`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import prompts

from bot.compose import md_escape
from bot.types import Quote, Reply

# ------------------------------------------------------------------------------------------- wording

WORDING = "web"  # prompts/web.yaml


def text(key: str, **values: str) -> str:
    """A phrase of the page from `prompts/web.yaml` ("labels.send" for nested keys), rendered strictly."""
    value: Any = prompts.load(WORDING)
    for part in key.split("."):
        value = value[part]
    return prompts.render(value, **values).strip()


PAGE_TITLE = text("page_title")
HEADER_MD = text("header_md")
DISCLAIMER_MD = text("disclaimer_md")
EXAMPLE_QUESTIONS: tuple[str, ...] = tuple(str(q).strip() for q in prompts.load(WORDING)["example_questions"])
EMERGENCY_BANNER_HTML = text("emergency_banner_html")
STILL_ANSWERING = text("still_answering")
ALREADY_ANSWERED = text("already_answered")
CONVERSATION_LOST_MD = text("conversation_lost_md")
NO_SOURCES_MD = text("no_sources_md")
PENDING_MD = text("pending_md")
FEEDBACK_THANKS = {"up": text("feedback_thanks_up"), "down": text("feedback_thanks_down")}

# kind → CSS class; the label shown above a reply of that kind comes from `kind_labels` (answers have none:
# they open with their own lead-in)
KIND_CSS = {"answer": "vb-answer", "refusal": "vb-refusal", "no_answer": "vb-no-answer",
            "out_of_scope": "vb-out-of-scope", "emergency": "vb-emergency"}
KIND_STYLE: dict[str, tuple[str | None, str]] = {
    kind: (text(f"kind_labels.{kind}") if kind != "answer" else None, css) for kind, css in KIND_CSS.items()
}

# ------------------------------------------------------------------------------------------ escaping

_IMAGE = re.compile(r"!\[")
_UNSAFE_LINK = re.compile(r"\]\(\s*(?:javascript|data|vbscript|file):[^)]*\)", re.IGNORECASE)


def clean_text(text: str | None) -> str:
    """Text from the browser, made encodable: an unpaired surrogate ("\\udcff", which a JSON body can carry and
    no UTF-8 response can) becomes U+FFFD; a proper pair becomes its one character."""
    return (text or "").encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def escape_markdown(text: str) -> str:
    """Text a person typed, shown literally: no HTML, no Markdown formatting, no links or images."""
    return md_escape(text, addresses=True)


def safe_markdown(text: str) -> str:
    """The bot's Markdown with everything active removed: raw HTML (every `<` becomes `&lt;`, so no tag,
    comment or script can form), images (no remote loads) and javascript:/data: links."""
    text = text.replace("<", "&lt;")  # the bot writes a literal "<" as "&lt;" (md_escape): none is left
    text = _IMAGE.sub(r"!\\[", text)
    return _UNSAFE_LINK.sub("](#)", text)


# ------------------------------------------------------------------------------------------ messages


def user_message(text: str) -> dict[str, str]:
    return {"role": "user", "content": escape_markdown(text)}


def pending_message(partial_text: str = "") -> dict[str, str]:
    """The assistant message while a reply streams in."""
    return {"role": "assistant", "content": safe_markdown(partial_text) if partial_text.strip() else PENDING_MD}


def reply_markdown(reply: Reply) -> str:
    """A finished reply: its kind's label and wrapper around the bot's (made-safe) Markdown."""
    label, css = KIND_STYLE.get(reply.kind, KIND_STYLE["no_answer"])
    if (reply.trace or {}).get("small_talk"):  # "Hello" / "Take care" need no "Outside what I can answer" above them
        label = None
    head = f"**{label}**\n\n" if label else ""
    # blank lines around the body: Markdown inside an HTML block is only parsed after a blank line
    return f'<div class="vb-reply {css}">\n\n{head}{safe_markdown(reply.text)}\n\n</div>'


def reply_message(reply: Reply) -> dict[str, str]:
    return {"role": "assistant", "content": reply_markdown(reply)}


def turn_messages(message: str, reply: Reply) -> list[dict[str, str]]:
    """One finished turn as the two chat messages the patient sees."""
    return [user_message(message), reply_message(reply)]


def history_entry(message: str, reply: Reply) -> list[dict[str, str]]:
    """The same turn in the form the bot reads back as history: the raw words, not the display markup."""
    return [{"role": "user", "content": message}, {"role": "assistant", "content": reply.text}]


# ------------------------------------------------------------------------------------------- input


def check_message(text: str | None) -> str | None:
    """Why a message cannot be sent (shown next to the input box), or None when it can. Only an empty box is
    stopped here: everything else is the bot's to judge (`bot.checks`), an over-long message included, which
    the bot declines only after screening it for crisis language."""
    return None if (text or "").strip() else prompts.message("empty_message")


def shown_message(text: str, limit: int) -> str:
    """The patient's message as the chat shows it: an over-long one cut at the limit (the bot says why)."""
    return text if len(text) <= limit else text[:limit] + " …"


# ------------------------------------------------------------------------------------------- sources




@dataclass(frozen=True)
class SourceDocument:
    """A document as the patient page lists it."""

    source: str
    title: str
    publisher: str | None = None
    last_reviewed: str | None = None


def _reviewed(value: Any) -> str:
    when = prompts.date_text(value)  # the bot's replies write dates the same way
    return text("reviewed_on", date=when) if when else text("no_review_date")


def library_markdown(documents: Iterable[SourceDocument]) -> str:
    """The documents the bot can quote from (shown with the disclaimer)."""
    lines = []
    for d in documents:
        publisher = f" — {escape_markdown(d.publisher)}" if d.publisher else ""
        lines.append(f"- **{escape_markdown(d.title)}**{publisher} ({_reviewed(d.last_reviewed)})")
    return "\n".join(lines) if lines else text("library_empty_md")


def _get(q: Quote | Mapping[str, Any], name: str) -> Any:
    return q.get(name) if isinstance(q, Mapping) else getattr(q, name)


def sources_markdown(quotes: Iterable[Quote | Mapping[str, Any]]) -> str:
    """The documents behind the conversation so far: each once, with the sections quoted from it."""
    docs: dict[str, dict[str, Any]] = {}
    for q in quotes:
        doc = docs.setdefault(_get(q, "source"), {"title": _get(q, "title") or _get(q, "source"),
                                                   "reviewed": _get(q, "last_reviewed"), "sections": []})
        section = _get(q, "section")
        if section and section not in doc["sections"]:
            doc["sections"].append(section)
    if not docs:
        return NO_SOURCES_MD
    out = []
    for d in docs.values():  # by title and date; file names are for staff (the console)
        sections = "; ".join(escape_markdown(s) for s in d["sections"])
        out.append(f"- **{escape_markdown(d['title'])}** ({_reviewed(d['reviewed'])})"
                   + (f"  \n  {text('sections_quoted', sections=sections)}" if sections else ""))
    return "\n".join(out)
