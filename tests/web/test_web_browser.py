"""The patient chat as a person uses it: Debian's Chromium (Playwright) against `python app.py` on loopback.

No fakes: the real server, the real ChatBot over the bundled corpus, the real SQLite conversation log.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from playwright.sync_api import expect

from web import ui

pytestmark = pytest.mark.slow

DESKTOP = {"width": 1280, "height": 900}  # the `page` fixture's size
PHONE = {"width": 390, "height": 844}
# `expect` has its own 5 s default (the page's default timeout does not apply to it): the first answer after the
# server started, on a loaded 2-core machine, can take longer. Nothing here asserts on speed.
REPLY_TIMEOUT_MS = 60_000


def ask(page, question: str, replies_before: int) -> None:
    """Type a question and press Enter (keyboard only); wait until its reply has finished."""
    box = page.get_by_label("Your question")
    box.fill(question)
    box.press("Enter")
    expect(page.locator("#vb-chat .vb-reply")).to_have_count(replies_before + 1, timeout=REPLY_TIMEOUT_MS)


def last_reply(page):
    return page.locator("#vb-chat .vb-reply").last


def turns_since(conversation_log, since: datetime):
    return conversation_log.turns(since=since, limit=None, newest_first=False)


def test_a_patients_conversation_is_shown_safely_and_logged_completely(page, conversation_log, screenshot_dir):
    since = datetime.now(timezone.utc)
    # what the patient sees before asking anything: the disclaimer, the library, examples
    disclaimer = page.locator("#vb-disclaimer")
    expect(disclaimer).to_contain_text("not medical advice")
    expect(disclaimer).to_contain_text("112")
    expect(disclaimer).to_contain_text("911")
    expect(page.locator("#vb-library")).to_contain_text("Paraneoplastic syndrome (patient information)")
    expect(page.locator("#vb-library")).to_contain_text("last reviewed 4 July 2025")
    for question in ui.EXAMPLE_QUESTIONS:
        expect(page.get_by_role("button", name=question)).to_be_visible()
    expect(page.get_by_label("Your question")).to_be_focused()  # keyboard users can type at once

    # 1. a question: a quoted answer with its source
    ask(page, "What is a paraneoplastic syndrome?", 0)
    answer = last_reply(page)
    expect(answer).to_have_class(re.compile(r"\bvb-answer\b"))
    expect(answer.locator("blockquote").first).to_be_visible()
    expect(answer).to_contain_text("— Paraneoplastic syndrome")
    expect(page.locator("#vb-sources")).to_contain_text("Paraneoplastic syndrome")
    expect(page.locator("#vb-sources")).not_to_contain_text("No sources yet")

    # 2. a follow-up, answered in the context of the first question
    ask(page, "And the causes?", 1)  # a fragment: it leans on the question before
    expect(last_reply(page)).to_have_class(re.compile(r"\bvb-answer\b"))
    expect(last_reply(page)).to_contain_text("Here is what the documents say about that")
    expect(last_reply(page).locator("blockquote").first).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "chat-desktop.png"), full_page=True)

    # 3. a dose: a kind refusal, styled apart from answers
    ask(page, "How much prednisolone should I take?", 2)
    expect(last_reply(page)).to_have_class(re.compile(r"\bvb-refusal\b"))
    expect(last_reply(page)).to_contain_text("I can't help with that")
    expect(last_reply(page)).to_contain_text("doctor or pharmacist")
    expect(last_reply(page).locator("blockquote")).to_have_count(0)

    # 4. an emergency: impossible to miss — its own style and an alert banner next to the input
    ask(page, "I can't breathe and my chest hurts", 3)
    expect(last_reply(page)).to_have_class(re.compile(r"\bvb-emergency\b"))
    expect(last_reply(page)).to_contain_text("EMERGENCY")
    banner = page.get_by_role("alert").filter(has_text="This may be an emergency")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("112")
    colours = banner.evaluate("e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).color]")
    assert colours == ["rgb(176, 0, 32)", "rgb(255, 255, 255)"]  # white on dark red: contrast ratio > 7

    # 5. thumbs down on the first answer, with a short comment
    page.get_by_role("button", name="Dislike").first.click()
    expect(page.get_by_role("button", name="Disliked")).to_have_count(1)
    comment = page.get_by_label("Your comment (optional)")
    expect(comment).to_be_visible()
    comment.fill("The quotes did not explain it simply. Call me on +44 20 7946 0958")
    page.get_by_role("button", name="Send comment").click()
    expect(page.locator("#vb-status")).to_contain_text("Thank you")
    expect(comment).to_be_hidden()

    page.set_viewport_size(PHONE)
    page.get_by_role("log").evaluate("log => { log.scrollTop = log.scrollHeight; }")  # the latest reply
    page.locator("#vb-emergency").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "chat-phone.png"))
    assert not page.errors

    # …and the log holds all of it, in one conversation
    turns = turns_since(conversation_log, since)
    assert [t.kind for t in turns] == ["answer", "answer", "refusal", "emergency"]
    assert len({t.conversation_id for t in turns}) == 1 and len(turns[0].conversation_id) >= 20
    assert [t.ordinal for t in turns] == [1, 2, 3, 4]
    assert turns[0].message == "What is a paraneoplastic syndrome?"
    assert turns[1].message == "And the causes?"
    assert turns[2].reason == "dosing"
    first = turns[0]
    assert first.quotes and {"text", "source", "title", "section", "start", "end", "last_reviewed"} <= set(first.quotes[0])
    assert all(q["text"].split()[0] in first.reply_text for q in first.quotes)
    assert first.trace["timings_ms"]["total"] > 0 and first.trace["candidates"]
    assert turns[2].trace["input_guard"]["action"] == "refusal" and turns[3].trace["input_guard"]["action"] == "emergency"
    assert first.feedback == "down"
    assert first.feedback_comment == "The quotes did not explain it simply. Call me on [phone]"  # masked
    assert all(t.feedback is None for t in turns[1:])
    assert all(t.created_at <= t.completed_at for t in turns)


def test_a_list_shown_instead_of_an_answer_is_labelled_as_one(page, screenshot_dir):
    """ "Does methylprednisolone cause weight gain?": its side-effect list has no weight gain. The reply is styled and
    labelled as not an answer, says so before the quote, and still names the quote's source."""
    ask(page, "Does methylprednisolone cause weight gain?", 0)
    reply = last_reply(page)
    expect(reply).to_have_class(re.compile(r"\bvb-no-answer\b"))
    expect(reply).to_contain_text(ui.KIND_STYLE["no_answer"][0])
    expect(reply).to_contain_text("which is not an answer")
    expect(reply.locator("blockquote")).to_have_count(1)
    expect(reply.locator("blockquote")).to_contain_text("osteoporosis")
    expect(reply).to_contain_text("Methylprednisolone › Side effects")
    expect(page.locator("#vb-sources")).to_contain_text("Paraneoplastic syndrome")
    expect(reply).to_contain_text("If it may be urgent")  # the safety net closes it, as any no_answer
    page.get_by_role("log").evaluate("log => { log.scrollTop = 0; }")  # the reply from its label down
    page.screenshot(path=str(screenshot_dir / "chat-list-not-an-answer.png"))
    assert not page.errors


