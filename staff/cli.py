"""The staff accounts CLI (the console itself is served by `python app.py`):

    python -m staff add-user NAME [--password-stdin] [--replace]
    python -m staff disable-user NAME
    python -m staff list-users

It reads the same settings as the workers (`VERBATIM_DATABASE_URL`, else the SQLite log under
`VERBATIM_DATA_DIR`) and changes the accounts table there (`staff.accounts`): run it on any host with the
workers' settings and every worker sees the change at its next request. It never starts the web server.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from ingest.settings import Settings
from store import ConversationLog, StaffAccountRecords

from .accounts import AccountError, StaffAccounts, check_password


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m staff", description="Manage the staff console's accounts.")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add-user", help="add a user (asks for the password twice)")
    add.add_argument("name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    add.add_argument("--replace", action="store_true", help="set a new password for an existing user (re-enables it)")
    disable = sub.add_parser("disable-user", help="disable a user: their login and open sessions stop working")
    disable.add_argument("name")
    sub.add_parser("list-users", help="list users and whether they are enabled")
    args = parser.parse_args(argv)

    settings = Settings()
    # the database the staff sessions live in: the conversation log's (`store.SessionStore.beside`)
    conversation_log = ConversationLog.from_settings(settings.log)
    where = conversation_log.engine.url.render_as_string(hide_password=True)
    try:
        accounts = StaffAccounts(StaffAccountRecords.beside(conversation_log),
                                 import_from=settings.staff.staff_users_path)
        if args.command == "add-user":
            password = _read_password(args.password_stdin)
            account = accounts.add(args.name, password, replace=args.replace)
            print(f"added staff user {account.name!r} to {where}")
        elif args.command == "disable-user":
            account = accounts.disable(args.name)
            print(f"disabled staff user {account.name!r} in {where} (their open sessions end at their next request)")
        else:
            users = accounts.accounts()
            if not users:
                print(f"no staff users in {where}")
            for account in sorted(users.values(), key=lambda a: a.name):
                state = f"disabled since {_when(account.disabled_at)}" if account.disabled else "enabled"
                print(f"{account.name}\t{state}\tcreated {_when(account.created_at)}")
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        conversation_log.close()
    return 0


def _when(moment) -> str:
    return moment.replace(microsecond=0).isoformat() if moment else "?"


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    check_password(first)
    if getpass.getpass("Password (again): ") != first:
        raise AccountError("the two passwords differ")
    return first
