"""The staff console attacked from outside: httpx and gradio_client against the real server on loopback, no
browser. Without a staff session nothing under /staff can be read or changed; the patient app exposes no staff
function; patients cannot read each other's turns; sessions end; repeated failed logins are slowed down."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import httpx
import pytest

from staff.cli import main as staff_cli
from staff.console import PUBLIC, router

from benchmarks.app_server import Patient
from staff_helpers import IDLE_SECONDS, PASSWORD, REPO_ROOT, USERS, StaffClient, login_token, server_accounts

pytestmark = pytest.mark.slow

# web.page's handlers ("partial" = `accept` bound to an example question; "unnamed" = the page's own JS)
PATIENT_HANDLERS = {"send", "respond", "partial", "rate", "comment", "close_comment", "new_conversation", "reset",
                    "unnamed"}
STAFF_WORDS = ("staff", "verdict", "export", "trace", "turn", "login", "library", "dashboard", "try")


def staff_routes(turn_id: int, source: str) -> list[tuple[str, str]]:
    """Every (method, path) the console serves, from its own router (a new route is covered automatically)."""
    out = []
    for route in router.routes:
        path = "/staff" + route.path.replace("{turn_id}", str(turn_id)).replace("{source}", source)
        for method in sorted(route.methods - {"HEAD"}):
            if (method, route.path) not in PUBLIC:
                out.append((method, path))
    return out


@pytest.fixture(scope="module")
def secret_bits(patient_turns):
    """Text that must never reach someone without a staff session."""
    t = patient_turns["diagnosed"]
    return [t.message, t.trace["query"]["condensed"], t.trace["candidates"][0]["chunk_id"], patient_turns["treated"].message]


def assert_nothing_leaks(response: httpx.Response, secret_bits: list[str]) -> None:
    for bit in secret_bits:
        assert bit not in response.text


class TestWithoutAStaffSession:
    def test_every_route_answers_303_to_the_login_or_401(self, anonymous, patient_turns, secret_bits, server_log):
        turn = patient_turns["diagnosed"]
        routes = staff_routes(turn.id, "002_9009d71acc615b7f.txt")
        assert {p for _, p in routes} >= {"/staff/", "/staff/export.csv", "/staff/export.jsonl", f"/staff/turns/{turn.id}",
                                          f"/staff/turns/{turn.id}/verdict", "/staff/library", "/staff/try", "/staff/dashboard"}
        verdicts_before = len(server_log.verdicts(turn.id))
        cookies = [None, {"vb_staff": "forged-" + "x" * 40}, {"vb_staff": ""}]
        for method, path in routes:
            for jar in cookies:
                anonymous.http.cookies.clear()
                if jar:
                    anonymous.http.cookies.update(jar)
                r = anonymous.http.request(method, path, data={"verdict": "unsafe", "note": "attack", "message": "hi",
                                                              "csrf_token": "guess"} if method == "POST" else None)
                if method == "GET":
                    assert r.status_code == 303, (method, path, r.status_code)
                    assert r.headers["location"].startswith("/staff/login?next="), r.headers["location"]
                else:
                    assert r.status_code == 401, (method, path, r.status_code)
                assert_nothing_leaks(r, secret_bits)
        assert len(server_log.verdicts(turn.id)) == verdicts_before

    def test_odd_spellings_of_staff_paths_reach_nothing(self, anonymous, secret_bits):
        for path in ["/staff", "/staff//export.csv", "/staff/./export.jsonl", "/staff/%2e%2e/staff/export.csv",
                     "/STAFF/export.csv", "/staff/export.csv/", "/staff/turns/1%2fverdict", "/staff/nothing-here",
                     "/staff/login/../export.csv", "/gradio_api/staff/export.csv"]:
            r = anonymous.get(path)
            assert r.status_code in (303, 307, 404), (path, r.status_code)
            assert_nothing_leaks(r, secret_bits)
            if r.status_code in (303, 307):
                assert r.headers["location"].startswith("/staff/"), (path, r.headers["location"])

    def test_the_login_page_shows_no_data(self, anonymous, secret_bits):
        r = anonymous.get("/staff/login")
        assert r.status_code == 200 and 'type="password"' in r.text
        assert_nothing_leaks(r, secret_bits)

    def test_the_patient_app_does_not_serve_the_database(self, staff_server, anonymous, secret_bits):
        """It holds the log and the staff accounts' password hashes."""
        for file in staff_server.data_dir.glob("conversations.sqlite*"):
            for path in (f"/gradio_api/file={file}", f"/file={file}", f"/gradio_api/file={file.name}"):
                r = anonymous.get(path)
                assert r.status_code in (403, 404, 405), (path, r.status_code)
                assert "$argon2" not in r.text
                assert_nothing_leaks(r, secret_bits)


