"""The staff console (`/staff`): every turn with its trace, verdicts, export, the library, "try it", a
dashboard — behind its own login. (The accounts CLI is `python -m staff`, `staff/cli.py`.)

A separate FastAPI app that `app.py` mounts on the patient server; server-rendered HTML (Jinja2 templates in
`staff/templates/`) with forms, no JavaScript. It reads and writes the conversation log only through the
log's public methods. Security, in the order a request meets it:
- default deny: a middleware lets only the login form through without a live staff session; any other
  path under /staff (known or not) answers 303 → login for GET/HEAD and 401 for everything else;
- sessions are server-side (`staff_sessions`), the cookie is HttpOnly, SameSite=Strict, path /staff, Secure
  over https; they end when idle, at their maximum age, at logout, or when the user is disabled;
- every form that changes something carries the session's CSRF token (`csrf_form`), the login form a
  double-submit token (no login CSRF);
- repeated failed logins are refused with 429 for a growing pause (`staff.throttle.LoginThrottle`);
- all content is escaped by the templates; responses carry a strict CSP (no script at all), no-store,
  no framing, no referrer.
Nothing here deletes a turn or a verdict: a new verdict supersedes the previous one in display only.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cached_property
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from bot.types import REPLY_KINDS
from ingest.settings import StaffSettings
from store import VERDICTS, ConversationLog, LoginFailures, SessionStore, StaffAccountRecords, StaffSession

from .accounts import StaffAccounts, normalise_name
from .library import LibraryView
from .pages import environment
from .reports import csv_lines, dashboard_charts, dashboard_stats, jsonl_lines
from .throttle import LoginThrottle

log = logging.getLogger("verbatim.staff")

SESSION_COOKIE = "vb_staff"
LOGIN_COOKIE = "vb_staff_login"
PAGE_SIZE = 50
MAX_SEARCH_CHARS = 200
# the only ways in without a session
PUBLIC = {("GET", "/login"), ("HEAD", "/login"), ("POST", "/login")}
NAV = (("turns", "Conversations", "/"), ("dashboard", "Dashboard", "/dashboard"), ("library", "Library", "/library"),
       ("try", "Try it", "/try"))


@dataclass
class Console:
    """What the handlers share: configuration in, one request's data in each call."""

    settings: StaffSettings
    catalogue_url: str  # the index catalogue the library pages read (`IndexSettings.catalogue_url`)
    max_message_chars: int  # the bot's limit, for "Try it"
    bot: Any  # bot.ChatBot (for "Try it"); None: "Try it" says it is unavailable
    log: ConversationLog
    accounts: StaffAccounts
    sessions: SessionStore
    throttle: LoginThrottle

    @cached_property
    def library(self) -> LibraryView:
        return LibraryView(self.catalogue_url)

    @cached_property
    def templates(self):
        return environment()


