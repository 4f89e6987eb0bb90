"""Several workers behind a real load balancer, sharing a real PostgreSQL and a `chroma run` server, each with
its own data dir as if on its own host: they answer the same questions with the same replies (one catalogue in
PostgreSQL, the keyword index built from it), an ingest run from a third data dir reaches both without a
restart, patients' turns land once whichever worker answers, staff accounts (added and disabled with
`python -m staff` from anywhere), sessions, verdicts and lockouts hold across workers, the schema was made once, a rebuild while serving switches every worker, and when a worker dies nginx
sends its patients to the other one, which answers."""

from __future__ import annotations

import re
import shutil
import threading
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from benchmarks.app_server import REPO_ROOT, Patient
from benchmarks.cluster import LB_COOKIE, UPSTREAM_HEADER, affinity_headers, headers_for_worker, worker_for
from bot.types import Reply
from cluster_helpers import MAX_FAILURES, PASSWORD
from store import ConversationLog
from store import conversation_log as cl

_KIND = re.compile(r'class="vb-reply vb-([a-z-]+)"')


def reply_kind(chat: list[dict]) -> str | None:
    last = chat[-1]
    found = _KIND.search(last["content"][0]["text"]) if last["role"] == "assistant" else None
    return found.group(1) if found else None


def login(base_url: str, name: str, password: str, cookies: dict | None = None) -> tuple[httpx.Client, httpx.Response]:
    """A staff member's browser on one worker (or the load balancer, with its affinity cookie in `cookies`):
    the login form, then the post."""
    http = httpx.Client(base_url=base_url.rstrip("/"), follow_redirects=False, timeout=60, cookies=cookies)
    form = http.get("/staff/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text).group(1)
    response = http.post("/staff/login", data={"username": name, "password": password, "login_token": token,
                                               "next": "/staff/"})
    return http, response


def test_the_workers_started_together_and_made_the_schema_once(cluster):
    engine = sa.create_engine(cluster.database_url)
    with engine.connect() as conn:
        versions = [r[0] for r in conn.execute(sa.text("SELECT version FROM schema_version"))]
        tables = set(sa.inspect(conn).get_table_names())
    engine.dispose()
    assert versions == [cl.SCHEMA_VERSION]
    assert {"turns", "verdicts", "staff_accounts", "staff_sessions", "staff_login_failures"} <= tables
    for w in cluster.workers:
        assert httpx.get(w.url + "healthz", timeout=30).json()["status"] == "ok"
    assert "Traceback" not in "".join(w.output() for w in cluster.workers)


def test_turns_answered_by_two_different_workers_land_in_postgresql_exactly_once(cluster):
    log = ConversationLog(cluster.database_url)
    before = log.count_turns()
    headers = [headers_for_worker(cluster.url, w) for w in cluster.workers]
    questions = [["What is a paraneoplastic syndrome?", "What symptoms can it cause?"],
                 ["How is it diagnosed?", "How much prednisolone should I take?"]]
    chats, errors = [None, None], []

    def patient(i: int) -> None:
        try:
            p = Patient(cluster.url, headers=headers[i])
            for q in questions[i]:
                chats[i] = p.ask(q)[0]["value"]
            p.close()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=patient, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [reply_kind(c) for c in chats] == ["answer", "refusal"]
    # each patient was served by its own worker, start to end
    assert [worker_for(cluster.url, h) for h in headers] == [f"127.0.0.1:{w.port}" for w in cluster.workers]

    turns = log.turns(limit=None, newest_first=False)[before:]
    by_conversation: dict[str, list[str]] = {}
    for t in turns:
        by_conversation.setdefault(t.conversation_id, []).append(t.message)
    assert sorted(by_conversation.values()) == sorted(questions)
    assert len(turns) == 4 and len({t.id for t in turns}) == 4
    log.close()


def test_a_staff_session_started_on_one_worker_is_valid_on_the_other(cluster):
    a, b = cluster.workers
    on_a, response = login(a.url, "alice", PASSWORD)
    assert response.status_code == 303, response.text[:300]
    on_b = httpx.Client(base_url=b.url.rstrip("/"), follow_redirects=False, timeout=60, cookies=on_a.cookies)
    page = on_b.get("/staff/")
    assert page.status_code == 200 and "alice" in page.text

    # a verdict written through worker A is seen through worker B
    log = ConversationLog(cluster.database_url)
    turn = log.record_turn("staff-check", "What is it?", Reply("answer", "text"), started_at=cl.utcnow())
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', on_a.get("/staff/try").text).group(1)
    saved = on_a.post(f"/staff/turns/{turn}/verdict", data={"verdict": "unsafe", "note": "seen on B?", "csrf_token": csrf})
    assert saved.status_code == 303
    assert "seen on B?" in on_b.get(f"/staff/turns/{turn}").text
    assert [v.staff_user for v in log.verdicts(turn)] == ["alice"]

    # logging out on B ends the session on A
    csrf_b = re.search(r'name="csrf_token" value="([^"]+)"', on_b.get("/staff/try").text).group(1)
    on_b.post("/staff/logout", data={"csrf_token": csrf_b})
    assert on_a.get("/staff/").status_code == 303
    log.close()
    on_a.close(), on_b.close()


def test_a_user_added_with_python_m_staff_logs_in_through_the_load_balancer_on_both_workers(cluster, tmp_path):
    """An operator on a host of its own (its own data dir) with the cluster's settings: the account counts on
    every worker at once, and so does disabling it, open sessions included."""
    operator_host = tmp_path / "operator-data"
    added = cluster.staff(operator_host, "add-user", "Frank", "--password-stdin", stdin="frank's long passphrase\n")
    assert added.returncode == 0, added.stderr
    browsers = []
    for w in cluster.workers:
        affinity = headers_for_worker(cluster.url, w)["Cookie"].split("=", 1)[1]
        http, response = login(cluster.url, "frank", "frank's long passphrase", cookies={LB_COOKIE: affinity})
        assert response.status_code == 303, response.text[:300]
        assert response.headers[UPSTREAM_HEADER].split(",")[-1].strip() == f"127.0.0.1:{w.port}"
        page = http.get("/staff/")
        assert page.status_code == 200 and page.headers[UPSTREAM_HEADER].endswith(str(w.port))
        browsers.append((w, http, affinity))

    disabled = cluster.staff(operator_host, "disable-user", "frank")
    assert disabled.returncode == 0, disabled.stderr
    for w, http, affinity in browsers:
        assert http.get("/staff/").status_code == 303  # the session ended on this worker too
        again, response = login(cluster.url, "frank", "frank's long passphrase", cookies={LB_COOKIE: affinity})
        assert response.status_code == 401 and response.headers[UPSTREAM_HEADER].endswith(str(w.port))
        again.close(), http.close()
    assert not operator_host.exists() or not any(operator_host.rglob("*")), "the CLI wrote nothing on its host"


def test_failed_logins_on_one_worker_lock_the_user_on_the_other(cluster):
    a, b = cluster.workers
    for _ in range(MAX_FAILURES):
        http, response = login(a.url, "bob", "wrong password")
        assert response.status_code == 401
        http.close()
    http, response = login(b.url, "bob", PASSWORD)  # the right password, on the other worker: still paused
    assert response.status_code == 429 and int(response.headers["retry-after"]) > 0
    http.close()
    http, response = login(b.url, "dave", PASSWORD)  # only bob is paused
    assert response.status_code == 303
    http.close()


def test_through_the_load_balancer_a_client_cannot_choose_the_address_it_is_counted_under(cluster):
    """The throttle counts failures per client address, which the workers take from nginx's X-Forwarded-For
    (trusted from loopback only). nginx sets it to the address it saw, so a forged header counts nothing."""
    form = httpx.get(cluster.url + "staff/login", headers={"X-Forwarded-For": "203.0.113.7"}, timeout=60)
    token = re.search(r'name="login_token" value="([^"]+)"', form.text).group(1)
    response = httpx.post(cluster.url + "staff/login", headers={"X-Forwarded-For": "203.0.113.7"},
                          cookies=form.cookies, timeout=60,
                          data={"username": "dave", "password": "wrong", "login_token": token, "next": "/staff/"})
    assert response.status_code == 401
    engine = sa.create_engine(cluster.database_url)
    with engine.connect() as conn:
        clients = conn.execute(sa.text("SELECT client FROM staff_login_failures WHERE staff_user = 'dave'")).scalars().all()
    engine.dispose()
    assert sorted(clients) == ["*", "127.0.0.1"]


def index_versions(cluster) -> list[int]:
    return [int(httpx.get(w.url + "healthz", timeout=30).json()["index_version"]) for w in cluster.workers]


def ask_each_worker(cluster, conversations: list[list[str]]) -> list[list[dict]]:
    """Every conversation asked of every worker directly (a patient per conversation and worker); per worker,
    what the log holds of each turn: the reply (kind, reason, text, quotes) and the chunks retrieval ranked,
    with their dense, keyword and fused scores."""
    log = ConversationLog(cluster.database_url)
    seen = []
    for w in cluster.workers:
        ids = []
        for turns in conversations:
            patient = Patient(w.url)
            for question in turns:
                patient.ask(question)
            ids.append(patient.conversation)
            patient.close()
        seen.append([{"message": t.message, "kind": t.kind, "reason": t.reason, "text": t.reply_text,
                      "quotes": t.quotes, "candidates": t.trace.get("candidates")}
                     for cid in ids for t in log.conversation(cid)])
    log.close()
    return seen


def test_each_worker_has_its_own_data_dir_and_nothing_it_answers_from_is_in_it(cluster):
    dirs = [Path(w.env["VERBATIM_DATA_DIR"]) for w in cluster.workers]
    assert len(set(dirs)) == len(cluster.workers) == 2
    assert all(w.env["VERBATIM_DATABASE_URL"] == cluster.database_url for w in cluster.workers)
    assert not any("VERBATIM_STAFF_USERS_FILE" in w.env for w in cluster.workers)
    local = [sorted(str(p.relative_to(d)) for p in d.rglob("*")) if d.exists() else [] for d in dirs]
    # only a derived cache (the medicine dictionary's lookup table, bot/drugs.py; the vectors of the library's
    # passages and the policy's exemplars, ingest.embeddings.VectorCache), the same on every host, rebuilt when missing
    assert [[p for p in files if not p.startswith("cache")] for files in local] == [[], []], \
        "no catalogue, keyword index, vectors, log or staff accounts on a worker's disk"
    assert all(files == [] or files[0] == "cache" for files in local)


def test_workers_on_two_data_dirs_give_the_same_replies(cluster):
    conversations = [["What is a paraneoplastic syndrome?", "What symptoms can it cause?"],
                     ["How is paraneoplastic syndrome diagnosed?"], ["What skin symptoms can it cause?"],
                     ["How much prednisolone should I take?"]]
    first, second = ask_each_worker(cluster, conversations)
    assert [t["message"] for t in first] == [q for turns in conversations for q in turns]
    assert [t["kind"] for t in first].count("answer") >= 3 and all(t["candidates"] for t in first[:2])
    assert first == second


def test_an_ingest_from_a_third_data_dir_reaches_both_workers_without_a_restart(cluster, tmp_path):
    """`python -m ingest` with an added document, run from a data dir of its own (another host) against the
    shared PostgreSQL and Chroma: both workers switch to the new version and quote the new document, alike."""
    question = [["Can I drive with paraneoplastic syndrome?"]]
    before = index_versions(cluster)
    pids = [w.proc.pid for w in cluster.workers]
    assert len(set(before)) == 1
    assert all(ADDED not in {q["source"] for q in t["quotes"]} for seen in ask_each_worker(cluster, question)
               for t in seen)

    corpus = shutil.copytree(REPO_ROOT / "corpus", tmp_path / "corpus")
    (corpus / ADDED).write_text(ADDED_TEXT, encoding="utf-8")
    with open(corpus / "manifest.yaml", "a", encoding="utf-8") as f:
        f.write(f"{ADDED}:\n  title: Paraneoplastic syndrome and driving\n  publisher: Test clinic\n")
    third = tmp_path / "third-host-data"
    done = cluster.ingest(third, VERBATIM_CORPUS_DIR=str(corpus))
    assert done.returncode == 0, done.stderr[-2000:]
    assert not (third / "index.sqlite").exists(), "the catalogue went to PostgreSQL, not the ingest's data dir"

    deadline = time.monotonic() + 60  # the workers look at the catalogue once a second
    while index_versions(cluster) != [before[0] + 1] * 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert index_versions(cluster) == [before[0] + 1] * 2
    assert [w.proc.pid for w in cluster.workers] == pids and all(w.proc.poll() is None for w in cluster.workers)
    first, second = ask_each_worker(cluster, question)
    assert first[0]["kind"] == "answer" and {q["source"] for q in first[0]["quotes"]} == {ADDED}
    assert first == second


ADDED = "003_driving_leaflet.txt"
ADDED_TEXT = """Paraneoplastic syndrome and driving

Can I drive with paraneoplastic syndrome?

People with paraneoplastic syndrome who have seizures, double vision or sudden muscle weakness should not drive \
until their neurologist says it is safe to drive again.
"""


def test_a_rebuild_while_serving_switches_every_worker_to_the_new_index(cluster):
    """Ingest as its own job (`python -m ingest --rebuild`, the workers' settings) while the workers serve:
    a new index version in the Chroma server and the shared catalogue; every worker switches to it without a
    restart, and answers from it."""
    before = index_versions(cluster)
    assert len(set(before)) == 1
    done = cluster.ingest(Path(cluster.workers[0].env["VERBATIM_DATA_DIR"]), "--rebuild")
    assert done.returncode == 0, done.stderr[-2000:]
    deadline = time.monotonic() + 60  # the workers look at the catalogue once a second
    while index_versions(cluster) != [before[0] + 1] * len(cluster.workers) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert index_versions(cluster) == [before[0] + 1] * len(cluster.workers)
    for w in cluster.workers:
        patient = Patient(cluster.url, headers=headers_for_worker(cluster.url, w))
        assert reply_kind(patient.ask("How is paraneoplastic syndrome treated?")[0]["value"]) == "answer"
        patient.close()


def test_when_a_worker_dies_its_patients_continue_on_the_other(cluster):
    """Runs last: it kills a worker. The patient's next question reaches the other worker, which answers
    (and says plainly that earlier messages are no longer remembered); both turns are in the log."""
    log = ConversationLog(cluster.database_url)
    before = log.count_turns()
    doomed, survivor = cluster.workers
    headers = headers_for_worker(cluster.url, doomed)
    patient = Patient(cluster.url, headers=headers)
    assert reply_kind(patient.ask("What is a paraneoplastic syndrome?")[0]["value"]) == "answer"

    doomed.kill()
    assert worker_for(cluster.url, headers) == f"127.0.0.1:{survivor.port}"
    accepted = patient.send("What symptoms can it cause?")
    assert accepted[0] == ""  # accepted by the survivor
    chat = patient.respond()[0]["value"]
    assert reply_kind(chat) == "answer"
    assert any("new conversation" in m["content"][0]["text"] for m in chat if m["role"] == "assistant")
    patient.close()

    turns = log.turns(limit=None, newest_first=False)[before:]
    assert [t.message for t in turns] == ["What is a paraneoplastic syndrome?", "What symptoms can it cause?"]
    log.close()
    # a new patient gets the survivor too
    assert worker_for(cluster.url, affinity_headers()) == f"127.0.0.1:{survivor.port}"
