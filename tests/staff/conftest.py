"""Fixtures for the staff console: one real server (`python app.py`) for the whole session, with its own data
dir (a copy of the session's index, with staff accounts in its database), short session and lockout times; patient turns
made through the patient app's Gradio API; an httpx client that logs in as staff the way a browser does.
"""

from __future__ import annotations

import shutil

import pytest
from benchmarks.app_server import Patient, app_server
from staff_helpers import IDLE_SECONDS, LOCKOUT_SECONDS, PASSWORD, USERS, StaffClient, StaffServer, server_accounts


@pytest.fixture(scope="session")
def staff_server(corpus_index, tmp_path_factory, vt) -> StaffServer:
    root = tmp_path_factory.mktemp("staff")
    data_dir = root / "data"
    shutil.copytree(corpus_index.settings.data_dir, data_dir)
    for stale in data_dir.glob("conversations.sqlite*"):
        stale.unlink()
    server = StaffServer("", data_dir, root / "server.log", None, {})
    accounts = server_accounts(server)  # in the database the server's staff sessions will live in
    for name in USERS:
        accounts.add(name, PASSWORD)
    accounts.records.engine.dispose()
    env = vt.subprocess_env(
        data_dir, vt.BUNDLED_CORPUS, GRADIO_ANALYTICS_ENABLED="False",
        VERBATIM_STAFF_IDLE_SECONDS=str(IDLE_SECONDS),
        VERBATIM_STAFF_LOGIN_LOCKOUT_SECONDS=str(LOCKOUT_SECONDS),
    )
    with app_server(env, server.log_path) as (url, proc):
        server.url, server.proc, server.env = url, proc, env
        yield server


@pytest.fixture(scope="session")
def server_log(staff_server):
    """The server's conversation log, opened from the test process (WAL: readers never block the server)."""
    from store import ConversationLog

    log = ConversationLog(staff_server.database_url)
    yield log
    log.close()


@pytest.fixture(scope="session")
def patient_turns(staff_server, server_log) -> dict:
    """Patient conversations made the way a patient makes them; returns the stored turns by label."""
    before = server_log.count_turns()
    script = {
        "diagnosed": "How is paraneoplastic syndrome diagnosed in adults?",
        "dose": "How much prednisolone should I take? <script>alert('xss')</script>",
        "treated": "How is it treated?",
    }
    first = Patient(staff_server.url)
    first.ask(script["diagnosed"])
    first.ask(script["dose"])
    first.close()
    second = Patient(staff_server.url)
    second.ask(script["treated"])
    second.close()
    turns = server_log.turns(limit=None, newest_first=False)[before:]
    assert [t.message for t in turns] == list(script.values())
    found = dict(zip(script, turns))
    # a thumbs-down, as the patient page stores it (the page's like event is private to the page)
    assert server_log.set_feedback(found["treated"].id, "down", "too vague",
                                   conversation_id=found["treated"].conversation_id)
    return {k: server_log.turn(t.id) for k, t in found.items()}


@pytest.fixture
def staff(staff_server):
    """alice, logged in."""
    client = StaffClient(staff_server)
    response = client.login()
    assert response.status_code == 303, response.text[:500]
    yield client
    client.close()


@pytest.fixture
def anonymous(staff_server):
    client = StaffClient(staff_server)
    yield client
    client.close()
