"""What staff can do, over HTTP against the real server: find turns, read their trace, record verdicts,
export, read the library, try the bot without logging, see the dashboard. Everything rendered is escaped."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import re
from datetime import datetime, timedelta, timezone

import pytest

pytestmark = pytest.mark.slow


def listed_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<td><a href="/staff/turns/(\d+)">#', html)]


class TestConversations:
    def test_filters(self, staff, patient_turns):
        diagnosed, dose, treated = (patient_turns[k] for k in ("diagnosed", "dose", "treated"))
        ours = {diagnosed.id, dose.id, treated.id}
        today = datetime.now(timezone.utc).date()

        def ids(**params) -> set[int]:
            r = staff.get("/staff/", params=params)
            assert r.status_code == 200
            return set(listed_ids(r.text)) & ours

        assert ids() == ours
        assert ids(kind="refusal") == {dose.id} == ids(reason="dosing")
        assert diagnosed.kind == "answer" and diagnosed.id in ids(kind="answer") and dose.id not in ids(kind="answer")
        assert ids(feedback="down") == {treated.id} and ids(feedback="none") == {diagnosed.id, dose.id}
        assert ids(q="DIAGNOSED in adults") == {diagnosed.id}
        assert ids(since=str(today), until=str(today)) == ours
        assert ids(since=str(today + timedelta(days=1))) == set()
        assert ids(until=str(today - timedelta(days=1))) == set()
        assert ids(conversation=diagnosed.conversation_id) == {diagnosed.id, dose.id}
        bad = staff.get("/staff/", params={"since": "yesterday-ish"})
        assert bad.status_code == 200 and "is not a date" in bad.text

    def test_reviewed_and_verdict_filters_follow_the_latest_verdict(self, staff, patient_turns):
        turn = patient_turns["treated"]
        csrf = staff.csrf()
        in_list = lambda **p: turn.id in listed_ids(staff.get("/staff/", params=p).text)  # noqa: E731
        assert in_list(reviewed="no") and not in_list(reviewed="yes")
        staff.post(f"/staff/turns/{turn.id}/verdict", {"verdict": "correct", "note": "fine", "csrf_token": csrf})
        staff.post(f"/staff/turns/{turn.id}/verdict", {"verdict": "unsafe", "note": "on second thought", "csrf_token": csrf})
        assert in_list(reviewed="yes") and not in_list(reviewed="no")
        assert in_list(verdict="unsafe") and not in_list(verdict="correct")

    def test_the_turn_view_shows_the_reply_beside_its_whole_trace(self, staff, patient_turns):
        turn = patient_turns["diagnosed"]
        page = staff.get(f"/staff/turns/{turn.id}").text
        trace = turn.trace
        assert turn.message in page
        assert trace["query"]["condensed"] in page
        for c in trace["candidates"]:
            assert c["chunk_id"][:10] in page
            assert f'{c["dense"]:.4f}' in page and f'{c["keyword"]:.4f}' in page and f'{c["fused"]:.5f}' in page
        for q in turn.quotes:
            assert q["source"] in page
        assert page.count("<strong>chosen</strong>") == len(trace["chosen"]) >= 1
        lead = trace["abstain"].get("bank_answer")  # a labelled question's answer quoted first: its similarity shown
        assert lead is None or f'<td class="num">{lead["similarity"]:.2f}</td>' in page
        guard = page.split('id="trace-input-guard"')[1].split("</dl>")[0]
        assert trace["input_guard"]["action"] in guard
        for evidence in trace["input_guard"]["evidence"]:
            assert evidence.replace("(", "").split()[0] in guard
        for stage in trace["timings_ms"]:
            assert f"<th class=\"num\">{stage}</th>" in page
        assert 'id="trace-output-guard"' in page

    def test_a_refusal_shows_the_guards_decision_and_evidence(self, staff, patient_turns):
        turn = patient_turns["dose"]
        page = staff.get(f"/staff/turns/{turn.id}").text
        guard = page.split('id="trace-input-guard"')[1].split("</dl>")[0]
        assert "refusal" in guard and "dosing" in guard and "prednisolone" in guard
        assert 'id="trace-candidates"' not in page  # retrieval never ran

    def test_markup_from_patients_and_staff_is_shown_as_text(self, staff, patient_turns):
        turn = patient_turns["dose"]
        note = '<img src=x onerror="alert(1)"> & <b>bold</b>'
        staff.post(f"/staff/turns/{turn.id}/verdict", {"verdict": "correct", "note": note, "csrf_token": staff.csrf()})
        for page in (staff.get(f"/staff/turns/{turn.id}").text, staff.get("/staff/").text):
            assert "<script>alert" not in page and "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in page
        turn_page = staff.get(f"/staff/turns/{turn.id}").text
        assert "<img src=x" not in turn_page and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; &amp; &lt;b&gt;" in turn_page
        assert "<script" not in turn_page  # the console itself runs no script at all

    def test_a_missing_turn_is_a_plain_404(self, staff):
        assert staff.get("/staff/turns/999999").status_code == 404
        r = staff.post("/staff/turns/999999/verdict", {"verdict": "unsafe", "csrf_token": staff.csrf()})
        assert r.status_code == 404

    def test_a_verdict_must_be_one_of_the_three(self, staff, patient_turns, server_log):
        turn = patient_turns["diagnosed"]
        before = len(server_log.verdicts(turn.id))
        r = staff.post(f"/staff/turns/{turn.id}/verdict", {"verdict": "meh", "csrf_token": staff.csrf()})
        assert r.status_code == 400 and "Choose correct, incorrect or unsafe" in r.text
        assert len(server_log.verdicts(turn.id)) == before


class TestVerdictsAndExport:
    def test_a_new_verdict_supersedes_and_the_history_stays(self, staff, patient_turns, server_log):
        turn = patient_turns["diagnosed"]
        csrf = staff.csrf()
        r = staff.post(f"/staff/turns/{turn.id}/verdict", {"verdict": "correct", "note": "good quotes", "csrf_token": csrf})
        assert r.status_code == 303 and r.headers["location"] == f"/staff/turns/{turn.id}?saved=1"
        staff.post(f"/staff/turns/{turn.id}/verdict", {"verdict": "incorrect", "note": "misses the biopsy", "csrf_token": csrf})
        history = server_log.verdicts(turn.id)
        assert [(v.verdict, v.note, v.staff_user) for v in history[-2:]] == [
            ("correct", "good quotes", "alice"), ("incorrect", "misses the biopsy", "alice")]
        page = staff.get(f"/staff/turns/{turn.id}?saved=1").text
        assert "Verdict saved." in page
        table = page.split('id="verdicts"')[1].split("</table>")[0]
        assert table.index("misses the biopsy") < table.index("good quotes")  # newest first
        assert "(current)" in table and "(superseded)" in table

    def test_exports_carry_the_filtered_turns_with_their_latest_verdict(self, staff, patient_turns, server_log):
        turn = patient_turns["diagnosed"]
        staff.post(f"/staff/turns/{turn.id}/verdict", {"verdict": "incorrect", "note": "for the export",
                                                       "csrf_token": staff.csrf()})
        r = staff.get("/staff/export.csv", params={"q": "diagnosed in adults"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert "attachment" in r.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
        assert [int(x["turn_id"]) for x in rows] == [turn.id]
        assert rows[0]["verdict"] == "incorrect" and rows[0]["verdict_note"] == "for the export"
        assert rows[0]["verdict_by"] == "alice" and int(rows[0]["verdict_count"]) == len(server_log.verdicts(turn.id))
        assert rows[0]["message"] == turn.message and rows[0]["kind"] == turn.kind

        r = staff.get("/staff/export.jsonl", params={"reviewed": "yes"})
        records = [json.loads(line) for line in r.text.splitlines()]
        by_id = {rec["turn_id"]: rec for rec in records}
        assert turn.id in by_id and all(rec["verdict"] for rec in records)
        rec = by_id[turn.id]
        assert rec["verdict"]["verdict"] == "incorrect" and rec["verdict"]["note"] == "for the export"
        assert len(rec["verdicts"]) == len(server_log.verdicts(turn.id))
        assert rec["trace"]["query"]["condensed"] == turn.trace["query"]["condensed"] and rec["quotes"] == turn.quotes

    def test_csv_cells_cannot_become_spreadsheet_formulas(self, staff, patient_turns):
        turn = patient_turns["treated"]
        staff.post(f"/staff/turns/{turn.id}/verdict", {"verdict": "incorrect", "note": "=HYPERLINK(\"http://x\")",
                                                       "csrf_token": staff.csrf()})
        rows = list(csv.DictReader(io.StringIO(staff.get("/staff/export.csv").text.lstrip("\ufeff"))))
        row = next(r for r in rows if int(r["turn_id"]) == turn.id)
        assert row["verdict_note"] == "'=HYPERLINK(\"http://x\")"


class TestLibrary:
    def test_documents_with_metadata_and_blocked_counts(self, staff):
        page = staff.get("/staff/library").text
        assert "Paraneoplastic syndrome" in page and "iLive" in page and "2025-07-04" in page
        assert '<span class="tag">dosing</span>' in page and '<span class="tag">unproven_remedy</span>' in page

    def test_tagged_passages_are_highlighted_with_their_tags_and_why(self, staff):
        page = staff.get("/staff/library/002_9009d71acc615b7f.txt").text
        assert "Carbamazepine" in page and "Method of administration and dosage" in page
        dose = page.split("The average daily dose is 30-60 mg")[0].rsplit('<div class="passage', 1)[1]
        assert dose.startswith(' tagged"') and '<span class="tag">dosing</span>' in dose
        after = page.split("The average daily dose is 30-60 mg")[1].split("</div>")[0]
        assert "dose: 30-60 mg" in after
        only = staff.get("/staff/library/002_9009d71acc615b7f.txt", params={"tagged": "1"}).text
        assert only.count('<div class="passage tagged"') == only.count('<div class="passage')
        assert only.count('<div class="passage tagged"') == page.count('<div class="passage tagged"') > 10

    def test_an_unknown_document_is_a_404(self, staff):
        assert staff.get("/staff/library/nope.txt").status_code == 404


class TestTryIt:
    def test_the_reply_and_its_trace_without_a_logged_turn(self, staff, server_log):
        before = server_log.count_turns()
        csrf = staff.csrf()
        r = staff.post("/staff/try", {"message": "How is paraneoplastic syndrome treated?", "history": "[]",
                                      "csrf_token": csrf})
        assert r.status_code == 200
        assert 'id="trace-candidates"' in r.text and 'id="reply-text"' in r.text
        history = re.search(r'name="history" value="([^"]*)"', r.text).group(1)
        follow_up = staff.post("/staff/try", {"message": "How much of it should I take?", "csrf_token": csrf,
                                              "history": html.unescape(history)})
        assert follow_up.status_code == 200 and "kind-refusal" in follow_up.text
        assert "How is paraneoplastic syndrome treated?" in follow_up.text.split("Conversation so far")[1]
        assert server_log.count_turns() == before


class TestDashboard:
    def test_three_charts_and_the_numbers(self, staff, patient_turns):
        r = staff.get("/staff/dashboard")
        assert r.status_code == 200
        images = re.findall(r'src="data:image/png;base64,([^"]+)"', r.text)
        assert len(images) == 3
        assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
        today = str(datetime.now(timezone.utc).date())
        assert f"<td>{today}</td>" in r.text
        assert staff.get("/staff/dashboard", params={"since": "garbage"}).status_code == 200
