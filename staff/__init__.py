"""The staff console (`/staff`): conversations with their traces, verdicts, exports, the library's blocked
passages, "try it", a dashboard — and `python -m staff` for its accounts.

Depends on `bot` (for "Try it"), `ingest` (the library) and `store` (the log, accounts, sessions); nothing depends on it
except `app.py`. The web app is `staff.console.create_staff_app`; importing this package loads no server.
"""
