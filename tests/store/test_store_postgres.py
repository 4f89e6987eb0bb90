"""Shared state on a real PostgreSQL, as several workers use it: each "worker" here is its own SQLAlchemy
engine (its own connections), as in separate processes. Schema creation and migration happen once however
many start together, and so does the import of an old staff accounts file; one worker prunes at a time; staff
sessions and login-failure counts are seen by all (staff accounts: tests/staff/test_staff_accounts.py)."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from bot.types import Reply
from fakeclock import Clock
from staff.accounts import StaffAccounts
from staff.throttle import LoginThrottle
from store import ConversationLog, LoginFailures, SessionStore, StaffAccountRecords
from store import conversation_log as cl
from store.locks import HOUSEKEEPING_LOCK_KEY
from store.retention import RetentionTimer
from test_store_conversation_log import T0, answer


def together(n: int, start) -> list:
    """Run `start(i)` in n threads released at the same moment; returns results (exceptions re-raised)."""
    barrier, results, errors = threading.Barrier(n), [None] * n, []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = start(i)
        except Exception as exc:  # collected: a failing worker must fail the test, not vanish with its thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def versions(url: str) -> list[int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = [r[0] for r in conn.execute(sa.text("SELECT version FROM schema_version ORDER BY version"))]
    engine.dispose()
    return found


def test_workers_starting_together_create_the_schema_once(pg_url):
    def worker(i: int):
        log = ConversationLog(pg_url)
        SessionStore.beside(log, b"k" * 32, lifetime=timedelta(hours=1), idle=timedelta(minutes=5))
        LoginFailures.beside(log)
        return log

    logs = together(6, worker)
    assert versions(pg_url) == [cl.SCHEMA_VERSION]
    ids = [log.record_turn(f"c{i}", "q", answer(), started_at=T0) for i, log in enumerate(logs)]
    assert len(set(ids)) == 6 and logs[0].count_turns() == 6
    for log in logs:
        log.close()


def test_workers_starting_together_import_an_old_accounts_file_once(pg_url, tmp_path):
    """An upgrade: every worker, each on its own host with its own accounts file, finds the accounts table
    empty. One imports its file (under the schema lock), the others then find accounts and import nothing:
    the table holds one host's accounts, not a mix."""
    hasher = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    files = []
    for i in range(4):
        files.append(tmp_path / f"host{i}" / "staff_users.json")
        files[-1].parent.mkdir()
        files[-1].write_text(json.dumps({"version": 1, "users": {
            name: {"hash": hasher.hash("a very long passphrase")} for name in ("alice", f"host{i}-admin")}}))

    def worker(i: int):
        log = ConversationLog(pg_url)
        return log, StaffAccounts(StaffAccountRecords.beside(log), import_from=files[i], hasher=hasher)

    started = together(4, worker)
    imported = [accounts.imported for _, accounts in started]
    assert sorted(imported) == [0, 0, 0, 2]
    importer = imported.index(2)
    for _, accounts in started:
        assert sorted(accounts.accounts()) == ["alice", f"host{importer}-admin"]
    for log, _ in started:
        log.close()


def test_workers_starting_together_migrate_an_old_log_once(pg_url):
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:  # a version 1 log: no verdicts table yet
        cl.metadata.create_all(conn, tables=[cl.schema_version_table, cl.conversations_table, cl.turns_table])
        conn.execute(cl.schema_version_table.insert().values(version=1, applied_at=T0))
    engine.dispose()
    logs = together(4, lambda i: ConversationLog(pg_url))
    assert [log.schema_version for log in logs] == [2] * 4
    assert versions(pg_url) == [1, 2]
    turn = logs[1].record_turn("c", "q", answer(), started_at=T0)
    logs[2].add_verdict(turn, "nurse.kim", "correct")
    assert [v.verdict for v in logs[3].verdicts(turn)] == ["correct"]
    for log in logs:
        log.close()


def test_one_worker_prunes_at_a_time(pg_url):
    clock = Clock(T0)
    log = ConversationLog(pg_url, retention_days=1, clock=clock)
    log.record_turn("old", "q", answer(), started_at=T0, completed_at=T0)
    other_worker = sa.create_engine(pg_url)
    with other_worker.begin() as conn:  # another worker is pruning right now
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": HOUSEKEEPING_LOCK_KEY})
        assert log.prune(T0 + timedelta(days=3)) == 0
        assert [c.id for c in log.conversations()] == ["old"]
    assert log.prune(T0 + timedelta(days=3)) == 1  # its turn is over: this one prunes
    assert log.conversations() == []
    other_worker.dispose()
    log.close()


