"""Quotes render literally as Markdown: no emphasis, links, headings or HTML from a document or a user."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from bot.compose import md_escape

_MD = MarkdownIt("commonmark")


def visible(rendered: str) -> str:
    """The text a reader sees: tags removed, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", rendered)).split())


def render_quote(text: str) -> str:
    return _MD.render("> " + md_escape(text))


@pytest.mark.parametrize(
    "text",
    [
        "Levels < 5 and > 2 are normal",
        "<script>alert(1)</script>",
        "<b>bold</b> & <i>italic</i>",
        "*not emphasis* and _not either_ and **not strong**",
        "[not a link](https://example.org)",
        "[click](javascript:alert(1))",
        "![not an image](x.png)",
        "# not a heading",
        "## not a heading either",
        "- not a list item",
        "+ not a list item",
        "> not a nested quote",
        "`not code`",
        "a | table | row |",
        "~~not struck~~",
        "AT&T and &amp; and &#60;",
        "back\\slash \\* escaped",
        "=== not a setext underline",
        "Raynaud's syndrome [ 9 ] (see above)",
    ],
)
def test_special_characters_render_literally(text):
    rendered = render_quote(text)
    assert visible(rendered) == " ".join(text.split()), rendered
    inner = rendered.removeprefix("<blockquote>\n<p>").removesuffix("</p>\n</blockquote>\n")
    assert "<" not in inner.replace("&lt;", ""), f"markup leaked into the rendering: {rendered!r}"


SPECIALS = "<>*_[]()#!`|~&\\-=+{}.:;\"' "


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abcXYZ") + list(SPECIALS)), min_size=1, max_size=40))
def test_any_text_renders_literally(text):
    text = text.strip()
    if not text:
        return
    rendered = render_quote(text)
    assert visible(rendered) == " ".join(text.split()), (text, rendered)
    assert re.fullmatch(r"<blockquote>\n<p>.*</p>\n</blockquote>\n", rendered, re.S), (text, rendered)


def test_quotes_in_a_real_reply_are_escaped(chatbot):
    reply = chatbot.ask("What medicines are used to treat it?", [])
    assert reply.kind == "answer"
    for q in reply.quotes:
        assert md_escape(q.text) in reply.text
    assert "<a " not in _MD.render(reply.text)
