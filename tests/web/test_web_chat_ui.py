"""Pure UI functions: a Reply in, chat messages and Markdown out. No server, no browser."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

import prompts
from bot.types import Quote, Reply
from web import ui

Q1 = Quote("A paraneoplastic syndrome is a set of symptoms that are caused by a cancer.", "000_f4ccc132db03309a.txt",
           "Paraneoplastic syndrome (patient information)", "Introduction", 10, 85, None, "p1")
Q2 = Quote("Skin flushing", "002_9009d71acc615b7f.txt", "Paraneoplastic syndrome", "Symptoms › Skin", 200, 213,
           "2025-07-04", "p2")


class TestEscapeMarkdown:
    def test_html_is_shown_as_text(self):
        out = ui.escape_markdown('<script>alert("x")</script><img src=x onerror=alert(1)>')
        assert "<" not in out and ">" not in out
        assert "&lt;script&gt;" in out

    def test_markdown_syntax_is_shown_literally(self):
        out = ui.escape_markdown("**bold** [link](javascript:alert(1)) ![img](http://x/y.png) # heading")
        for raw in ("**", "[link]", "](", "![", " # "):
            assert raw not in out
        assert r"\*\*bold\*\*" in out and r"\# heading" in out

    def test_addresses_cannot_become_links(self):
        """The renderer links "http://", "www." and e-mail addresses by their shape; escaped, none is left."""
        out = ui.escape_markdown("http://evil.example/a www.evil.example jo@evil.example")
        assert "http://" not in out and "www." not in out and "@" not in out.replace("\\@", "")
        assert r"http\:" in out and r"jo\@evil" in out

    def test_entities_stay_visible_as_typed(self):
        assert ui.escape_markdown("&lt;b&gt;") == "&amp;lt;b&amp;gt;"

    @given(st.text())
    def test_nothing_a_person_types_can_open_a_tag(self, text):
        out = ui.escape_markdown(text)
        assert "<" not in out
        assert not re.search(r"(?<!\\)[\[\]*_`]", out)  # every Markdown control character is escaped


class TestSafeMarkdown:
    def test_keeps_the_bots_formatting(self):
        text = "Here is what the documents say:\n\n> A quote\n\n— *Title*, Section"
        assert ui.safe_markdown(text) == text

    def test_raw_html_cannot_form(self):
        out = ui.safe_markdown("> <script>alert(1)</script> <!-- x --> <b onclick=y>b</b>")
        assert "<" not in out

    def test_a_quoted_angle_bracket_is_shown_once(self):
        # QuoteComposer writes a literal "<" as "&lt;" (md_escape), which safe_markdown leaves as it is
        from bot.compose import md_escape
        assert ui.safe_markdown(md_escape("<5 mg")) == "&lt;5 mg"
        assert ui.safe_markdown("a <b") == "a &lt;b"

    def test_images_and_script_links_are_disarmed(self):
        out = ui.safe_markdown("![x](http://tracker/p.png) [a](javascript:alert(1)) [b](data:text/html,x) [c](https://ok.org)")
        assert "![" not in out
        assert "javascript:" not in out and "data:" not in out
        assert "[c](https://ok.org)" in out

    @given(st.text())
    def test_never_a_raw_tag(self, text):
        assert "<" not in ui.safe_markdown(text)


class TestReplyMessages:
    @pytest.mark.parametrize("kind, css, label", [
        ("answer", "vb-answer", None),
        ("refusal", "vb-refusal", "I can't help with that"),
        ("no_answer", "vb-no-answer", "Not in the documents"),
        ("out_of_scope", "vb-out-of-scope", "Outside what I can answer"),
        ("emergency", "vb-emergency", "EMERGENCY — call 112 or 911 now"),
    ])
    def test_each_kind_has_its_own_look_and_label(self, kind, css, label):
        content = ui.reply_markdown(Reply(kind, "Some text."))
        assert content.startswith(f'<div class="vb-reply {css}">\n\n')
        assert content.endswith("\n\n</div>")
        assert "Some text." in content
        if label:
            assert f"**{label}**" in content
        else:
            assert "**" not in content

    def test_a_reply_to_small_talk_has_the_out_of_scope_look_but_no_label(self):
        content = ui.reply_markdown(Reply("out_of_scope", "Take care.", None, (), {"small_talk": "closing"}))
        assert content.startswith('<div class="vb-reply vb-out-of-scope">') and "**" not in content

    def test_unknown_kind_falls_back_to_the_no_answer_look(self):
        assert "vb-no-answer" in ui.reply_markdown(Reply("something_new", "x"))  # type: ignore[arg-type]

    def test_a_turn_as_chat_messages(self):
        reply = Reply("answer", "Here is what the documents say:\n\n> quote", quotes=(Q1,))
        user, bot = ui.turn_messages("What is it? <b>", reply)
        assert user == {"role": "user", "content": "What is it? &lt;b&gt;"}
        assert bot["role"] == "assistant" and "> quote" in bot["content"]

    def test_history_keeps_the_raw_words_not_the_markup(self):
        reply = Reply("refusal", "I can't help with doses.", "dosing")
        assert ui.history_entry("How much <b>?", reply) == [
            {"role": "user", "content": "How much <b>?"},
            {"role": "assistant", "content": "I can't help with doses."},
        ]

    def test_pending_message(self):
        assert ui.pending_message()["content"] == ui.PENDING_MD
        assert ui.pending_message("  ")["content"] == ui.PENDING_MD
        assert ui.pending_message("Here <is>")["content"] == "Here &lt;is>"


class TestCheckMessage:
    @pytest.mark.parametrize("text", [None, "", "   \n\t "])
    def test_empty(self, text):
        assert "Please type a question" in ui.check_message(text)

    def test_length_is_the_bots_to_judge(self):
        assert ui.check_message("x" * 5000) is None  # the bot declines it after screening it for crisis

    def test_an_over_long_message_is_shown_cut_at_the_limit(self):
        assert ui.shown_message("x" * 2345, 2000) == "x" * 2000 + " …"
        assert ui.shown_message("short", 2000) == "short"


class TestSources:
    def test_no_sources_yet(self):
        assert ui.sources_markdown([]) == ui.NO_SOURCES_MD

    def test_each_document_once_with_its_sections_and_review_date(self):
        out = ui.sources_markdown([Q1, Q2, Q2.to_dict(), {**Q2.to_dict(), "section": "Treatment"}])
        assert out.count(r"**Paraneoplastic syndrome \(patient information\)**") == 1
        assert out.count("**Paraneoplastic syndrome**") == 1
        assert "no review date given" in out and "last reviewed 4 July 2025" in out
        assert "Symptoms › Skin; Treatment" in out

    def test_document_metadata_is_escaped(self):
        evil = Quote("x", "a.txt", "<script>x</script>", "[s](javascript:1)", 0, 1)
        out = ui.sources_markdown([evil])
        assert "<script>" not in out and "](javascript" not in out

    def test_library(self):
        docs = [ui.SourceDocument("a.txt", "Doc A", "WikiDoc", None),
                ui.SourceDocument("b.txt", "Doc B", None, "2025-07-04")]
        out = ui.library_markdown(docs)
        assert "**Doc A** — WikiDoc (no review date given)" in out
        assert "**Doc B** (last reviewed 4 July 2025)" in out
        assert "empty" in ui.library_markdown([])

    @pytest.mark.parametrize("value, shown", [
        ("2025-07-04", "4 July 2025"), ("2025-07-04T10:00:00", "4 July 2025"), (None, None), ("", None),
        ("summer 2024", "summer 2024"),
    ])
    def test_review_dates(self, value, shown):
        assert prompts.date_text(value) == shown
