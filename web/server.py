"""The one web server (FastAPI): a health check, other apps mounted first (the staff console at `/staff`),
then the patient page at "/" — mounts come first because a mount at "/" catches every path.

It builds nothing it is not given: `app.py` (the composition root) makes the bot, the log and the staff app
once and hands them in. Running it (uvicorn) is `app.py`'s job too.
"""

from __future__ import annotations

import functools
from typing import Sequence

import gradio as gr
from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.types import ASGIApp

from ingest.settings import Settings
from store import ConversationLog

from .page import CSS, JS_ON_LOAD, ChatBotLike, PatientChat, build_blocks, library_documents


def create_app(
    settings: Settings,
    *,
    bot: ChatBotLike,
    conversation_log: ConversationLog,
    mounts: Sequence[tuple[str, ASGIApp]] = (),
) -> FastAPI:
    """The server: `/healthz`, `mounts` (e.g. ("/staff", staff_app)), then the patient chat at "/"."""
    app = FastAPI(title="Verbatim", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings, app.state.bot, app.state.conversation_log = settings, bot, conversation_log

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for path, sub_app in mounts:
        # "/staff" (no slash) would otherwise fall through to the patient app at "/"
        app.add_api_route(path.rstrip("/"), functools.partial(_to_slash, path.rstrip("/") + "/"),
                          methods=["GET", "HEAD"], include_in_schema=False)
        app.mount(path, sub_app)
    chat = PatientChat(bot, conversation_log, settings.max_message_chars)
    return gr.mount_gradio_app(
        app, build_blocks(chat, library_documents(bot)), path="/",
        css=CSS, js=JS_ON_LOAD, footer_links=["gradio"], run_history=False, show_error=False,
        theme=gr.themes.Default(text_size="lg"),
    )


def _to_slash(target: str) -> RedirectResponse:
    return RedirectResponse(target, status_code=307)
