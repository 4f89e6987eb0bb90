"""One real cluster for the module: PostgreSQL, `chroma run`, two app workers started together and nginx in
front, all on loopback (`benchmarks.cluster`, what `make cluster` runs). A low login limit comes in through the
workers' environment, as an operator would set it; the staff accounts are added to the cluster's database once
the workers run (nothing of them on a worker's disk)."""

from __future__ import annotations

import pytest
from cluster_helpers import MAX_FAILURES, PASSWORD, USERS


@pytest.fixture(scope="module")
def cluster(postgres, tmp_path_factory):
    from benchmarks.cluster import MissingTool, backends
    from benchmarks.cluster import cluster as start_cluster
    from staff.accounts import StaffAccounts
    from store import ConversationLog, StaffAccountRecords

    root = tmp_path_factory.mktemp("cluster")
    try:
        with backends(root, postgres=postgres) as b, \
                start_cluster(b, 2, "cluster_" + root.name.lower().replace("-", "_"),
                              VERBATIM_STAFF_LOGIN_MAX_FAILURES=str(MAX_FAILURES),
                              VERBATIM_STAFF_LOGIN_LOCKOUT_SECONDS="600") as c:
            log = ConversationLog(c.database_url)
            accounts = StaffAccounts(StaffAccountRecords.beside(log))
            for name in USERS:
                accounts.add(name, PASSWORD)
            log.close()
            yield c
    except MissingTool as exc:
        pytest.fail(str(exc))
