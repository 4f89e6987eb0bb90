"""Staff sessions, stored beside the conversation log (real SQLite, a fake clock): only a keyed hash of the
token is stored; sessions end when idle, at their maximum age, at logout and for disabled users."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from fakeclock import Clock
from store import ConversationLog, SessionStore
from store.staff_sessions import staff_sessions_table



class TestSessions:
    @pytest.fixture
    def store(self, tmp_path):
        clock = Clock()
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'log.sqlite'}")
        return SessionStore(engine, b"k" * 32, lifetime=timedelta(hours=8), idle=timedelta(minutes=30), clock=clock), clock

    def test_the_database_holds_a_keyed_hash_not_the_token(self, store):
        sessions, _ = store
        token, session = sessions.start("alice")
        with sessions.engine.connect() as conn:
            stored = conn.execute(sa.select(staff_sessions_table.c.token_hash)).scalars().all()
        assert token not in stored and stored == [session.token_hash]
        assert sessions.get(token, lambda u: True).staff_user == "alice"
        assert sessions.get(token + "x", lambda u: True) is None and sessions.get("", lambda u: True) is None

    def test_idle_sessions_end_and_use_keeps_them_alive(self, store):
        sessions, clock = store
        token, _ = sessions.start("alice")
        for _ in range(3):
            clock.advance(minutes=29)
            assert sessions.get(token, lambda u: True)
        clock.advance(minutes=30)
        assert sessions.get(token, lambda u: True) is None
        clock.advance(seconds=-1)
        assert sessions.get(token, lambda u: True) is None  # ended stays ended

    def test_a_session_ends_at_its_maximum_age_even_when_busy(self, store):
        sessions, clock = store
        token, _ = sessions.start("alice")
        for _ in range(8 * 4 - 1):
            clock.advance(minutes=15)
            assert sessions.get(token, lambda u: True)
        clock.advance(minutes=15)
        assert sessions.get(token, lambda u: True) is None

    def test_logout_and_disabled_users_end_sessions(self, store):
        sessions, _ = store
        a, _ = sessions.start("alice")
        b, _ = sessions.start("bob")
        sessions.end(a)
        assert sessions.get(a, lambda u: True) is None
        assert sessions.get(b, lambda u: u != "bob") is None

    def test_csrf_tokens_are_per_session(self, store):
        sessions, _ = store
        _, one = sessions.start("alice")
        _, two = sessions.start("alice")
        assert one.csrf_ok(one.csrf_token) and not one.csrf_ok(two.csrf_token)
        assert not one.csrf_ok(None) and not one.csrf_ok("")

    def test_beside_a_log_shares_its_database(self, tmp_path):
        log = ConversationLog(f"sqlite:///{tmp_path / 'c.sqlite'}")
        sessions = SessionStore.beside(log, b"k" * 32, lifetime=timedelta(hours=8), idle=timedelta(minutes=30))
        token, _ = sessions.start("alice")
        assert sessions.get(token, lambda u: True).staff_user == "alice"
        assert "staff_sessions" in sa.inspect(log.engine).get_table_names()
        log.close()