def test_input_problems_get_clear_feedback_not_an_error(page, conversation_log):
    since = datetime.now(timezone.utc)
    box = page.get_by_label("Your question")
    status = page.locator("#vb-status")

    box.fill("   ")
    box.press("Enter")
    expect(status).to_contain_text("Please type a question")

    too_long = "Why? " * 450  # 2,250 characters: the bot declines it (after screening it for crisis language)
    box.fill(too_long)
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#vb-chat")).to_contain_text("2,000 characters", timeout=REPLY_TIMEOUT_MS)
    expect(box).to_have_value(too_long)  # kept, to be shortened

    # two sends in the same instant (a double click): one question, one answer
    box.fill("What symptoms can it cause?")
    page.get_by_role("button", name="Send").evaluate("b => { b.click(); b.click(); }")
    expect(page.locator("#vb-chat .vb-reply")).to_have_count(2, timeout=REPLY_TIMEOUT_MS)
    expect(page.locator("#vb-chat [data-testid='user']")).to_have_count(2)
    page.wait_for_timeout(500)
    expect(page.locator("#vb-chat .vb-reply")).to_have_count(2)
    assert [t.message for t in turns_since(conversation_log, since)] == [too_long.strip(), "What symptoms can it cause?"]
    assert not page.errors


def test_markup_from_a_patient_is_shown_as_text_never_run(page):
    attack = ('<img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script> '
              '[click me](javascript:window.__pwned=3) **not bold**')
    ask(page, attack, 0)
    bubble = page.locator("#vb-chat [data-testid='user']").last
    expect(bubble).to_contain_text('<img src=x onerror="window.__pwned=1">')
    expect(bubble).to_contain_text("**not bold**")
    assert bubble.locator("img, script, a, strong").count() == 0
    page.get_by_role("button", name="Send").click()  # nothing to send: the box is empty
    assert page.evaluate("window.__pwned") is None
    assert not page.errors


