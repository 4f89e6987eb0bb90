"""The staff accounts CLI (the console itself is served by `python app.py`):

    python -m staff add-user NAME [--password-stdin] [--replace]
    python -m staff disable-user NAME
    python -m staff list-users

It only touches the users file (`staff.accounts`), so it imports neither the web server nor the bot.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from ingest.settings import StaffSettings

from .accounts import AccountError, StaffAccounts, check_password

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m staff", description="Manage the staff console's accounts.")
    parser.add_argument("--users-file", type=Path, default=None,
                        help="the staff users file (default: VERBATIM_STAFF_USERS_FILE or data/staff_users.json)")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add-user", help="add a user (asks for the password twice)")
    add.add_argument("name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    add.add_argument("--replace", action="store_true", help="set a new password for an existing user (re-enables it)")
    disable = sub.add_parser("disable-user", help="disable a user: their login and open sessions stop working")
    disable.add_argument("name")
    sub.add_parser("list-users", help="list users and whether they are enabled")
    args = parser.parse_args(argv)

    accounts = StaffAccounts(args.users_file or StaffSettings().staff_users_path)
    try:
        if args.command == "add-user":
            password = _read_password(args.password_stdin)
            account = accounts.add(args.name, password, replace=args.replace)
            print(f"added staff user {account.name!r} to {accounts.path}")
        elif args.command == "disable-user":
            account = accounts.disable(args.name)
            print(f"disabled staff user {account.name!r} (their open sessions end at their next request)")
        else:
            users = accounts.accounts()
            if not users:
                print(f"no staff users in {accounts.path}")
            for account in sorted(users.values(), key=lambda a: a.name):
                state = f"disabled since {account.disabled_at}" if account.disabled else "enabled"
                print(f"{account.name}\t{state}\tcreated {account.created_at}")
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    check_password(first)
    if getpass.getpass("Password (again): ") != first:
        raise AccountError("the two passwords differ")
    return first
