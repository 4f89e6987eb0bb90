"""Composition root: `python app.py [--host H] [--port P]` serves the patient chat at / (staff console: /staff).

The one place that builds the object graph: settings → bot → conversation log → staff app → web server, plus
the retention timer beside it. Nothing imports this module.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import sys

# No phoning home from a patient-facing server. Set here, before gradio / chromadb / huggingface are imported
# (`make run` exports the same); no package sets environment variables itself.
OFFLINE_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "ANONYMIZED_TELEMETRY": "False", "HF_HUB_OFFLINE": "1"}


def compose(settings):
    """The server, the bot and the log it writes to (the caller runs the bot's index watcher and the log's
    retention). Each part gets its section of the settings; the bot reads index and bot."""
    from bot.live import LiveChatBot
    from staff.console import create_staff_app
    from store import ConversationLog
    from web.server import create_app

    bot = LiveChatBot(settings)  # follows the index: an ingest while serving switches it, no restart
    conversation_log = ConversationLog.from_settings(settings.log)
    staff = create_staff_app(settings.staff, catalogue_url=settings.index.catalogue_url,
                             max_message_chars=settings.bot.max_message_chars,
                             bot=bot, conversation_log=conversation_log)
    server = create_app(settings.bot, bot=bot, conversation_log=conversation_log, mounts=[("/staff", staff)])
    return server, bot, conversation_log


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve Verbatim's patient chat (settings: VERBATIM_* variables).")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port to listen on (default: 7860)")
    args = parser.parse_args(argv)
    if importlib.util.find_spec("gradio") is None:  # not the project's Python: say which one to use
        print(f"error: the app's packages are not installed for {sys.executable}. Start it with `make run` "
              "(it sets everything up), or with .venv/bin/python app.py after `make setup`.", file=sys.stderr)
        return 1
    for name, value in OFFLINE_ENV.items():
        os.environ.setdefault(name, value)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "chromadb", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    import uvicorn

    from ingest.index import IndexError_
    from ingest.settings import Settings
    from store import RetentionTimer

    try:
        server, bot, conversation_log = compose(Settings())
    except IndexError_ as exc:  # translate at the edge: a message that says what to do, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"Verbatim patient chat: http://{args.host}:{args.port}/ — "
          f"staff console: http://{args.host}:{args.port}/staff/", flush=True)
    # retention prunes now, then hourly, never inside a patient's request; the bot watches the index version
    with RetentionTimer(conversation_log), bot:
        uvicorn.run(server, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
