"""The console's parts without a server: the failed-login slow-down on a fake clock, filters, the
log's review filters, CSV cells, dashboard numbers, the library's reasons for blocked passages. (The staff
sessions, stored beside the log, are tested in tests/store; the accounts in test_staff_accounts.py.)"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from bot.types import Reply
from ingest.safety import SafetyTagger
from ingest.structure import Passage
from staff.console import TurnFilters
from staff.library import LibraryView
from staff.reports import _cell, dashboard_stats
from staff.throttle import LoginThrottle, MemoryFailures
from fakeclock import T0, Clock
from store import ConversationLog


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def records(request, tmp_path):
    """Where the counts live: this process's memory, or the database (SQLite; PostgreSQL, shared by workers)."""
    from store import ConversationLog, LoginFailures

    if request.param == "memory":
        yield MemoryFailures()
        return
    url = f"sqlite:///{tmp_path / 'log.sqlite'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    log = ConversationLog(url)
    yield LoginFailures.beside(log)
    log.close()


class TestLoginThrottle:
    def test_locked_after_the_limit_and_the_pause_doubles(self, records):
        clock = Clock()
        throttle = LoginThrottle(5, timedelta(seconds=60), clock=clock, records=records)
        for _ in range(4):
            throttle.failed("bob", "10.0.0.1")
            assert throttle.retry_after("bob", "10.0.0.1") == 0
        throttle.failed("bob", "10.0.0.1")
        assert throttle.retry_after("bob", "10.0.0.1") == 60
        assert throttle.retry_after("bob", "10.0.0.2") == 0 and throttle.retry_after("alice", "10.0.0.1") == 0
        clock.advance(seconds=60)
        assert throttle.retry_after("bob", "10.0.0.1") == 0
        throttle.failed("bob", "10.0.0.1")
        assert throttle.retry_after("bob", "10.0.0.1") == 120
        clock.advance(seconds=120)
        throttle.failed("bob", "10.0.0.1")
        assert throttle.retry_after("bob", "10.0.0.1") == 240

    def test_the_pause_has_a_ceiling_and_success_clears_the_record(self, records):
        clock = Clock()
        throttle = LoginThrottle(1, timedelta(seconds=60), max_lockout=timedelta(minutes=10), user_factor=100, clock=clock,
                                 records=records)
        for _ in range(10):
            clock.advance(hours=1)
            throttle.failed("bob", "a")
        assert throttle.retry_after("bob", "a") == 600
        clock.advance(hours=1)
        throttle.succeeded("bob", "a")
        throttle.failed("bob", "a")
        assert throttle.retry_after("bob", "a") == 60

    def test_a_quiet_day_starts_the_count_afresh(self, records):
        clock = Clock()
        throttle = LoginThrottle(5, timedelta(seconds=60), clock=clock, records=records)
        for _ in range(4):
            throttle.failed("erin", "10.0.0.1")
        clock.advance(hours=25)
        throttle.failed("erin", "10.0.0.1")
        assert throttle.retry_after("erin", "10.0.0.1") == 0  # 1 failure today, not 5
        for _ in range(4):
            throttle.failed("erin", "10.0.0.1")
        assert throttle.retry_after("erin", "10.0.0.1") == 60

    def test_guessing_from_many_addresses_locks_the_user(self, records):
        throttle = LoginThrottle(5, timedelta(seconds=60), user_factor=4, clock=Clock(), records=records)
        for i in range(19):
            throttle.failed("carol", f"203.0.113.{i}")
        assert throttle.retry_after("carol", "198.51.100.1") == 0
        throttle.failed("carol", "203.0.113.99")
        assert throttle.retry_after("carol", "198.51.100.1") == 60


class TestFilters:
    def test_dates_kinds_and_text(self):
        f, query, errors = TurnFilters.parse({"since": "2025-07-01", "until": "2025-07-04", "kind": "refusal",
                                              "reason": "dosing", "feedback": "down", "reviewed": "no",
                                              "verdict": "unsafe", "q": "x" * 500})
        assert errors == []
        assert query["since"] == datetime(2025, 7, 1, tzinfo=timezone.utc)
        assert query["until"] == datetime(2025, 7, 5, tzinfo=timezone.utc)  # the whole last day
        assert query["kinds"] == ["refusal"] and query["reason"] == "dosing" and query["feedback"] == "down"
        assert query["reviewed"] is False and query["verdict"] == "unsafe" and len(query["text"]) == 200
        assert f.query_string(page=2).startswith("?since=2025-07-01&until=2025-07-04&kind=refusal")

    def test_nonsense_is_reported_or_matches_nothing_never_everything(self):
        f, query, errors = TurnFilters.parse({"since": "last week", "kind": "<b>", "feedback": "meh", "verdict": "ok"})
        assert len(errors) == 1 and "since" not in query and f.since == ""
        assert query == {"kinds": ["(none)"]}


