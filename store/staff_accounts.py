"""Staff accounts, one row per user in the same database as the staff sessions (table `staff_accounts`), so
every worker sharing that database sees an account the moment `python -m staff` adds or disables it, on
whichever host it ran.

Only what is stored and how it changes safely lives here; the rules (names, password length, argon2id) are the
console's (`staff.accounts.StaffAccounts`). The row holds an argon2 hash, never a password.

Unlike the sessions and login-failure counts beside them, these rows are not disposable: dropping the table
locks every staff member out until accounts are added again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ingest.database import schema_lock

from .conversation_log import ConversationLog, UTCDateTime
from .staff_sessions import create_staff_tables, insert_if_missing, staff_metadata

staff_accounts_table = sa.Table(
    "staff_accounts",
    staff_metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("password_hash", sa.String(512), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("disabled_at", UTCDateTime),
)


@dataclass(frozen=True)
class StaffAccount:
    name: str
    password_hash: str
    disabled: bool
    created_at: datetime
    disabled_at: datetime | None = None


class StaffAccountRecords:
    """The accounts table. Every call reads or writes the database: no cache, so a change made through another
    process counts at the next request."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_staff_tables(engine)

    @classmethod
    def beside(cls, conversation_log: ConversationLog) -> "StaffAccountRecords":
        """In the same database as the conversation log and the staff sessions."""
        return cls(conversation_log.engine)

    def all(self) -> dict[str, StaffAccount]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(staff_accounts_table)).mappings().all()
        return {row["name"]: _account(row) for row in rows}

    def get(self, name: str) -> StaffAccount | None:
        t = staff_accounts_table
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.name == name)).mappings().first()
        return _account(row) if row is not None else None

    def add(self, account: StaffAccount) -> bool:
        """Store a new account; False (and nothing changed) when the name is taken."""
        with self.engine.begin() as conn:
            return insert_if_missing(conn, staff_accounts_table, _row(account))

    def set_password(self, name: str, password_hash: str, *, if_hash: str | None = None, enable: bool = False) -> bool:
        """A new hash for `name`; with `enable`, the account is enabled again too. With `if_hash`, only if the
        stored hash is still that one (a hash upgraded at login must not undo a password set meanwhile).
        False when nothing matched."""
        t = staff_accounts_table
        where = t.c.name == name
        if if_hash is not None:
            where &= t.c.password_hash == if_hash
        values = {"password_hash": password_hash, **({"disabled": False, "disabled_at": None} if enable else {})}
        with self.engine.begin() as conn:
            return conn.execute(t.update().where(where).values(**values)).rowcount == 1

    def disable(self, name: str, at: datetime) -> bool:
        """Disable `name` (an account disabled already keeps its first `disabled_at`); False when unknown."""
        t = staff_accounts_table
        with self.engine.begin() as conn:
            return conn.execute(t.update().where(t.c.name == name).values(
                disabled=True, disabled_at=sa.func.coalesce(t.c.disabled_at, sa.literal(at, UTCDateTime())))).rowcount == 1

    def import_once(self, accounts: Iterable[StaffAccount]) -> int:
        """Store `accounts` if the table holds none yet (the upgrade from the accounts file); returns how many
        were stored, 0 when there were accounts already. Under the schema lock, so of several workers starting
        together on PostgreSQL exactly one imports."""
        t = staff_accounts_table
        try:
            with self.engine.begin() as conn:
                schema_lock(conn)
                if conn.execute(sa.select(t.c.name).limit(1)).first() is not None:
                    return 0
                rows = [_row(a) for a in accounts]
                if rows:
                    conn.execute(t.insert(), rows)
                return len(rows)
        except sa.exc.IntegrityError:
            # SQLite has no schema lock: another process on this host imported the same file at the same moment
            return 0


def _row(account: StaffAccount) -> dict:
    return {"name": account.name, "password_hash": account.password_hash, "disabled": account.disabled,
            "created_at": account.created_at, "disabled_at": account.disabled_at}


def _account(row) -> StaffAccount:
    return StaffAccount(row["name"], row["password_hash"], bool(row["disabled"]), row["created_at"],
                        row["disabled_at"])
