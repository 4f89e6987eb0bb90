"""Staff accounts: a JSON file of argon2id password hashes (argon2-cffi), never a password.

    {"version": 1, "users": {"alice": {"hash": "$argon2id$v=19$...", "disabled": false,
                                       "created_at": "2025-07-04T09:00:00+00:00", "disabled_at": null}}}

The file is configuration, managed with `python -m staff add-user / disable-user / list-users`. The server
re-reads it when it changes (size or modification time), so adding or disabling a user takes effect without a
restart; a disabled user's open sessions end at their next request. Writes are atomic (temp file + rename)
and the file is created readable by its owner only.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024  # argon2 takes any length; a cap keeps a request from costing arbitrary memory


class AccountError(ValueError):
    """A user-facing problem with an account command (the CLI prints it and exits with 1)."""


@dataclass(frozen=True)
class Account:
    name: str
    password_hash: str
    disabled: bool
    created_at: str
    disabled_at: str | None = None


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
    """The users file: read (cached until the file changes), verify passwords, add and disable users."""

    def __init__(self, path: Path, hasher: PasswordHasher | None = None) -> None:
        self.path = Path(path)
        self.hasher = hasher or PasswordHasher()  # argon2id with the library's current recommended parameters
        self._lock = threading.Lock()
        self._cache: tuple[tuple[int, int] | None, dict[str, Account]] = (None, {})
        # verifying against this when the user does not exist costs the same time as a real check, so the
        # response time does not tell an attacker which names exist
        self._dummy_hash = self.hasher.hash("not a real password: timing equaliser")

    # ---- reading --------------------------------------------------------------------------------------
    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_size

    def accounts(self) -> dict[str, Account]:
        """All accounts, disabled ones included. A missing file means no accounts."""
        with self._lock:
            stamp = self._stamp()
            if stamp == self._cache[0]:
                return self._cache[1]
            accounts = self._read() if stamp is not None else {}
            self._cache = (stamp, accounts)
            return accounts

    def _read(self) -> dict[str, Account]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AccountError(f"the staff users file {self.path} cannot be read: {exc}") from exc
        users = data.get("users") if isinstance(data, dict) else None
        if not isinstance(users, dict):
            raise AccountError(f"the staff users file {self.path} has no 'users' object")
        out = {}
        for name, entry in users.items():
            if isinstance(entry, dict) and isinstance(entry.get("hash"), str) and entry["hash"].startswith("$argon2"):
                out[normalise_name(name)] = Account(normalise_name(name), entry["hash"], bool(entry.get("disabled")),
                                                    str(entry.get("created_at", "")), entry.get("disabled_at"))
        return out

    def active(self) -> dict[str, Account]:
        return {n: a for n, a in self.accounts().items() if not a.disabled}

    def configured(self) -> bool:
        """Whether at least one enabled account exists (else the console shows nothing)."""
        try:
            return bool(self.active())
        except AccountError:
            return False

    def is_active(self, name: str) -> bool:
        try:
            return normalise_name(name) in self.active()
        except AccountError:
            return False  # an unreadable users file locks everyone out: fail closed

    def verify(self, name: str, password: str) -> bool:
        """True when `name` is an enabled account and `password` is its password. Constant work either way."""
        try:
            account = self.active().get(normalise_name(name))
        except AccountError:
            account = None
        password = (password or "")[:MAX_PASSWORD_CHARS]
        try:
            ok = self.hasher.verify(account.password_hash if account else self._dummy_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        if not account:
            return False
        if ok and self.hasher.check_needs_rehash(account.password_hash):
            try:  # parameters were raised since this hash was made: upgrade it now that we know the password
                self._update(account.name, lambda e: {**e, "hash": self.hasher.hash(password)})
            except OSError:
                pass
        return ok

    # ---- writing (the CLI) ----------------------------------------------------------------------------
    def add(self, name: str, password: str, *, replace: bool = False) -> Account:
        name, password = check_name(name), check_password(password)
        data = self._load_for_write()
        existing = data["users"].get(name)
        if existing and not replace:
            raise AccountError(f"the user {name!r} exists; use --replace to set a new password (and re-enable it)")
        data["users"][name] = {"hash": self.hasher.hash(password), "disabled": False,
                               "created_at": _now(), "disabled_at": None}
        self._write(data)
        return self.accounts()[name]

    def disable(self, name: str) -> Account:
        name = normalise_name(name)

        def off(entry: dict[str, Any]) -> dict[str, Any]:
            return {**entry, "disabled": True, "disabled_at": entry.get("disabled_at") or _now()}

        self._update(name, off)
        return self.accounts()[name]

    def _update(self, name: str, change) -> None:
        data = self._load_for_write()
        if name not in data["users"]:
            raise AccountError(f"there is no staff user {name!r}")
        data["users"][name] = change(data["users"][name])
        self._write(data)

    def _load_for_write(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"version": 1, "users": {}}
        self._read()  # refuse to overwrite a file we cannot understand
        data = json.loads(self.path.read_text(encoding="utf-8"))
        data["users"] = {normalise_name(k): v for k, v in data["users"].items()}
        return data

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".staff_users.", dir=self.path.parent)  # created with mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=2, sort_keys=True)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()