class TestThePatientApp:
    def test_its_gradio_api_has_no_staff_function(self, staff_server):
        from gradio_client import Client

        info = httpx.get(staff_server.url + "gradio_api/info").json()
        named = set(info.get("named_endpoints", {}))
        assert named <= {"/send", "/respond", "/new_conversation"}, named
        assert not info.get("unnamed_endpoints")
        config = httpx.get(staff_server.url + "config").json()
        # every function the patient page can trigger is one of the page's own handlers…
        names = {re.sub(r"_\d+$", "", d["api_name"]) for d in config["dependencies"]}
        assert names <= PATIENT_HANDLERS, names - PATIENT_HANDLERS
        # …and only the chat's three steps can be called by name from outside the page
        callable_names = {d["api_name"] for d in config["dependencies"] if d.get("api_visibility") != "private"}
        assert callable_names == {"send", "respond", "new_conversation"}, callable_names
        text = json.dumps(config).lower()
        for word in ("verdict", "export", "staff_user", "csrf", "add_user"):
            assert word not in text, word
        client = Client(staff_server.url, verbose=False, download_files=False, analytics_enabled=False)
        try:
            api = client.view_api(print_info=False, return_format="dict")
            endpoints = set(api["named_endpoints"]) | set(api["unnamed_endpoints"])
            assert not [e for e in endpoints if any(w in str(e).lower() for w in STAFF_WORDS if w != "turn")]
            for name in ("/verdict", "/add_verdict", "/export", "/staff", "/turns", "/login"):
                with pytest.raises(Exception):
                    client.predict("x", api_name=name)
        finally:
            client.close()

    def test_patients_cannot_read_each_others_turns(self, staff_server, server_log):
        marker = "Quillfeather"
        a, b = Patient(staff_server.url), Patient(staff_server.url)
        try:
            a.ask(f"What symptoms can it cause? My name is {marker}.")
            seen = [b.client.submit(api_name="/respond").result(timeout=120),  # nothing accepted yet: nothing
                    b.ask("How is it diagnosed?"),
                    b.client.predict(api_name="/new_conversation")]
            assert marker not in json.dumps(seen, default=str)
        finally:
            a.close()
            b.close()
        mine = server_log.turns(text=marker, limit=None)
        assert len(mine) == 1
        others = server_log.turns(text="How is it diagnosed?", limit=1)
        assert others[0].conversation_id != mine[0].conversation_id


class TestSessions:
    def test_the_cookie_is_httponly_samesite_strict_and_scoped_to_staff(self, anonymous):
        r = anonymous.login()
        assert r.status_code == 303
        cookie = [h for h in r.headers.get_list("set-cookie") if h.startswith("vb_staff=")][0].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/staff" in cookie and "max-age=" in cookie
        page = anonymous.get("/staff/")
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
        assert page.headers["cache-control"] == "no-store"

    def test_logging_out_ends_the_session_on_the_server(self, staff):
        token = staff.http.cookies.get("vb_staff")
        assert staff.post("/staff/logout", {"csrf_token": staff.csrf()}).status_code == 303
        replay = StaffClient(staff.server)
        replay.http.cookies.set("vb_staff", token)  # the old cookie, kept by an attacker
        assert replay.get("/staff/").status_code == 303
        replay.close()

    def test_forms_without_the_sessions_csrf_token_change_nothing(self, staff, patient_turns, server_log, staff_server):
        turn = patient_turns["treated"]
        before = len(server_log.verdicts(turn.id))
        other = StaffClient(staff_server)
        other.login("dave")
        foreign = other.csrf()  # a valid token, but of someone else's session
        for token in (None, "", "guess", foreign):
            data = {"verdict": "unsafe", "note": "csrf"} | ({"csrf_token": token} if token is not None else {})
            assert staff.post(f"/staff/turns/{turn.id}/verdict", data).status_code == 403
            assert staff.post("/staff/try", data | {"message": "How is it treated?"}).status_code == 403
            assert staff.post("/staff/logout", data).status_code == 403
        assert len(server_log.verdicts(turn.id)) == before
        assert staff.get("/staff/").status_code == 200  # the failed logout did not log out
        other.close()

    def test_the_login_form_needs_its_own_token_and_never_redirects_off_site(self, anonymous):
        r = anonymous.post("/staff/login", {"username": "alice", "password": PASSWORD})
        assert r.status_code == 400 and "vb_staff=" not in r.headers.get("set-cookie", "")
        form = anonymous.get("/staff/login?next=https://evil.example/")
        assert "evil.example" not in form.text
        for target in ("https://evil.example/", "//evil.example/staff/", "/staff/\\evil"):
            form = anonymous.get("/staff/login")
            r = anonymous.post("/staff/login", {"username": "alice", "password": PASSWORD,
                                                "login_token": login_token(form.text), "next": target})
            assert r.status_code == 303 and r.headers["location"] == "/staff/", target

    def test_an_idle_session_ends(self, staff):
        assert staff.get("/staff/").status_code == 200
        time.sleep(IDLE_SECONDS + 1.5)
        r = staff.get("/staff/")
        assert r.status_code == 303 and "expired=1" in r.headers["location"]
        assert "ended" in staff.get(r.headers["location"]).text
        assert staff.get("/staff/export.jsonl").status_code == 303  # and it stays ended


