"""Staff accounts in the database beside the staff sessions, on real SQLite and a real PostgreSQL: only argon2
hashes are stored; what one process (a worker, `python -m staff`) adds or disables, another sees at once; the
accounts file of earlier versions is imported once into an empty table and never read again. (Logging in and
out of a running server: test_staff_security.py; several workers behind a load balancer: tests/cluster.)"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from staff.accounts import AccountError, StaffAccounts
from store import ConversationLog, StaffAccountRecords
from store.staff_accounts import staff_accounts_table

FAST = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)  # quick to run; the product uses the defaults
PASSWORD = "a very long passphrase"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Database:
    """One database (a SQLite file or a PostgreSQL database); `process()` is a new process's view of it: a log
    with its own engine and connections, and the accounts beside it."""

    def __init__(self, url: str) -> None:
        self.url, self._logs = url, []

    def process(self, hasher: PasswordHasher = FAST, **kw) -> StaffAccounts:
        log = ConversationLog(self.url)
        self._logs.append(log)
        return StaffAccounts(StaffAccountRecords.beside(log), hasher=hasher, **kw)

    def rows(self) -> list[dict]:
        engine = sa.create_engine(self.url)
        with engine.connect() as conn:
            found = [dict(r) for r in conn.execute(sa.select(staff_accounts_table)).mappings()]
        engine.dispose()
        return found

    def close(self) -> None:
        for log in self._logs:
            log.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'data' / 'conversations.sqlite'}" if request.param == "sqlite" \
        else request.getfixturevalue("pg_url")
    database = Database(url)
    yield database
    database.close()


def write_accounts_file(path, users: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 1, "users": users}))


class TestAccounts:
    def test_only_an_argon2_hash_is_stored_and_names_ignore_case(self, db):
        db.process().add("Alice", PASSWORD)
        [row] = db.rows()
        assert row["name"] == "alice" and row["password_hash"].startswith("$argon2id$")
        assert PASSWORD not in json.dumps(row, default=str)
        other = db.process()
        assert other.verify("ALICE", PASSWORD)
        assert not other.verify("alice", "a very long passphrasE")
        assert not other.verify("mallory", PASSWORD)

    def test_add_refuses_weak_passwords_bad_names_and_silent_replacement(self, db):
        accounts = db.process()
        with pytest.raises(AccountError, match="12 characters"):
            accounts.add("bob", "short")
        with pytest.raises(AccountError, match="user name"):
            accounts.add("bob smith", PASSWORD)
        accounts.add("bob", PASSWORD)
        with pytest.raises(AccountError, match="--replace"):
            db.process().add("BOB", "another long passphrase")
        assert accounts.verify("bob", PASSWORD)
        accounts.disable("bob")
        accounts.add("bob", "another long passphrase", replace=True)  # a new password, and enabled again
        assert accounts.verify("bob", "another long passphrase") and not accounts.verify("bob", PASSWORD)
        assert [r["name"] for r in db.rows()] == ["bob"]

    def test_a_disabled_user_is_refused_by_every_process_at_once(self, db):
        worker, cli = db.process(), db.process()
        assert not worker.configured()
        cli.add("carol", PASSWORD)
        assert worker.configured() and worker.is_active("Carol") and worker.verify("carol", PASSWORD)
        first = cli.disable("carol").disabled_at
        assert not worker.is_active("carol") and not worker.verify("carol", PASSWORD) and not worker.configured()
        assert cli.disable("carol").disabled_at == first  # disabled since the first time
        assert worker.accounts()["carol"].disabled
        with pytest.raises(AccountError, match="no staff user"):
            cli.disable("nobody")

    def test_a_hash_made_with_weaker_parameters_is_upgraded_at_login(self, db):
        db.process().add("dave", PASSWORD)
        strong = db.process(PasswordHasher(time_cost=2, memory_cost=8 * 1024, parallelism=1))
        assert strong.verify("dave", PASSWORD)
        [row] = db.rows()
        assert ",t=2," in row["password_hash"] and strong.verify("dave", PASSWORD)

    def test_an_upgrade_at_login_never_undoes_a_password_set_meanwhile(self, db):
        accounts = db.process()
        accounts.add("dave", PASSWORD)
        old = accounts.records.get("dave").password_hash
        accounts.add("dave", "a newer long passphrase", replace=True)  # another host, while dave logs in
        assert not accounts.records.set_password("dave", FAST.hash(PASSWORD), if_hash=old)
        assert accounts.verify("dave", "a newer long passphrase") and not accounts.verify("dave", PASSWORD)


class TestTheCommandLine:
    def test_users_added_and_disabled_by_python_m_staff_count_in_a_running_process(self, db, tmp_path):
        """`python -m staff` with a worker's settings (VERBATIM_DATABASE_URL, or the data dir's SQLite log)
        changes what a worker that is already running accepts."""
        if db.url.startswith("sqlite"):
            settings = {"VERBATIM_DATA_DIR": str(tmp_path / "data"), "VERBATIM_DATABASE_URL": ""}
        else:
            settings = {"VERBATIM_DATA_DIR": str(tmp_path / "cli-host-data"), "VERBATIM_DATABASE_URL": db.url}
        env = {**os.environ, **settings}

        def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "staff", *args], cwd=REPO_ROOT, env=env, input=stdin,
                                  capture_output=True, text=True, timeout=120)

        worker = db.process()
        added = cli("add-user", "Erin", "--password-stdin", stdin="a long enough passphrase\n")
        assert added.returncode == 0, added.stderr
        assert worker.verify("erin", "a long enough passphrase")
        again = cli("add-user", "erin", "--password-stdin", stdin="another long passphrase\n")
        assert again.returncode == 1 and "--replace" in again.stderr
        disabled = cli("disable-user", "erin")
        assert disabled.returncode == 0, disabled.stderr
        assert not worker.is_active("erin") and not worker.verify("erin", "a long enough passphrase")
        listed = cli("list-users")
        assert listed.returncode == 0 and listed.stdout.startswith("erin\tdisabled since ")
        assert "a long enough passphrase" not in json.dumps(db.rows(), default=str)


class TestTheAccountsFileOfEarlierVersions:
    def test_it_is_imported_once_into_an_empty_table_and_never_read_again(self, db, tmp_path, caplog):
        file = tmp_path / "config" / "staff_users.json"
        write_accounts_file(file, {
            "Bob": {"hash": FAST.hash(PASSWORD), "disabled": False, "created_at": "2025-07-04T09:00:00+00:00"},
            "carl": {"hash": FAST.hash(PASSWORD), "disabled": True, "created_at": "2025-07-04T09:00:00+00:00",
                     "disabled_at": "2025-08-01T10:00:00+00:00"},
            "eve": {"hash": "a plaintext password", "disabled": False},  # never an argon2 hash: left out
        })
        with caplog.at_level(logging.INFO, logger="verbatim.staff"):
            first = db.process(import_from=file)
        assert first.imported == 2
        assert f"imported 2 staff account(s) from {file}" in caplog.text
        assert first.verify("bob", PASSWORD) and not first.verify("carl", PASSWORD)
        carl = first.accounts()["carl"]
        assert carl.disabled and carl.disabled_at.isoformat() == "2025-08-01T10:00:00+00:00"
        assert sorted(first.accounts()) == ["bob", "carl"]
        assert "a plaintext password" not in json.dumps(db.rows(), default=str)

        # the next start (this host or another) finds accounts and leaves the file alone
        first.disable("bob")
        write_accounts_file(file, {"dave": {"hash": FAST.hash(PASSWORD), "disabled": False}})
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="verbatim.staff"):
            later = db.process(import_from=file)
        assert later.imported == 0 and "is not read" in caplog.text
        assert sorted(later.accounts()) == ["bob", "carl"] and not later.is_active("bob")
        assert not later.verify("dave", PASSWORD)

    def test_an_unreadable_file_imports_nothing_and_says_so_until_it_is_fixed(self, db, tmp_path, caplog):
        file = tmp_path / "staff_users.json"
        file.write_text("{not json")
        with caplog.at_level(logging.WARNING, logger="verbatim.staff"):
            broken = db.process(import_from=file)
        assert broken.imported == 0 and not broken.configured() and not broken.verify("alice", PASSWORD)
        assert "cannot be read" in caplog.text and file.read_text() == "{not json"  # never rewritten
        write_accounts_file(file, {"alice": {"hash": FAST.hash(PASSWORD)}})
        assert db.process(import_from=file).imported == 1 and broken.verify("alice", PASSWORD)

    def test_no_file_no_import(self, db, tmp_path):
        accounts = db.process(import_from=tmp_path / "missing.json")
        assert accounts.imported == 0 and accounts.accounts() == {}


def test_a_new_sqlite_database_is_readable_by_its_owner_only(tmp_path):
    """It holds the staff password hashes (and patients' messages); the accounts file used to be 0600 too."""
    log = ConversationLog(f"sqlite:///{tmp_path / 'data' / 'conversations.sqlite'}")
    StaffAccounts(StaffAccountRecords.beside(log), hasher=FAST).add("alice", PASSWORD)
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in (tmp_path / "data").iterdir()}
    log.close()
    assert modes["conversations.sqlite"] == "0o600" and set(modes.values()) == {"0o600"}, modes
