"""Composition root: `python app.py [--host H] [--port P]` serves the patient chat at / (staff console: /staff)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve Verbatim's patient chat (settings: VERBATIM_* variables).")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port to listen on (default: 7860)")
    args = parser.parse_args(argv)
    from bot.webapp import serve

    return serve(host=args.host, port=args.port)


if __name__ == "__main__":
    sys.exit(main())
