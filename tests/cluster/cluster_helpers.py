"""Constants shared by the cluster tests and their fixture."""

PASSWORD = "correct horse battery staple"
USERS = ("alice", "bob", "dave")  # alice: sessions and verdicts; bob: locked out; dave: not locked out
MAX_FAILURES = 3  # VERBATIM_STAFF_LOGIN_MAX_FAILURES for the cluster's workers