def test_only_one_worker_runs_retention_until_it_stops_or_dies(pg_url):
    """Every worker has a retention timer; only the leader prunes. When it stops, or its connection dies with
    it, the next worker's timer takes over."""
    workers = [ConversationLog(pg_url, retention_days=1) for _ in range(3)]
    timers = [RetentionTimer(log) for log in workers]

    def old(conversation: str) -> None:
        workers[0].record_turn(conversation, "q", answer(), started_at=T0, completed_at=T0)

    old("first")
    assert [t.prune_once() for t in timers] == [1, 0, 0]  # the first to try leads
    old("second")
    assert [t.prune_once() for t in timers[1:]] == [0, 0]  # the others prune nothing while it leads
    assert [c.id for c in workers[0].conversations()] == ["second"]

    timers[0].stop()  # a clean shutdown hands over
    assert timers[1].prune_once() == 1 and timers[2].prune_once() == 0
    old("third")
    with workers[2].engine.begin() as conn:  # the leader's worker dies: PostgreSQL ends its session
        terminated = conn.execute(sa.text(
            "SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
            "WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()")).scalars().all()
    assert terminated == [True]
    held = "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database " \
           "WHERE l.locktype = 'advisory' AND d.datname = current_database()"
    for _ in range(100):  # the terminated session exits, and its lock goes with it
        with workers[2].engine.connect() as conn:
            if conn.execute(sa.text(held)).scalar() == 0:
                break
        time.sleep(0.1)
    assert timers[2].prune_once() == 1  # taken over
    assert timers[1].prune_once() == 0  # the old leader finds its lock gone and does not take it back
    assert workers[0].conversations() == []
    for t in timers:
        t.stop()
    for log in workers:
        log.close()


def test_a_staff_session_started_on_one_worker_is_valid_on_another(pg_url):
    a, b = ConversationLog(pg_url), ConversationLog(pg_url)
    kw = {"lifetime": timedelta(hours=1), "idle": timedelta(minutes=5)}
    on_a = SessionStore.beside(a, b"shared secret" * 3, **kw)
    on_b = SessionStore.beside(b, b"shared secret" * 3, **kw)
    other_key = SessionStore.beside(b, b"another secret" * 3, **kw)
    token, session = on_a.start("alice")
    assert on_b.get(token, lambda u: True).token_hash == session.token_hash
    assert other_key.get(token, lambda u: True) is None  # workers must share VERBATIM_STAFF_SECRET
    on_b.end(token)
    assert on_a.get(token, lambda u: True) is None  # logout on one worker ends it on all
    a.close(), b.close()


def test_login_failures_on_one_worker_lock_the_user_on_another(pg_url):
    clock = Clock(T0)
    a, b = ConversationLog(pg_url), ConversationLog(pg_url)
    on_a = LoginThrottle(3, timedelta(seconds=60), clock=clock, records=LoginFailures.beside(a))
    on_b = LoginThrottle(3, timedelta(seconds=60), clock=clock, records=LoginFailures.beside(b))
    on_a.failed("bob", "10.0.0.1")
    on_b.failed("bob", "10.0.0.1")
    assert on_a.retry_after("bob", "10.0.0.1") == 0
    on_a.failed("bob", "10.0.0.1")
    assert on_b.retry_after("bob", "10.0.0.1") == 60
    clock.advance(seconds=60)
    on_b.failed("bob", "10.0.0.1")  # the pause doubles, whichever worker counts
    assert on_a.retry_after("bob", "10.0.0.1") == 120
    a.close(), b.close()


def test_failures_counted_by_several_workers_at_once_are_all_counted(pg_url):
    """Read-modify-write under a row lock: no failure is lost when workers count the same user at once."""
    logs = [ConversationLog(pg_url) for _ in range(4)]
    throttles = [LoginThrottle(1000, timedelta(seconds=60), records=LoginFailures.beside(log)) for log in logs]

    def worker(i: int) -> None:
        for _ in range(10):
            throttles[i].failed("carol", "10.0.0.9")

    together(4, worker)
    counts = LoginFailures.beside(logs[0]).get([("carol", "10.0.0.9"), ("carol", "*")])
    assert {k: r.count for k, r in counts.items()} == {("carol", "10.0.0.9"): 40, ("carol", "*"): 40}
    for log in logs:
        log.close()


def test_two_workers_writing_at_once_store_every_turn_once(pg_url):
    """Two workers write turns of different conversations at once; every turn is stored once."""
    logs = [ConversationLog(pg_url) for _ in range(2)]

    def worker(i: int) -> list[int]:
        return [logs[i].record_turn(f"conv-{i}-{n % 3}", f"q{n}", Reply("answer", "text"), started_at=T0)
                for n in range(15)]

    ids = [i for batch in together(2, worker) for i in batch]
    assert len(ids) == len(set(ids)) == 30 and logs[0].count_turns() == 30
    for i in range(2):
        for n in range(3):
            assert [t.ordinal for t in logs[1].conversation(f"conv-{i}-{n}")] == [1, 2, 3, 4, 5]
    for log in logs:
        log.close()


@pytest.mark.parametrize("field", ["message", "comment"])
def test_a_nul_character_a_patient_types_is_stored_not_refused(pg_url, field):
    """PostgreSQL refuses NUL in text; the log stores U+FFFD in its place instead of losing the turn."""
    log = ConversationLog(pg_url)
    typed = "what is\x00 it"
    turn = log.record_turn("c", typed if field == "message" else "q", answer(query=typed), started_at=T0)
    if field == "comment":
        assert log.set_feedback(turn, "down", typed, conversation_id="c")
    stored = log.turn(turn)
    assert (stored.message if field == "message" else stored.feedback_comment) == "what is\ufffd it"
    assert stored.trace["query"] == "what is\ufffd it"
    log.close()