class TestFailedLogins:
    def test_the_sixth_attempt_is_refused_even_with_the_right_password_until_the_pause_ends(self, anonymous):
        for _ in range(5):
            assert anonymous.login("bob", "wrong password!").status_code == 401
        refused = anonymous.login("bob", PASSWORD)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert "vb_staff=" not in refused.headers.get("set-cookie", "")
        assert "Too many failed attempts" in refused.text
        # another user from the same address is not affected
        assert StaffClient(anonymous.server).login("alice").status_code == 303
        deadline = time.monotonic() + 60  # waits for the pause; asserts nothing about how long it took
        while (r := anonymous.login("bob", PASSWORD)).status_code == 429 and time.monotonic() < deadline:
            time.sleep(float(r.headers["retry-after"]))
        assert r.status_code == 303

    def test_changing_the_claimed_address_does_not_escape_the_limit(self, anonymous):
        """uvicorn trusts X-Forwarded-For from loopback; the per-user limit still stops the guessing."""
        statuses = [anonymous.login("carol", f"guess number {i}", **{"X-Forwarded-For": f"203.0.113.{i}"}).status_code
                    for i in range(1, 21)]
        assert statuses == [401] * 20
        r = anonymous.login("carol", PASSWORD, **{"X-Forwarded-For": "198.51.100.7"})
        assert r.status_code == 429


class TestAccounts:
    def test_no_account_configured_shows_nothing(self, staff_server, anonymous, secret_bits):
        accounts = server_accounts(staff_server)
        for name in USERS:
            accounts.disable(name)
        try:
            page = anonymous.get("/staff/login")
            assert 'id="no-accounts"' in page.text and "python -m staff add-user" in page.text
            assert 'type="password"' not in page.text
            token = anonymous.http.cookies.get("vb_staff_login")  # no form to take it from: the cookie has it
            r = anonymous.post("/staff/login", {"username": "alice", "password": PASSWORD, "login_token": token})
            assert r.status_code == 401 and "vb_staff=" not in r.headers.get("set-cookie", "")
            assert anonymous.get("/staff/").status_code == 303
            assert_nothing_leaks(page, secret_bits)
        finally:
            for name in USERS:  # enabled again (with the same password)
                accounts.add(name, PASSWORD, replace=True)
            accounts.records.engine.dispose()
        assert anonymous.login("alice").status_code == 303

    def test_added_and_disabled_users_take_effect_on_the_running_server(self, staff_server, capsys, monkeypatch):
        def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "staff", *args],
                                  cwd=REPO_ROOT, env=staff_server.env, input=stdin, capture_output=True, text=True,
                                  timeout=120)

        added = cli("add-user", "Erin", "--password-stdin", stdin="a long enough passphrase\n")
        assert added.returncode == 0, added.stderr
        accounts = server_accounts(staff_server)
        stored = accounts.records.get("erin").password_hash
        accounts.records.engine.dispose()
        assert stored.startswith("$argon2id$") and "a long enough passphrase" not in stored
        erin = StaffClient(staff_server)
        assert erin.login("erin", "a long enough passphrase").status_code == 303
        assert erin.get("/staff/").status_code == 200
        disabled = cli("disable-user", "erin")
        assert disabled.returncode == 0, disabled.stderr
        assert erin.get("/staff/").status_code == 303  # the open session ended
        assert StaffClient(staff_server).login("erin", "a long enough passphrase").status_code == 401
        for name in [n for n in os.environ if n.startswith("VERBATIM_")]:  # the server's settings, in this process too
            monkeypatch.delenv(name)
        for name, value in staff_server.env.items():
            if name.startswith("VERBATIM_"):
                monkeypatch.setenv(name, value)
        assert staff_cli(["list-users"]) == 0
        listed = capsys.readouterr().out
        assert "erin\tdisabled" in listed and "alice\tenabled" in listed
        erin.close()
