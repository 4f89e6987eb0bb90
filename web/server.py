"""The one web server (FastAPI): a health check, other apps mounted first (the staff console at `/staff`),
then the patient page at "/" — mounts come first because a mount at "/" catches every path.

It builds nothing it is not given: `app.py` (the composition root) makes the bot, the log and the staff app
once and hands them in. Running it (uvicorn) is `app.py`'s job too.
"""

from __future__ import annotations

import functools
import re
from typing import Sequence

import gradio as gr
from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ingest.settings import BotSettings
from store import ConversationLog

from .page import CSS, JS_ON_LOAD, ChatBotLike, PatientChat, build_blocks, library_documents


def create_app(
    settings: BotSettings,
    *,
    bot: ChatBotLike,
    conversation_log: ConversationLog,
    mounts: Sequence[tuple[str, ASGIApp]] = (),
) -> FastAPI:
    """The server: `/healthz`, `mounts` (e.g. ("/staff", staff_app)), then the patient chat at "/".
    `settings`: the `bot` section (the page shows the bot's message limit); the web page has no section of its own."""
    app = FastAPI(title="Verbatim", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings, app.state.bot, app.state.conversation_log = settings, bot, conversation_log

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        """200 with the index version when the bot can answer, else 503 with the reason."""
        health = bot.health()
        return JSONResponse(health, status_code=200 if health["status"] == "ok" else 503)

    for path, sub_app in mounts:
        # "/staff" (no slash) would otherwise fall through to the patient app at "/"
        app.add_api_route(path.rstrip("/"), functools.partial(_to_slash, path.rstrip("/") + "/"),
                          methods=["GET", "HEAD"], include_in_schema=False)
        app.mount(path, sub_app)
    app.add_middleware(RefuseUnusedGradioRoutes)
    chat = PatientChat(bot, conversation_log, settings.max_message_chars)
    return gr.mount_gradio_app(
        app, build_blocks(chat, library_documents(bot)), path="/",
        css=CSS, js=JS_ON_LOAD, footer_links=["gradio"], run_history=False, show_error=False,
        theme=gr.themes.Default(text_size="lg"),
    )


class RefuseUnusedGradioRoutes:
    """The patient page uploads nothing and shows no files, but Gradio serves routes for both: anyone could
    store files on the server (`/gradio_api/upload`) and have them served to anyone (`/gradio_api/file=…`).
    Those routes, and the proxy to remote Gradio apps, answer 404 here before Gradio reads a byte of the body,
    so nothing is written to disk."""

    BLOCKED = re.compile(r"^/gradio_api/(?:upload|upload_progress|file=|file/|proxy=)")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.BLOCKED.match(scope.get("path", "")):
            await PlainTextResponse("Not found", status_code=404)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _to_slash(target: str) -> RedirectResponse:
    return RedirectResponse(target, status_code=307)