def test_addresses_a_patient_types_are_shown_exactly_and_never_linked(page):
    typed = "Is http://evil.example/a_b?x=1 or www.evil.example right? Mail me: jo.doe@evil.example"
    ask(page, typed, 0)
    bubble = page.locator("#vb-chat [data-testid='user']").last
    expect(bubble).to_contain_text(typed)
    assert bubble.locator("a").count() == 0, bubble.inner_html()
    assert not page.errors


def test_new_conversation_starts_clean_with_a_new_id(page, conversation_log):
    since = datetime.now(timezone.utc)
    page.get_by_role("button", name="How is it diagnosed?").click()  # an example question
    expect(page.locator("#vb-chat .vb-reply")).to_have_count(1)
    page.get_by_role("button", name="New conversation").click()
    expect(page.locator("#vb-chat .message-row")).to_have_count(0)
    expect(page.locator("#vb-sources")).to_contain_text("No sources yet")
    ask(page, "How is it treated?", 0)
    turns = turns_since(conversation_log, since)
    assert [t.message for t in turns] == ["How is it diagnosed?", "How is it treated?"]
    assert turns[0].conversation_id != turns[1].conversation_id
    assert [t.ordinal for t in turns] == [1, 1]


def test_each_patient_sees_only_their_own_conversation(browser, server, conversation_log):
    since = datetime.now(timezone.utc)
    pages = []
    for question in ("What symptoms can it cause?", "How is it diagnosed?"):
        context = browser.new_context(viewport=DESKTOP)
        pg = context.new_page()
        pg.goto(server.url)
        pg.get_by_label("Your question").wait_for()
        pages.append((context, pg, question))
    for _, pg, question in pages:
        ask(pg, question, 0)
    for _, pg, question in pages:
        users = pg.locator("#vb-chat [data-testid='user']")
        expect(users).to_have_count(1)
        expect(users.first).to_have_text(question)
    turns = turns_since(conversation_log, since)
    assert len({t.conversation_id for t in turns}) == 2
    for context, _, _ in pages:
        context.close()


@pytest.mark.parametrize("viewport", [PHONE, {"width": 640, "height": 450}], ids=["phone", "desktop-at-200%-zoom"])
def test_usable_on_a_phone_and_at_200_percent_zoom(browser, server, viewport):
    """640 CSS px is what a 1280 px window shows at 200 % zoom. Nothing scrolls sideways; everything is
    reachable by keyboard and has a name a screen reader can read."""
    context = browser.new_context(viewport=viewport, is_mobile=viewport is PHONE, has_touch=viewport is PHONE)
    pg = context.new_page()
    pg.goto(server.url)
    box = pg.get_by_label("Your question")
    box.wait_for()
    width = pg.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width[0] <= width[1], f"horizontal scrolling at {viewport['width']} px: {width}"
    expect(pg.get_by_role("log", name="chatbot conversation")).to_be_visible()
    for name in ("Send", "New conversation", *ui.EXAMPLE_QUESTIONS):
        button = pg.get_by_role("button", name=name)
        button.scroll_into_view_if_needed()
        expect(button).to_be_visible()
    # keyboard only: Tab from the question box reaches Send, then New conversation
    box.focus()
    reached = []
    for _ in range(6):
        pg.keyboard.press("Tab")
        reached.append(pg.evaluate("document.activeElement.textContent.trim() || document.activeElement.getAttribute('aria-label') || ''"))
    assert "Send" in reached and "New conversation" in reached, reached
    # an example question answered by keyboard (Enter on the focused button)
    pg.get_by_role("button", name=ui.EXAMPLE_QUESTIONS[1]).focus()
    pg.keyboard.press("Enter")
    expect(pg.locator("#vb-chat .vb-reply")).to_have_count(1)
    width = pg.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width[0] <= width[1], f"horizontal scrolling with an answer shown: {width}"
    context.close()