class TestLogReviewFilters:
    @pytest.fixture
    def log(self, tmp_path):
        clock = Clock()
        log = ConversationLog(f"sqlite:///{tmp_path / 'c.sqlite'}", clock=clock)
        ids = []
        for i, (kind, day) in enumerate([("answer", 0), ("refusal", 0), ("answer", 2)]):
            started = T0 + timedelta(days=day)
            ids.append(log.record_turn(f"c{i}", f"question {i}", Reply(kind, "text", "dosing" if kind == "refusal" else None),
                                       started_at=started, completed_at=started + timedelta(seconds=1)))
        log.set_feedback(ids[2], "down")
        log.add_verdict(ids[0], "alice", "unsafe", "first look")
        log.add_verdict(ids[0], "bob", "correct", "second look")
        log.add_verdict(ids[1], "alice", "unsafe")
        yield log, ids
        log.close()

    def test_reviewed_and_latest_verdict(self, log):
        log, ids = log
        assert [t.id for t in log.turns(reviewed=True, newest_first=False)] == ids[:2]
        assert [t.id for t in log.turns(reviewed=False)] == [ids[2]]
        assert [t.id for t in log.turns(verdict="unsafe")] == [ids[1]]  # turn 0's latest verdict is "correct"
        assert [t.id for t in log.turns(verdict="correct")] == [ids[0]]
        assert log.count_turns(reviewed=True, verdict="unsafe") == 1

    def test_dashboard_counts_per_day(self, log):
        log, _ = log
        stats = dashboard_stats(log, date(2025, 7, 4), date(2025, 7, 6))
        assert stats.days == [date(2025, 7, 4), date(2025, 7, 5), date(2025, 7, 6)]
        assert stats.turns_per_day == [2, 0, 1] and stats.negative_per_day == [0, 0, 1]
        assert stats.unsafe_per_day == [1, 0, 0] and stats.reviewed == 2
        assert stats.kinds["answer"] == 2 and stats.kinds["refusal"] == 1 and stats.kinds["emergency"] == 0


@pytest.mark.parametrize("value, shown", [("=1+1", "'=1+1"), ("+SUM(A1)", "'+SUM(A1)"), ("-2", "'-2"),
                                          ("@cmd", "'@cmd"), ("plain", "plain"), (3, 3)])
def test_csv_cells_that_a_spreadsheet_would_run_are_made_text(value, shown):
    assert _cell(value) == shown


class TestLibraryReasons:
    """Why a passage is blocked: `SafetyTagger.explain`, the same rules that tagged it, as the library shows it."""

    @staticmethod
    def passages() -> list[Passage]:
        def p(i, text, section=("Treatment",), kind="sentence", line=None, block=None):
            return Passage("doc.txt", i * 100, i * 100 + len(text), text, section, kind,
                           i if line is None else line, i if block is None else block)

        return [
            p(0, "Prednisolone is taken at 60 mg per day."),  # own text: a dose
            p(1, "Doctors sometimes use propolis.", section=("Folk remedies",)),  # own text and its heading
            p(2, "Carbamazepine", kind="table_cell", line=2, block=2),  # same row as a dose
            p(3, "200 mg twice daily", kind="table_cell", line=2, block=2),
            p(4, "What the documents say about the outlook.", section=("Outlook",)),  # untagged
            p(5, "The daily dose for adults:", section=("Outlook",), block=5),  # introduces a list
            p(6, "with water", section=("Outlook",), kind="list_item", block=6),
        ]

    def test_every_tag_has_a_reason_from_the_rule_that_gave_it(self):
        tagger = SafetyTagger()
        tagged = tagger.tag(self.passages())
        reasons = tagger.explain(tagged)
        assert len(reasons) == len(tagged)
        for p, rs in zip(tagged, reasons):
            assert sorted({r.tag for r in rs}) == sorted(p.tags), p.text
        why = {p.text: [r.why for r in rs] for p, rs in zip(tagged, reasons)}
        assert why["Prednisolone is taken at 60 mg per day."] == ["its text matches the policy (dose: 60 mg)"]
        assert any("section heading “Folk remedies”" in w for w in why["Doctors sometimes use propolis."])
        assert why["Carbamazepine"] == ["another part of the same line or table row is tagged: “200 mg twice daily”"]
        assert why["What the documents say about the outlook."] == []

    def test_a_tag_the_rules_no_longer_give_says_so(self):
        stale = [Passage("doc.txt", 0, 5, "Hello", (), "sentence", 0, 0, frozenset({"dosing"}))]
        [[reason]] = SafetyTagger().explain(stale)
        assert reason.tag == "dosing" and "rule not reconstructed" in reason.why

    def test_the_library_view_shows_the_taggers_reasons(self, tmp_path):
        tagged = SafetyTagger().tag(self.passages())
        views = LibraryView(f"sqlite:///{tmp_path / 'index.sqlite'}").explain(tagged)
        assert [v.passage for v in views] == tagged
        assert [[(r.tag, r.why) for r in v.reasons] for v in views] == [
            [(r.tag, r.why) for r in rs] for rs in SafetyTagger().explain(tagged)]


def test_the_stylesheet_is_inlined_unescaped():
    from staff.pages import environment

    html = environment().get_template("login.html").render(nonce="n", csrf="c", error=None, next="/staff/")
    assert '"Segoe UI"' in html and "&#34;Segoe UI&#34;" not in html


def test_trace_shows_why_and_the_guard_votes():
    from staff.pages import environment

    trace = {"why": "Quoted 1 passage(s). The best, from \"Causes\"", "input_guard": {
        "action": "refusal", "reason": "dosing", "layer": "model", "evidence": [],
        "votes": {"rules": {"action": "allow"}, "model": {"label": "dosing", "score": 0.9}}}}
    html = environment().from_string('{% from "macros.html" import trace_block %}{{ trace_block(t) }}').render(t=trace)
    assert 'id="trace-why"' in html and "Why these quotes" in html and "vote: model" in html
