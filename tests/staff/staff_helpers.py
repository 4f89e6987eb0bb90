"""Helpers for the staff console tests (imported by conftest and the test modules)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"
# alice: the everyday staff user; dave: a second session; bob, carol: targets of the failed-login tests (kept
# apart, so their lockouts never get in the way of other tests)
USERS = ("alice", "bob", "carol", "dave")
IDLE_SECONDS = 10  # a session unused this long has ended (production default: 30 min)
LOCKOUT_SECONDS = 2  # first pause after 5 failed logins (production default: 60 s)


@dataclass
class StaffServer:
    url: str  # http://127.0.0.1:PORT/
    data_dir: Path
    log_path: Path
    proc: subprocess.Popen | None
    env: dict

    @property
    def staff(self) -> str:
        return self.url + "staff"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.data_dir / 'conversations.sqlite'}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def server_accounts(server: StaffServer):
    """The server's staff accounts, opened from the test process with an engine of its own, as `python -m
    staff` opens them (before the server starts, too); dispose of `.records.engine` when done."""
    from staff.accounts import StaffAccounts
    from store import ConversationLog, StaffAccountRecords

    return StaffAccounts(StaffAccountRecords.beside(ConversationLog(server.database_url)))


def login_token(html: str) -> str:
    return re.search(r'name="login_token" value="([^"]+)"', html).group(1)


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


class StaffClient:
    """A staff member's browser, minus the browser: cookies kept, redirects not followed."""

    def __init__(self, server: StaffServer) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.url.rstrip("/"), follow_redirects=False, timeout=60)

    def login(self, name: str = "alice", password: str = PASSWORD, **headers) -> httpx.Response:
        form = self.http.get("/staff/login")
        return self.http.post("/staff/login", headers=headers, data={
            "username": name, "password": password, "login_token": login_token(form.text), "next": "/staff/"})

    def get(self, path: str, **kw) -> httpx.Response:
        return self.http.get(path, **kw)

    def post(self, path: str, data: dict, **kw) -> httpx.Response:
        return self.http.post(path, data=data, **kw)

    def csrf(self) -> str:
        return csrf_token(self.get("/staff/try").text)

    def close(self) -> None:
        self.http.close()
