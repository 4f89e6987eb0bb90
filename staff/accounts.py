"""Staff accounts: names and argon2id password hashes (argon2-cffi), never a password, stored in the database
the staff sessions live in (`store.StaffAccountRecords`): SQLite under data/ by default, the workers' PostgreSQL
when `VERBATIM_DATABASE_URL` is set. Managed with `python -m staff add-user / disable-user / list-users` on any
host with the workers' settings; every worker reads the table at each request, so a new user can log in at once
and a disabled user is refused, and their open sessions end, on every worker at their next request.

Upgrading from the accounts file of earlier versions (`VERBATIM_STAFF_USERS_FILE`, default
data/staff_users.json): when the table holds no account yet and that file exists, its argon2 hashes are imported
once (entries without one are skipped) and the log says so; after that the file is never read again.

    {"version": 1, "users": {"alice": {"hash": "$argon2id$v=19$...", "disabled": false,
                                       "created_at": "2025-07-04T09:00:00+00:00", "disabled_at": null}}}
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timezone
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from store import StaffAccount, StaffAccountRecords, utcnow

log = logging.getLogger("verbatim.staff")

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024  # argon2 takes any length; a cap keeps a request from costing arbitrary memory


class AccountError(ValueError):
    """A user-facing problem with an account command (the CLI prints it and exits with 1)."""


def normalise_name(name: str) -> str:
    """Names are case-insensitive: 'Alice' and 'alice' are one account."""
    return (name or "").strip().lower()


def check_name(name: str) -> str:
    name = normalise_name(name)
    if not USERNAME.match(name):
        raise AccountError("a user name is 1–64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"a staff password needs at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise AccountError(f"a staff password has at most {MAX_PASSWORD_CHARS} characters")
    return password


class StaffAccounts:
    """Verify passwords, add and disable users; the accounts themselves are `records`' rows."""

    def __init__(self, records: StaffAccountRecords, *, import_from: Path | None = None,
                 hasher: PasswordHasher | None = None) -> None:
        self.records = records
        self.hasher = hasher or PasswordHasher()  # argon2id with the library's current recommended parameters
        # verifying against this when the user does not exist costs the same time as a real check, so the
        # response time does not tell an attacker which names exist
        self._dummy_hash = self.hasher.hash("not a real password: timing equaliser")
        self.imported = self._import(Path(import_from)) if import_from else 0

    # ---- reading --------------------------------------------------------------------------------------
    def accounts(self) -> dict[str, StaffAccount]:
        """All accounts, disabled ones included."""
        return self.records.all()

    def configured(self) -> bool:
        """Whether at least one enabled account exists (else the console shows nothing)."""
        return any(not a.disabled for a in self.records.all().values())

    def is_active(self, name: str) -> bool:
        account = self.records.get(normalise_name(name))
        return account is not None and not account.disabled

    def verify(self, name: str, password: str) -> bool:
        """True when `name` is an enabled account and `password` is its password. Constant work either way."""
        account = self.records.get(normalise_name(name))
        if account is not None and account.disabled:
            account = None
        password = (password or "")[:MAX_PASSWORD_CHARS]
        try:
            ok = self.hasher.verify(account.password_hash if account else self._dummy_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        if not account:
            return False
        if ok and self.hasher.check_needs_rehash(account.password_hash):
            # parameters were raised since this hash was made: upgrade it now that we know the password
            self.records.set_password(account.name, self.hasher.hash(password), if_hash=account.password_hash)
        return ok

    # ---- writing (the CLI) ----------------------------------------------------------------------------
    def add(self, name: str, password: str, *, replace: bool = False) -> StaffAccount:
        name, password = check_name(name), check_password(password)
        password_hash = self.hasher.hash(password)
        if not self.records.add(StaffAccount(name, password_hash, False, utcnow())):
            if not replace:
                raise AccountError(f"the user {name!r} exists; use --replace to set a new password (and re-enable it)")
            self.records.set_password(name, password_hash, enable=True)
        return self.records.get(name)

    def disable(self, name: str) -> StaffAccount:
        name = normalise_name(name)
        if not self.records.disable(name, utcnow()):
            raise AccountError(f"there is no staff user {name!r}")
        return self.records.get(name)

    # ---- the upgrade from the accounts file -----------------------------------------------------------
    def _import(self, path: Path) -> int:
        if not path.exists():
            return 0
        if self.records.all():
            log.info("%s is not read: the staff accounts are in the database (`python -m staff list-users`)", path)
            return 0
        try:
            accounts = read_accounts_file(path)
        except AccountError as exc:
            log.warning("%s; no staff account imported from it (fix or remove it, or add accounts with "
                        "`python -m staff add-user NAME`)", exc)
            return 0
        count = self.records.import_once(accounts)
        if count:
            log.warning("imported %d staff account(s) from %s into the database; the file is no longer read and "
                        "can be deleted", count, path)
        return count


def read_accounts_file(path: Path) -> list[StaffAccount]:
    """The accounts in an accounts file of an earlier version; entries without an argon2 hash are left out."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AccountError(f"the staff accounts file {path} cannot be read: {exc}") from exc
    users = data.get("users") if isinstance(data, dict) else None
    if not isinstance(users, dict):
        raise AccountError(f"the staff accounts file {path} has no 'users' object")
    found = {}
    for raw_name, entry in users.items():
        name = normalise_name(raw_name)
        if USERNAME.match(name) and isinstance(entry, dict) and str(entry.get("hash", "")).startswith("$argon2"):
            disabled = bool(entry.get("disabled"))
            found[name] = StaffAccount(name, entry["hash"], disabled, _time(entry.get("created_at")) or utcnow(),
                                       (_time(entry.get("disabled_at")) or utcnow()) if disabled else None)
    return list(found.values())


def _time(value) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
