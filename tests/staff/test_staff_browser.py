"""The review flow as staff do it, in Debian's Chromium (Playwright) against `python app.py` on loopback: a patient
asks on the patient page; a staff member logs in, filters to that turn, reads its trace, marks it incorrect with
a note, and downloads the export, which holds the verdict. Screenshots for the README go to docs/ with `make screenshots`."""

from __future__ import annotations

import csv
import io
import json

import pytest
from playwright.sync_api import expect
from staff_helpers import PASSWORD

pytestmark = pytest.mark.slow

DESKTOP = {"width": 1280, "height": 900}
TIMEOUT_MS = 60_000  # generous: the machine is shared; nothing here asserts on speed
QUESTION = "How is paraneoplastic syndrome diagnosed, and which blood tests are used?"
SEARCH = "which blood tests are used"
NOTE = "Quotes the lab list but not the biopsy step; needs the tumour-marker passage."


def new_page(browser):
    context = browser.new_context(viewport=DESKTOP, locale="en-GB", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    return context, page


def test_a_staff_member_reviews_a_patients_turn(browser, staff_server, patient_turns, server_log, tmp_path,
                                                screenshot_dir):
    # a patient asks on the patient page
    patient_context, patient = new_page(browser)
    patient.goto(staff_server.url)
    box = patient.get_by_label("Your question")
    box.fill(QUESTION)
    box.press("Enter")
    expect(patient.locator("#vb-chat .vb-reply")).to_have_count(1)
    patient_context.close()
    turn = server_log.turns(text=SEARCH, limit=1)[0]

    # staff log in: the console sends them to the login form first, then back
    context, page = new_page(browser)
    page.goto(staff_server.staff + "/")
    expect(page).to_have_url(staff_server.staff + "/login?next=%2Fstaff%2F")
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Conversations")).to_be_visible()

    # filter to the turn: not reviewed yet, by its words
    page.get_by_label("Text in message or reply").fill(SEARCH)
    page.get_by_label("Reviewed").select_option("no")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("#turns tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(QUESTION)

    # open it: the reply beside its trace
    rows.first.get_by_role("link", name=QUESTION).click()
    expect(page.get_by_role("heading", name=f"Turn #{turn.id}")).to_be_visible()
    expect(page.locator("#message")).to_have_text(QUESTION)
    expect(page.locator("#trace-candidates tbody tr")).to_have_count(len(turn.trace["candidates"]))
    expect(page.locator("#trace-query")).to_contain_text(turn.trace["query"]["condensed"])
    expect(page.locator("#trace-input-guard")).to_contain_text(turn.trace["input_guard"]["action"])
    expect(page.locator("#trace-timings")).to_contain_text("total")
    page.screenshot(path=str(screenshot_dir / "staff-turn.png"))

    # mark it incorrect, with a note
    page.get_by_label("incorrect").check()
    page.get_by_label("Note").fill(NOTE)
    page.get_by_role("button", name="Save verdict").click()
    expect(page.get_by_role("status")).to_have_text("Verdict saved.")
    expect(page.locator("#verdicts")).to_contain_text(NOTE)
    expect(page.locator("#verdicts")).to_contain_text("alice")
    stored = server_log.verdicts(turn.id)
    assert [(v.verdict, v.note, v.staff_user) for v in stored] == [("incorrect", NOTE, "alice")]

    # back to the list, filtered to reviewed turns judged incorrect; download both exports
    page.get_by_role("link", name="← Conversations").click()
    page.get_by_label("Text in message or reply").fill(SEARCH)
    page.get_by_label("Latest verdict").select_option("incorrect")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("incorrect")
    with page.expect_download() as jsonl_download:
        page.get_by_role("link", name="Export JSONL").click()
    with page.expect_download() as csv_download:
        page.get_by_role("link", name="Export CSV").click()
    jsonl_download.value.save_as(tmp_path / "turns.jsonl")
    jsonl = [json.loads(line) for line in (tmp_path / "turns.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["turn_id"] for r in jsonl] == [turn.id]
    assert jsonl[0]["verdict"] == {"verdict": "incorrect", "note": NOTE, "staff_user": "alice",
                                   "created_at": stored[0].created_at.isoformat()}
    assert jsonl[0]["message"] == QUESTION and jsonl[0]["trace"]["candidates"] == turn.trace["candidates"]
    csv_download.value.save_as(tmp_path / "turns.csv")
    rows_csv = list(csv.DictReader(io.StringIO((tmp_path / "turns.csv").read_text(encoding="utf-8-sig"))))
    assert [(int(r["turn_id"]), r["verdict"], r["verdict_note"]) for r in rows_csv] == [(turn.id, "incorrect", NOTE)]

    # the list, with every turn of the session, for the README
    page.get_by_role("link", name="Clear").click()
    expect(rows.first).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "staff-list.png"))

    # the library: which passages are blocked, and why
    page.get_by_role("link", name="Library").click()
    page.get_by_role("link", name="Paraneoplastic syndrome", exact=True).click()
    page.get_by_role("link", name="Show only blocked passages").click()
    expect(page.locator(".passage.tagged").first).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "staff-library.png"))

    assert page.errors == []  # no CSP violation, no script error
    context.close()