def create_staff_app(settings: StaffSettings, *, catalogue_url: str, max_message_chars: int, bot: Any,
                     conversation_log: ConversationLog, accounts: StaffAccounts | None = None) -> FastAPI:
    """The console as an ASGI app, to mount at /staff. `settings`: the `staff` section; `catalogue_url` and
    `max_message_chars` come from the `index` and `bot` sections. The bot and the log are given (`app.py` builds
    them once for the whole server); what only the console uses — accounts, sessions, the throttle — is made here."""
    secret = settings.staff_secret.get_secret_value().encode() or secrets.token_bytes(32)
    console = Console(
        settings=settings, catalogue_url=catalogue_url, max_message_chars=max_message_chars, bot=bot, log=conversation_log,
        # in the log's database, beside the sessions: an account added or disabled anywhere counts on every worker
        accounts=accounts or StaffAccounts(StaffAccountRecords.beside(conversation_log),
                                           import_from=settings.staff_users_path),
        sessions=SessionStore.beside(conversation_log, secret,
                                     lifetime=timedelta(seconds=settings.staff_session_seconds),
                                     idle=timedelta(seconds=settings.staff_idle_seconds)),
        # counted in the log's database: with several workers on one database, failures on one lock all
        throttle=LoginThrottle(settings.staff_login_max_failures, timedelta(seconds=settings.staff_login_lockout_seconds),
                               records=LoginFailures.beside(conversation_log)),
    )
    if not settings.staff_secret.get_secret_value() and conversation_log.engine.dialect.name != "sqlite":
        log.warning("VERBATIM_STAFF_SECRET is empty: this worker drew its own session key, so a staff login on "
                    "it is not valid on any other worker sharing the database. Set the same secret on every worker.")
    if not console.accounts.configured():
        log.info("no enabled staff account: the console at /staff shows nothing until one is added with "
                 "`python -m staff add-user NAME`")
    app = FastAPI(title="Verbatim staff", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.console = console
    app.include_router(router)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        nonce = secrets.token_urlsafe(16)
        request.state.nonce, request.state.session = nonce, None
        method, rel = request.method, _relative(request)
        if (method, rel) not in PUBLIC:
            token = request.cookies.get(SESSION_COOKIE)
            session = await run_in_threadpool(console.sessions.get, token, console.accounts.is_active) if token else None
            if session is None:
                response = _unauthenticated(request, expired=bool(token))
                return _harden(response, nonce)
            request.state.session = session
        return _harden(await call_next(request), nonce)

    return app


def _relative(request: Request) -> str:
    root, path = request.scope.get("root_path", ""), request.scope["path"]
    rel = path[len(root):] if root and path.startswith(root) else path
    return rel or "/"


def _root(request: Request) -> str:
    return request.scope.get("root_path", "").rstrip("/")


def _unauthenticated(request: Request, expired: bool) -> Response:
    if request.method in ("GET", "HEAD"):
        here = request.scope["path"] + (f"?{request.url.query}" if request.url.query else "")
        query = {"next": here} | ({"expired": "1"} if expired else {})
        response: Response = RedirectResponse(f"{_root(request)}/login?{urlencode(query)}", status_code=303)
    else:
        response = PlainTextResponse("A staff login is required.", status_code=401)
    if expired:
        _clear_cookie(request, response, SESSION_COOKIE)
    return response


def _cookie_path(request: Request) -> str:
    return _root(request) or "/"


def _harden(response: Response, nonce: str) -> Response:
    h = response.headers
    h["Content-Security-Policy"] = (f"default-src 'none'; style-src 'nonce-{nonce}'; img-src 'self' data:; "
                                    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    h["Cache-Control"] = "no-store"
    h["X-Content-Type-Options"] = "nosniff"
    h["X-Frame-Options"] = "DENY"
    h["Referrer-Policy"] = "no-referrer"
    return response


# ------------------------------------------------------------------------------------------- plumbing

router = APIRouter()


def console_of(request: Request) -> Console:
    return request.app.state.console


def staff_session(request: Request) -> StaffSession:
    session = getattr(request.state, "session", None)
    if session is None:  # the middleware already answered; this is a second lock on the same door
        raise HTTPException(status_code=401, detail="A staff login is required.")
    return session


async def csrf_form(request: Request, session: StaffSession = Depends(staff_session)) -> dict[str, str]:
    """The posted form, once its CSRF token matched the session's; else 403 and nothing happens."""
    form = await request.form()
    if not session.csrf_ok(form.get("csrf_token")):
        raise HTTPException(status_code=403, detail="The form's security token is missing or stale: reload the page.")
    return {k: v for k, v in form.items() if isinstance(v, str)}


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    console = console_of(request)
    session: StaffSession | None = getattr(request.state, "session", None)
    root = _root(request)
    html = console.templates.get_template(template).render(
        root=root, nonce=request.state.nonce, user=session.staff_user if session else None,
        csrf=session.csrf_token if session else "", nav=[(k, label, root + href) for k, label, href in NAV], **context)
    return HTMLResponse(html, status_code=status_code)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _safe_next(request: Request, value: str | None) -> str:
    """Only a path inside the console: never an absolute or protocol-relative URL (no open redirect)."""
    root = _root(request)
    value = value or ""
    if value.startswith(root + "/") and not value.startswith("//") and "\\" not in value and "://" not in value:
        return value
    return root + "/"


# ---------------------------------------------------------------------------------------------- login


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "", expired: str = "") -> Response:
    console = console_of(request)
    token = secrets.token_urlsafe(24)
    message = "Your session has ended. Please log in again." if expired else ""
    response = render(request, "login.html", title="Staff login", configured=console.accounts.configured(),
                      error=message, login_token=token, next=_safe_next(request, next), username="")
    _set_cookie(request, response, LOGIN_COOKIE, token, max_age=3600)
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    console = console_of(request)
    form = await request.form()
    username = normalise_name(str(form.get("username") or ""))[:128]
    password = str(form.get("password") or "")
    next_url = _safe_next(request, str(form.get("next") or ""))
    client = _client(request)

    def again(status: int, error: str, headers: dict[str, str] | None = None) -> Response:
        token = secrets.token_urlsafe(24)
        response = render(request, "login.html", status, title="Staff login", configured=console.accounts.configured(),
                          error=error, login_token=token, next=next_url, username=username)
        _set_cookie(request, response, LOGIN_COOKIE, token, max_age=3600)
        response.headers.update(headers or {})
        return response

    posted, cookie = str(form.get("login_token") or ""), request.cookies.get(LOGIN_COOKIE) or ""
    if not posted or not secrets.compare_digest(posted.encode(), cookie.encode()):
        return again(400, "The login form had expired. Please try again.")
    if not console.accounts.configured():
        return again(401, "No staff account is configured.")
    wait = console.throttle.retry_after(username, client)
    if wait:
        log.warning("staff login for %r from %s refused: too many failed attempts (%d s left)", username, client, wait)
        return again(429, f"Too many failed attempts. Try again in {wait} seconds.", {"Retry-After": str(wait)})
    ok = await run_in_threadpool(console.accounts.verify, username, password)  # argon2: CPU-heavy by design
    if not ok:
        console.throttle.failed(username, client)
        log.warning("failed staff login for %r from %s", username, client)
        return again(401, "Wrong user name or password.")
    console.throttle.succeeded(username, client)
    token, _ = await run_in_threadpool(console.sessions.start, username, client)
    log.info("staff login: %s from %s", username, client)
    response = RedirectResponse(next_url, status_code=303)
    _set_cookie(request, response, SESSION_COOKIE, token, max_age=console.settings.staff_session_seconds)
    _clear_cookie(request, response, LOGIN_COOKIE)
    return response


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path=_cookie_path(request), httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


def _clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(name, path=_cookie_path(request), httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")


@router.post("/logout")
def logout(request: Request, form: dict = Depends(csrf_form)) -> Response:
    console_of(request).sessions.end(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse(f"{_root(request)}/login", status_code=303)
    _clear_cookie(request, response, SESSION_COOKIE)
    return response


# ------------------------------------------------------------------------------------------ the turns


@dataclass
class TurnFilters:
    """The list's filters as given (strings, for the form) and as the log's `turns()` takes them."""

    since: str = ""
    until: str = ""
    kind: str = ""
    reason: str = ""
    feedback: str = ""
    reviewed: str = ""
    verdict: str = ""
    q: str = ""
    conversation: str = ""

    @classmethod
    def parse(cls, params) -> tuple["TurnFilters", dict[str, Any], list[str]]:
        f = cls(**{k: str(params.get(k) or "").strip() for k in cls.__dataclass_fields__})
        query: dict[str, Any] = {}
        errors: list[str] = []
        for name in ("since", "until"):
            value = getattr(f, name)
            if value:
                try:
                    day = date.fromisoformat(value)
                except ValueError:
                    errors.append(f"“{value}” is not a date (YYYY-MM-DD); that filter is ignored.")
                    setattr(f, name, "")
                    continue
                start = datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc)
                query[name] = start if name == "since" else start + timedelta(days=1)  # "until" is inclusive
        if f.kind:
            query["kinds"] = [f.kind] if f.kind in REPLY_KINDS else ["(none)"]
        if f.reason:
            query["reason"] = f.reason[:64]
        if f.feedback in ("up", "down", "any", "none"):
            query["feedback"] = f.feedback
        if f.reviewed in ("yes", "no"):
            query["reviewed"] = f.reviewed == "yes"
        if f.verdict in VERDICTS:
            query["verdict"] = f.verdict
        if f.q:
            f.q = f.q[:MAX_SEARCH_CHARS]
            query["text"] = f.q
        if f.conversation:
            query["conversation_id"] = f.conversation[:64]
        return f, query, errors

    def query_string(self, **extra: Any) -> str:
        pairs = {k: v for k, v in self.__dict__.items() if v} | {k: v for k, v in extra.items() if v}
        return "?" + urlencode(pairs) if pairs else ""


def _reasons(console: Console) -> list[str]:
    return sorted(set(console.log.reasons()) | {"dosing", "unproven_remedy"})


@router.get("/", response_class=HTMLResponse)
def turns_page(request: Request, page: int = 1, session: StaffSession = Depends(staff_session)) -> Response:
    console = console_of(request)
    f, query, errors = TurnFilters.parse(request.query_params)
    page = max(1, min(page, 100_000))
    total = console.log.count_turns(**query)
    turns = console.log.turns(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **query)
    first = (page - 1) * PAGE_SIZE + 1 if turns else 0
    return render(
        request, "turns.html", title="Conversations", section="turns", f=f, errors=errors, turns=turns, total=total,
        kinds=REPLY_KINDS, reasons=_reasons(console), verdicts=VERDICTS, qs=f.query_string(),
        first=first, last=first + len(turns) - 1 if turns else 0,
        prev_qs=f.query_string(page=page - 1 if page > 2 else None) if page > 1 else None,
        next_qs=f.query_string(page=page + 1) if page * PAGE_SIZE < total else None,
    )


@router.get("/turns/{turn_id}", response_class=HTMLResponse)
def turn_page(request: Request, turn_id: int, saved: str = "", session: StaffSession = Depends(staff_session)) -> Response:
    return _turn_response(request, turn_id, saved=bool(saved))


def _turn_response(request: Request, turn_id: int, *, saved: bool = False, errors: list[str] | None = None,
                   status_code: int = 200) -> Response:
    console = console_of(request)
    turn = console.log.turn(turn_id)
    if turn is None:
        return render(request, "message.html", 404, title="No such turn", section="turns",
                      message=f"There is no turn #{turn_id}.", link=_root(request) + "/", link_text="Conversations")
    return render(request, "turn.html", status_code, title=f"Turn #{turn.id}", section="turns", t=turn, saved=saved,
                  errors=errors or [], verdicts=VERDICTS, conversation=console.log.conversation(turn.conversation_id))


@router.post("/turns/{turn_id}/verdict")
def add_verdict(request: Request, turn_id: int, form: dict = Depends(csrf_form),
                session: StaffSession = Depends(staff_session)) -> Response:
    console = console_of(request)
    verdict, note = form.get("verdict", ""), form.get("note", "")
    if verdict not in VERDICTS:
        return _turn_response(request, turn_id, errors=["Choose correct, incorrect or unsafe."], status_code=400)
    try:
        console.log.add_verdict(turn_id, session.staff_user, verdict, note)
    except KeyError:
        return _turn_response(request, turn_id, status_code=404)
    log.info("verdict %s on turn %d by %s", verdict, turn_id, session.staff_user)
    return RedirectResponse(f"{_root(request)}/turns/{turn_id}?saved=1", status_code=303)


# --------------------------------------------------------------------------------------------- export


@router.get("/export.csv")
def export_csv(request: Request, session: StaffSession = Depends(staff_session)) -> Response:
    return _export(request, session, "csv", "text/csv; charset=utf-8", csv_lines)


@router.get("/export.jsonl")
def export_jsonl(request: Request, session: StaffSession = Depends(staff_session)) -> Response:
    return _export(request, session, "jsonl", "application/x-ndjson; charset=utf-8", jsonl_lines)


def _export(request: Request, session: StaffSession, ext: str, media_type: str, lines) -> Response:
    console = console_of(request)
    _, query, _ = TurnFilters.parse(request.query_params)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    log.info("export %s by %s: %s", ext, session.staff_user, query)
    return StreamingResponse(lines(console.log.iter_turns(**query)), media_type=media_type,
                             headers={"Content-Disposition": f'attachment; filename="verbatim-turns-{stamp}.{ext}"'})


# -------------------------------------------------------------------------------------------- library


@router.get("/library", response_class=HTMLResponse)
def library_page(request: Request, session: StaffSession = Depends(staff_session)) -> Response:
    return render(request, "library.html", title="Library", section="library",
                  documents=console_of(request).library.documents())


@router.get("/library/{source}", response_class=HTMLResponse)
def document_page(request: Request, source: str, tagged: str = "",
                  session: StaffSession = Depends(staff_session)) -> Response:
    found = console_of(request).library.document(source)
    if found is None:
        return render(request, "message.html", 404, title="No such document", section="library",
                      message="That document is not in the index.", link=_root(request) + "/library", link_text="Library")
    summary, sections = found
    return render(request, "document.html", title=summary.title, section="library", d=summary, sections=sections,
                  only_tagged=bool(tagged))


# --------------------------------------------------------------------------------------------- try it


MAX_TRY_HISTORY = 20


@router.get("/try", response_class=HTMLResponse)
def try_page(request: Request, session: StaffSession = Depends(staff_session)) -> Response:
    return _try_response(request, [], "", None)


@router.post("/try", response_class=HTMLResponse)
def try_ask(request: Request, form: dict = Depends(csrf_form), session: StaffSession = Depends(staff_session)) -> Response:
    """Ask the bot as a patient would. Straight to `bot.ask`: the conversation log never sees it."""
    console = console_of(request)
    message = form.get("message", "")
    try:
        history = json.loads(form.get("history") or "[]")
        history = [m for m in history if isinstance(m, dict) and m.get("role") in ("user", "assistant")
                   and isinstance(m.get("content"), str)][-MAX_TRY_HISTORY:]
    except ValueError:
        history = []
    if console.bot is None:
        return _try_response(request, history, message, None, ["The bot is not available in this process."], 503)
    if not message.strip():
        return _try_response(request, history, message, None, ["Type a question."], 400)
    reply = console.bot.ask(message, history=history)
    history = history + [{"role": "user", "content": message}, {"role": "assistant", "content": reply.text}]
    return _try_response(request, history, "", reply)


def _try_response(request: Request, history: list[dict], message: str, reply, errors: list[str] | None = None,
                  status_code: int = 200) -> Response:
    console = console_of(request)
    return render(request, "try.html", status_code, title="Try it", section="try", history=history,
                  history_json=json.dumps(history, ensure_ascii=False), message=message, errors=errors or [],
                  reply=reply.to_dict() if reply else None, max_chars=console.max_message_chars)


# ------------------------------------------------------------------------------------------ dashboard


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, since: str = "", until: str = "",
              session: StaffSession = Depends(staff_session)) -> Response:
    today = datetime.now(timezone.utc).date()
    errors: list[str] = []

    def day(value: str, default: date) -> date:
        if not value:
            return default
        try:
            return date.fromisoformat(value)
        except ValueError:
            errors.append(f"“{value}” is not a date (YYYY-MM-DD).")
            return default

    end = day(until, today)
    start = day(since, end - timedelta(days=13))
    if start > end:
        start, end = end, start
    if (end - start).days > 366:
        start = end - timedelta(days=366)
        errors.append("The dashboard shows at most a year; the range was shortened.")
    stats = dashboard_stats(console_of(request).log, start, end)
    charts = {k: base64.b64encode(v).decode() for k, v in dashboard_charts(stats).items()}
    return render(request, "dashboard.html", title="Dashboard", section="dashboard", s=stats, charts=charts,
                  errors=errors)
