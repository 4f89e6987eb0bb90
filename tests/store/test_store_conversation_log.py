"""The conversation log on real SQLite and on a real PostgreSQL: schema and migrations, every field of a
turn, masking, feedback, staff queries and verdicts, exports and dashboard rows, retention (and its timer),
durability across a killed process, concurrent writers."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from fakeclock import Clock
from bot.types import Quote, Reply
from store import conversation_log as cl
from store.conversation_log import ConversationLog, contacts_in, mask_contacts, mask_typed
from store.retention import RetentionTimer

REPO_ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 1, 10, 9, 0, tzinfo=timezone.utc)
QUOTE = Quote("A paraneoplastic syndrome is a set of symptoms that are caused by a cancer.",
              "000_f4ccc132db03309a.txt", "Paraneoplastic syndrome (patient information)", "Introduction", 10, 85,
              None, "000:p3")


def answer(text: str = "Here is what the documents say:\n\n> quote", **trace) -> Reply:
    return Reply("answer", text, None, (QUOTE,), {"timings_ms": {"total": 12.5}, **trace})


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'conversations.sqlite'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, sqlite_url) -> str:
    """Each test on both databases: SQLite (the embedded default) and a real PostgreSQL (several workers)."""
    return sqlite_url if request.param == "sqlite" else request.getfixturevalue("pg_url")


@pytest.fixture
def log(db_url):
    log = ConversationLog(db_url)
    yield log
    log.close()


class TestMasking:
    @pytest.mark.parametrize("text, masked", [
        ("write to jane.doe+onc@example.co.uk please", "write to [email] please"),
        ("call +44 20 7946 0958", "call [phone]"),
        ("call (555) 123-4567 today", "call [phone] today"),
        ("my mobile 06 12 34 56 78", "my mobile [phone]"),
        ("0612345678", "[phone]"),
        ("0049 30 1234567", "[phone]"),
    ])
    def test_contacts_are_masked(self, text, masked):
        assert mask_contacts(text) == masked

    @pytest.mark.parametrize("text", [
        "I took 1000 mg twice a day", "reviewed 2025-07-04", "on 04.07.2025", "from 2019-2021", "room 12345",
        "What is a paraneoplastic syndrome?", "",
    ])
    def test_numbers_that_are_not_contacts_stay(self, text):
        assert mask_contacts(text) == text

    def test_a_trace_is_masked_where_it_copied_the_patients_words(self):
        message = "mail a@b.org or ring 0612 345678"
        trace = {"query": {"text": message, "terms": ["mail", "ring", "0612", "345678"]},
                 "candidates": [{"passage_id": "002_9009d71acc615b7f.txt:14603-14761", "score": 0.5, "start": 14603}],
                 "a@b.org": 1, "n": None}
        assert mask_typed(trace, [message]) == {
            "query": {"text": "mail [email] or ring [phone]", "terms": ["mail", "ring", "[phone]", "[phone]"]},
            "candidates": [{"passage_id": "002_9009d71acc615b7f.txt:14603-14761", "score": 0.5, "start": 14603}],
            "[email]": 1, "n": None}

    @settings(max_examples=200, deadline=None)
    @given(
        words=st.lists(st.sampled_from(["what", "causes", "it", "my", "number", "is", "call", "me", "mail"]), max_size=6),
        contact=st.one_of(
            st.none(),
            st.from_regex(r"\A\+?[1-9]\d{1,3} \d{3,4} \d{3,5}\Z"),  # a phone number as people type it
            st.from_regex(r"\A[a-z]{2,8}\.?[a-z]{0,6}@[a-z]{2,8}\.(org|com|de)\Z"),
        ),
        passages=st.lists(st.tuples(st.integers(0, 999), st.integers(0, 10**7), st.integers(1, 5000),
                                    st.floats(-1, 1, allow_nan=False)), min_size=1, max_size=8),
    )
    def test_masking_touches_only_what_the_patient_typed(self, words, contact, passages):
        """Property: ids, offsets and scores never change; no contact the patient typed survives anywhere."""
        message = " ".join(words + ([contact] if contact else []))
        candidates = [{"passage_id": f"{n:03d}_9009d71acc615b7f.txt:{start}-{start + length}", "start": start,
                       "end": start + length, "score": score, "section": "Treatment › Drug therapy"}
                      for n, start, length, score in passages]
        trace = {"query": {"text": message, "corrected": message}, "candidates": candidates,
                 "timings_ms": {"total": 12.5}, "chosen": [c["passage_id"] for c in candidates]}
        masked = mask_typed(trace, [message])
        assert masked["candidates"] == candidates and masked["chosen"] == trace["chosen"]
        assert masked["timings_ms"] == trace["timings_ms"]
        if contact:
            assert contacts_in(message) == [contact]
            assert contact not in json.dumps(masked, ensure_ascii=False)
            assert masked["query"]["text"] == " ".join(words + ["[email]" if "@" in contact else "[phone]"])
        else:
            assert masked == trace


class TestSchema:
    def test_created_on_first_start_in_wal_mode(self, sqlite_url):
        log = ConversationLog(sqlite_url)
        assert log.schema_version == cl.SCHEMA_VERSION
        log.close()
        engine = sa.create_engine(sqlite_url)
        with engine.connect() as conn:
            assert set(sa.inspect(conn).get_table_names()) >= {"schema_version", "conversations", "turns", "verdicts"}
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert [r[0] for r in conn.execute(sa.text("SELECT version FROM schema_version"))] == [cl.SCHEMA_VERSION]
        engine.dispose()

    def test_reopening_keeps_data_and_does_not_restamp(self, db_url):
        first = ConversationLog(db_url)
        turn_id = first.record_turn("c1", "hello", answer(), started_at=T0)
        first.close()
        again = ConversationLog(db_url)
        assert again.turn(turn_id).message == "hello"
        with again.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM schema_version")).scalar() == 1
        again.close()

    def test_a_version_1_log_is_migrated_keeping_its_turns(self, db_url):
        """Version 1 had no verdicts table; opening it upgrades it in place and turn ids stay the same."""
        engine = sa.create_engine(db_url)
        Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)
        v1 = [cl.schema_version_table, cl.conversations_table, cl.turns_table]
        with engine.begin() as conn:
            cl.metadata.create_all(conn, tables=v1)
            conn.execute(cl.schema_version_table.insert().values(version=1, applied_at=T0))
            conn.execute(cl.conversations_table.insert().values(id="old", started_at=T0, last_turn_at=T0, turn_count=1))
            conn.execute(cl.turns_table.insert().values(
                id=41, conversation_id="old", ordinal=1, created_at=T0, completed_at=T0, latency_ms=5,
                message="old question", kind="answer", reason=None, reply_text="old reply", quotes=[], trace={}))
        engine.dispose()

        log = ConversationLog(db_url)
        assert log.schema_version == 2
        assert log.turn(41).message == "old question"
        log.add_verdict(41, "nurse.kim", "correct", "fine")
        assert [v.verdict for v in log.verdicts(41)] == ["correct"]
        with log.engine.connect() as conn:
            assert [r[0] for r in conn.execute(sa.text("SELECT version FROM schema_version ORDER BY version"))] == [1, 2]
        log.close()

    def test_a_log_from_newer_code_is_refused_with_a_clear_message(self, db_url):
        log = ConversationLog(db_url)
        with log.engine.begin() as conn:
            conn.execute(cl.schema_version_table.insert().values(version=99, applied_at=T0))
        log.close()
        with pytest.raises(cl.SchemaTooNewError, match="newer than this code understands"):
            ConversationLog(db_url)

    def test_the_default_url_is_sqlite_under_the_data_dir(self, tmp_path):
        from ingest.settings import LogSettings

        settings = LogSettings(data_dir=tmp_path / "data", database_url="", retention_days=7)
        log = ConversationLog.from_settings(settings)
        assert (tmp_path / "data" / "conversations.sqlite").exists()
        assert log.retention_days == 7
        log.close()


class TestTurns:
    def test_every_field_of_a_turn_is_stored(self, log):
        reply = answer(query={"text": "what is it mail me x@y.com"})
        turn_id = log.record_turn("conv-1", "What is it? Mail me at x@y.com or 0612345678", reply,
                                  started_at=T0, completed_at=T0 + timedelta(milliseconds=250))
        t = log.turn(turn_id)
        assert (t.conversation_id, t.ordinal, t.kind, t.reason) == ("conv-1", 1, "answer", None)
        assert t.created_at == T0 and t.completed_at == T0 + timedelta(milliseconds=250) and t.latency_ms == 250
        assert t.created_at.tzinfo is not None
        assert t.message == "What is it? Mail me at [email] or [phone]"
        assert t.reply_text == reply.text  # what the patient saw, unmasked
        assert t.quotes == [QUOTE.to_dict()]
        assert t.trace == {"timings_ms": {"total": 12.5}, "query": {"text": "what is it mail me [email]"}}
        assert (t.feedback, t.feedback_comment, t.feedback_at, t.verdicts) == (None, None, None, ())

    def test_a_trace_that_is_not_json_is_kept_as_text(self, log):
        turn_id = log.record_turn("c", "q", answer(odd={1, 2}, obj=object()), started_at=T0)
        trace = log.turn(turn_id).trace
        assert sorted(trace["odd"]) == [1, 2] and trace["obj"].startswith("<object object")

    def test_turns_are_numbered_per_conversation_and_ids_are_global(self, log):
        ids = [log.record_turn(c, f"q{i}", answer(), started_at=T0) for i, c in enumerate(["a", "b", "a", "a"])]
        assert ids == sorted(ids) and len(set(ids)) == 4
        assert [t.ordinal for t in log.conversation("a")] == [1, 2, 3]
        assert [t.message for t in log.conversation("a")] == ["q0", "q2", "q3"]
        summary = {c.id: c.turn_count for c in log.conversations()}
        assert summary == {"a": 3, "b": 1}

    def test_refusal_and_emergency_turns(self, log):
        log.record_turn("c", "How much prednisolone?", Reply("refusal", "I can't help with doses.", "dosing"), started_at=T0)
        log.record_turn("c", "I can't breathe", Reply("emergency", "Call 112"), started_at=T0)
        assert [(t.kind, t.reason, t.quotes) for t in log.conversation("c")] == [
            ("refusal", "dosing", []), ("emergency", None, [])]


class TestFeedback:
    def test_thumbs_and_comment_are_stored_with_the_turn(self, log):
        turn_id = log.record_turn("c", "q", answer(), started_at=T0)
        assert log.set_feedback(turn_id, "down", conversation_id="c")
        assert log.set_feedback(turn_id, "down", "  Not what I asked. Reach me at a@b.org  ", conversation_id="c")
        t = log.turn(turn_id)
        assert (t.feedback, t.feedback_comment) == ("down", "Not what I asked. Reach me at [email]")
        assert t.feedback_at is not None

    def test_changing_the_thumb_keeps_the_comment_when_asked(self, log):
        turn_id = log.record_turn("c", "q", answer(), started_at=T0)
        log.set_feedback(turn_id, "down", "unclear")
        log.set_feedback(turn_id, "up", keep_comment=True)
        assert (log.turn(turn_id).feedback, log.turn(turn_id).feedback_comment) == ("up", "unclear")
        log.set_feedback(turn_id, None)
        assert (log.turn(turn_id).feedback, log.turn(turn_id).feedback_comment) == (None, None)

    def test_a_patient_cannot_rate_another_conversation(self, log):
        turn_id = log.record_turn("mine", "q", answer(), started_at=T0)
        assert not log.set_feedback(turn_id, "down", "spam", conversation_id="someone-else")
        assert log.turn(turn_id).feedback is None

    def test_comments_are_capped_and_ratings_checked(self, log):
        turn_id = log.record_turn("c", "q", answer(), started_at=T0)
        log.set_feedback(turn_id, "up", "x" * 5000)
        assert len(log.turn(turn_id).feedback_comment) == cl.MAX_COMMENT_CHARS
        with pytest.raises(ValueError):
            log.set_feedback(turn_id, "meh")


class TestStaffQueries:
    @pytest.fixture
    def filled(self, log):
        clock = Clock(T0)
        log.clock = clock
        log.record_turn("a", "What is it?", answer(), started_at=T0)
        log.record_turn("a", "How much prednisolone?", Reply("refusal", "No doses.", "dosing"), started_at=T0 + timedelta(hours=1))
        third = log.record_turn("b", "Does propolis cure it?", Reply("refusal", "No remedies.", "unproven_remedy"),
                                started_at=T0 + timedelta(days=1))
        log.set_feedback(third, "down", "why not")
        return log

    def test_filters(self, filled):
        log = filled
        assert [t.message for t in log.turns(kinds=["refusal"], newest_first=False)] == [
            "How much prednisolone?", "Does propolis cure it?"]
        assert [t.conversation_id for t in log.turns(reason="dosing")] == ["a"]
        assert [t.message for t in log.turns(feedback="down")] == ["Does propolis cure it?"]
        assert log.count_turns(feedback="none") == 2 and log.count_turns(feedback="any") == 1
        assert [t.message for t in log.turns(since=T0 + timedelta(minutes=30), until=T0 + timedelta(hours=2))] == [
            "How much prednisolone?"]
        assert [t.message for t in log.turns(text="PROPOLIS")] == ["Does propolis cure it?"]
        assert [t.message for t in log.turns(text="no doses")] == ["How much prednisolone?"]  # reply text too
        assert len(log.turns(limit=2)) == 2 and log.turns(limit=2, offset=2)[0].message == "What is it?"
        assert [c.id for c in log.conversations()] == ["b", "a"]

    def test_verdicts(self, filled):
        log = filled
        turn = log.turns(reason="dosing")[0]
        first = log.add_verdict(turn.id, "nurse.kim", "correct", "good refusal")
        second = log.add_verdict(turn.id, "dr.lee", "unsafe")
        assert second > first
        assert [(v.staff_user, v.verdict, v.note) for v in log.turn(turn.id).verdicts] == [
            ("nurse.kim", "correct", "good refusal"), ("dr.lee", "unsafe", "")]
        assert [len(t.verdicts) for t in log.turns(newest_first=False)] == [0, 2, 0]
        with pytest.raises(ValueError):
            log.add_verdict(turn.id, "dr.lee", "great")
        with pytest.raises(ValueError):
            log.add_verdict(turn.id, " ", "correct")
        with pytest.raises(KeyError):
            log.add_verdict(999_999, "dr.lee", "correct")

    def test_exports_page_through_every_turn_oldest_first(self, filled):
        log = filled
        assert [t.message for t in log.iter_turns(page_size=2)] == [
            "What is it?", "How much prednisolone?", "Does propolis cure it?"]
        assert [t.message for t in log.iter_turns(page_size=1, kinds=["refusal"])] == [
            "How much prednisolone?", "Does propolis cure it?"]
        assert list(log.iter_turns(text="nothing like this")) == []

    def test_dashboard_rows_and_reasons(self, filled):
        log = filled
        turn = log.turns(reason="dosing")[0]
        log.add_verdict(turn.id, "nurse.kim", "correct")
        log.add_verdict(turn.id, "dr.lee", "unsafe")
        rows = list(log.turn_summaries(T0, T0 + timedelta(days=1)))
        assert [(r.kind, r.feedback, r.verdict) for r in rows] == [("answer", None, None), ("refusal", None, "unsafe")]
        assert rows[0].created_at == T0
        assert [r.feedback for r in log.turn_summaries(T0, T0 + timedelta(days=2))][-1] == "down"
        assert log.reasons() == ["dosing", "unproven_remedy"]


class TestRetention:
    def test_old_conversations_are_pruned_with_their_turns_and_verdicts(self, db_url):
        clock = Clock(T0)
        log = ConversationLog(db_url, retention_days=30, clock=clock)
        old = log.record_turn("old", "q", answer(), started_at=T0, completed_at=T0)
        log.add_verdict(old, "nurse.kim", "correct")
        clock.now = T0 + timedelta(days=20)
        log.record_turn("recent", "q", answer(), started_at=clock.now, completed_at=clock.now)
        assert log.prune(T0 + timedelta(days=31)) == 1
        assert log.turn(old) is None and log.conversation("old") == []
        assert len(log.conversation("recent")) == 1
        with log.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM verdicts")).scalar() == 0
        # ids are never handed out again: a verdict can't end up on a different turn
        clock.now = T0 + timedelta(days=31)
        assert log.record_turn("new", "q", answer(), started_at=clock.now) > old
        log.close()

    def test_pruning_runs_by_itself_at_start_and_on_a_timer(self, db_url):
        clock = Clock(T0)
        log = ConversationLog(db_url, retention_days=1, clock=clock)
        log.record_turn("old", "q", answer(), started_at=T0, completed_at=T0)
        clock.now = T0 + timedelta(days=3)
        log.record_turn("new", "q", answer(), started_at=clock.now)
        assert {c.id for c in log.conversations()} == {"new", "old"}  # writing a turn never prunes
        with RetentionTimer(log, every=timedelta(milliseconds=50)):
            assert [c.id for c in log.conversations()] == ["new"]  # pruned at start
            log.record_turn("stale", "q", answer(), started_at=T0, completed_at=T0)
            for _ in range(200):  # ...and again on the timer
                if [c.id for c in log.conversations()] == ["new"]:
                    break
                threading.Event().wait(0.05)
            assert [c.id for c in log.conversations()] == ["new"]
        log.close()

    def test_the_timer_does_nothing_when_retention_is_off(self, log):
        log.record_turn("c", "q", answer(), started_at=T0 - timedelta(days=3650))
        with RetentionTimer(log) as timer:
            assert timer._thread is None
        assert log.count_turns() == 1
        with pytest.raises(ValueError):
            RetentionTimer(log, every=timedelta(0))

    def test_zero_keeps_everything(self, log):
        log.record_turn("c", "q", answer(), started_at=T0 - timedelta(days=3650))
        assert log.prune() == 0 and log.count_turns() == 1


def test_a_killed_process_loses_no_committed_turn(db_url):
    """SIGKILL right after `record_turn` returned (no close, no checkpoint): the turn is there."""
    script = textwrap.dedent(f"""
        import os, signal
        from datetime import datetime, timezone
        from bot.types import Reply
        from store.conversation_log import ConversationLog
        log = ConversationLog({db_url!r})
        for i in range(3):
            turn_id = log.record_turn("c", f"question {{i}}", Reply("answer", "text"),
                                      started_at=datetime.now(timezone.utc))
        print(turn_id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    last_id = int(proc.stdout.strip())
    log = ConversationLog(db_url)
    assert [t.message for t in log.conversation("c")] == ["question 0", "question 1", "question 2"]
    assert log.turn(last_id) is not None
    log.close()


def test_concurrent_writers_lose_nothing(log):
    def patient(n: int) -> None:
        for i in range(10):
            turn_id = log.record_turn(f"conv-{n}", f"q{i}", answer(), started_at=datetime.now(timezone.utc))
            log.set_feedback(turn_id, "up", conversation_id=f"conv-{n}")

    threads = [threading.Thread(target=patient, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert log.count_turns() == 80 and log.count_turns(feedback="up") == 80
    for n in range(8):
        assert [t.ordinal for t in log.conversation(f"conv-{n}")] == list(range(1, 11))


def test_conversation_ids_are_random_and_unguessable():
    ids = {cl.new_conversation_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(len(i) >= 20 for i in ids)
