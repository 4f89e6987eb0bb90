"""Several workers behind a load balancer, on one machine, on loopback: the scale-out setup in miniature.

    python -m benchmarks.cluster --workers 2            # or: make cluster WORKERS=2
    # → patients: http://127.0.0.1:8080/ (nginx), staff: …/staff/ ; Ctrl-C stops everything

What it starts, each a real server on 127.0.0.1 (a free port each), in a temporary folder removed at the end:

1. **PostgreSQL** (Debian's `postgresql` package): a throwaway cluster (`initdb`, `pg_ctl`), run as the
   `postgres` system user when started as root (PostgreSQL refuses to run as root). Each cluster gets a
   database of its own (`VERBATIM_DATABASE_URL`) holding the index catalogue, the conversation log, the staff
   accounts, sessions and login-failure counts.
2. **Chroma** as its own server (`chroma run`, shipped with chromadb): the vectors (`VERBATIM_CHROMA_URL`;
   each cluster its own collection, `VERBATIM_COLLECTION`, as each has its own catalogue).
3. **Ingest** of the bundled corpus into them (`python -m ingest`, from a data dir of its own), once, before
   any worker starts.
4. **N app workers** (`python app.py --port P`), started together, **each with its own data dir**, as if each
   ran on its own host: nothing they answer from is on their disk (catalogue in PostgreSQL, vectors in Chroma,
   the keyword index built in memory from the catalogue, the staff accounts in PostgreSQL). One migrates the
   schema, the others wait for it (an advisory lock); they share one staff secret (`VERBATIM_STAFF_SECRET`).
   `python -m staff add-user` with the cluster's `VERBATIM_DATABASE_URL`, from anywhere, adds a staff account
   every worker accepts at once (`Cluster.staff`).
5. **nginx** in front, with session affinity: Gradio keeps a patient's session in the worker's memory, so all
   requests of one browser must reach the same worker. nginx hashes a cookie (`vb_lb`) it sets on the first
   response (`hash … consistent`), and when a worker is down it sends that patient to another one.

See the README, "Running on more than one machine".

The tests (`tests/cluster/`) and the scale-out benchmark (`benchmarks.scale_out`) use the same classes.
"""

from __future__ import annotations

import argparse
import glob
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from benchmarks.app_server import REPO_ROOT, free_port, wait_healthy

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
               "GRADIO_ANALYTICS_ENABLED": "False"}
LB_COOKIE = "vb_lb"  # nginx's affinity cookie: which worker a browser sticks to
UPSTREAM_HEADER = "X-Verbatim-Upstream"  # this throwaway setup only: which worker answered (for tests)


class MissingTool(RuntimeError):
    """A server program is not installed; the message says how to install it."""


def _stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ------------------------------------------------------------------------------------------- PostgreSQL


class PostgresServer:
    """A throwaway PostgreSQL cluster on loopback (trust authentication: loopback and a temp folder only).

    `with PostgresServer() as pg: url = pg.create_database("verbatim")` → a SQLAlchemy URL (psycopg 3)."""

    USER = "verbatim"

    def __init__(self, fsync: bool = True) -> None:
        self.fsync = fsync
        self.bin = self.find_bin()
        self.port = free_port()
        self.root: Path | None = None

    @staticmethod
    def find_bin() -> Path:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
        if found:
            return Path(found[-1]).parent
        initdb = shutil.which("initdb")
        if initdb:
            return Path(initdb).parent
        raise MissingTool("PostgreSQL is not installed: `apt-get install -y postgresql` (or `make servers`)")

    def _run_as_owner(self, args: list[str], **kw) -> subprocess.CompletedProcess:
        """PostgreSQL refuses to run as root: as root, run its programs as the `postgres` system user."""
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run(prefix + args, check=True, capture_output=True, text=True, **kw)

    def start(self) -> "PostgresServer":
        self.root = Path(tempfile.mkdtemp(prefix="verbatim-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        data = self.root / "data"
        try:
            self._run_as_owner([str(self.bin / "initdb"), "-D", str(data), "-U", self.USER, "-A", "trust",
                                "-E", "UTF8", "--no-sync", "--no-instructions"])
            options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200"
                       + ("" if self.fsync else " -c fsync=off -c synchronous_commit=off"))
            self._run_as_owner([str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(self.root / "postgres.log"),
                                "-o", options, "-w", "-t", "60", "start"])
        except subprocess.CalledProcessError as exc:
            log = self.root / "postgres.log"
            raise RuntimeError(f"PostgreSQL did not start: {exc.stderr}\n"
                               f"{log.read_text(errors='replace')[-2000:] if log.exists() else ''}") from exc
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new, empty database; returns its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={self.USER} dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self.root is None:
            return
        if (self.root / "data" / "postmaster.pid").exists():
            try:
                self._run_as_owner([str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast",
                                    "-w", "-t", "30", "stop"])
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# ----------------------------------------------------------------------------------------------- Chroma


class ChromaServer:
    """`chroma run` (chromadb's own server) on loopback, storing under `path`."""

    def __init__(self, path: Path) -> None:
        self.path, self.port = Path(path), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "ChromaServer":
        import httpx

        chroma = Path(sys.executable).parent / "chroma"
        if not chroma.exists():
            raise MissingTool(f"{chroma} is missing (chromadb ships it): `make setup`")
        self.path.mkdir(parents=True, exist_ok=True)
        self._log = open(self.path.parent / "chroma.log", "wb")
        self.proc = subprocess.Popen([str(chroma), "run", "--path", str(self.path), "--host", "127.0.0.1",
                                      "--port", str(self.port)], stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError("chroma run did not start:\n"
                                   + (self.path.parent / "chroma.log").read_text(errors="replace")[-2000:])
            time.sleep(0.2)

    def __exit__(self, *exc) -> None:
        _stop(self.proc)
        self._log.close()


# ---------------------------------------------------------------------------------------------- workers


class Worker:
    """One `python app.py --port P` with the cluster's environment."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env, self.log_path, self.port = env, log_path, free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Worker":
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(self.port)],
                                         cwd=REPO_ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        return self

    def wait_healthy(self) -> None:
        wait_healthy(self.url, self.proc, self.log_path)

    def kill(self) -> None:
        """SIGKILL: the worker dies mid-whatever, as in a crash (no graceful shutdown)."""
        _stop(self.proc, signal.SIGKILL)

    def stop(self) -> None:
        _stop(self.proc)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_workers(envs: list[dict[str, str]], log_dir: Path) -> list[Worker]:
    """One worker per environment, started at the same moment (they race for the schema: the lock makes one
    migrate), then waited for until every one answers /healthz."""
    workers = [Worker(env, log_dir / f"worker-{i}.log") for i, env in enumerate(envs)]
    try:
        for w in workers:
            w.start()
        for w in workers:
            w.wait_healthy()
    except BaseException:
        for w in workers:
            w.stop()
        raise
    return workers


# ------------------------------------------------------------------------------------------------ nginx

NGINX_CONF = """
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;

    # Session affinity: Gradio keeps each patient's session (queue, state) in one worker's memory. A browser
    # without the cookie gets one, and the same string picks the worker before and after it has it.
    map $cookie_{cookie} $verbatim_affinity {{ "" $request_id; default $cookie_{cookie}; }}
    map $cookie_{cookie} $verbatim_set_affinity {{ "" "{cookie}=$request_id; Path=/; HttpOnly; SameSite=Lax"; default ""; }}
    map $http_upgrade $verbatim_connection {{ default upgrade; "" ""; }}

    upstream verbatim_workers {{
        hash $verbatim_affinity consistent;
{servers}
        keepalive 32;
    }}

    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 1m;
        location / {{
            proxy_pass http://verbatim_workers;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;  # the staff login throttle counts per client address
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $verbatim_connection;
            proxy_buffering off;  # answers stream as server-sent events
            proxy_read_timeout 300s;
            proxy_next_upstream error timeout;  # a worker that is down: the next one (its patients move over)
            add_header Set-Cookie $verbatim_set_affinity always;
            add_header {upstream_header} $upstream_addr always;
        }}
    }}
}}
"""


class Nginx:
    """nginx on loopback in front of `ports`, with cookie affinity (see NGINX_CONF), from a temp folder."""

    def __init__(self, ports: list[int], root: Path, port: int | None = None) -> None:
        self.ports, self.root, self.port = ports, Path(root), port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.proc: subprocess.Popen | None = None

    def config(self) -> str:
        servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;" for p in self.ports)
        return NGINX_CONF.format(root=self.root, cookie=LB_COOKIE, servers=servers, port=self.port,
                                 upstream_header=UPSTREAM_HEADER)

    def __enter__(self) -> "Nginx":
        import httpx

        nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
        if nginx is None:
            raise MissingTool("nginx is not installed: `apt-get install -y nginx` (or `make servers`)")
        self.root.mkdir(parents=True, exist_ok=True)
        conf = self.root / "nginx.conf"
        conf.write_text(self.config())
        self._log = open(self.root / "nginx.out", "wb")
        self.proc = subprocess.Popen([nginx, "-p", str(self.root), "-c", str(conf), "-e", str(self.root / "error.log"),
                                      "-g", "daemon off;"], stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(self.url + "healthz", timeout=5).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError("nginx did not start:\n" + self.output())
            time.sleep(0.2)

    def output(self) -> str:
        return "".join(p.read_text(errors="replace")[-2000:] for p in (self.root / "nginx.out", self.root / "error.log")
                       if p.exists())

    def __exit__(self, *exc) -> None:
        _stop(self.proc)  # the workers behind it are stopped next; nothing to drain
        self._log.close()


def affinity_headers(value: str | None = None) -> dict[str, str]:
    """The request headers of a browser that holds nginx's affinity cookie (`value`; random when None)."""
    return {"Cookie": f"{LB_COOKIE}={value or secrets.token_hex(16)}"}


def worker_for(lb_url: str, headers: dict[str, str]) -> str:
    """Which worker (host:port) answers a browser with these headers through the load balancer, right now
    (nginx lists every worker it tried, the one that answered last)."""
    import httpx

    return httpx.get(lb_url + "healthz", headers=headers, timeout=30).headers[UPSTREAM_HEADER].split(",")[-1].strip()


def headers_for_worker(lb_url: str, worker: "Worker", tries: int = 200) -> dict[str, str]:
    """Affinity headers that the load balancer maps to `worker` (drawn until one does)."""
    for _ in range(tries):
        headers = affinity_headers()
        if worker_for(lb_url, headers) == f"127.0.0.1:{worker.port}":
            return headers
    raise RuntimeError(f"no affinity cookie led to {worker.url} in {tries} tries")


# ---------------------------------------------------------------------------------------------- cluster


@dataclass
class Backends:
    """What the clusters share: the PostgreSQL server and the Chroma server (each cluster has its own database
    and collection in them), the corpus to ingest (None: the bundled one), the staff secret."""

    postgres: PostgresServer
    chroma: ChromaServer
    root: Path
    corpus: Path | None = None
    staff_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))


@contextmanager
def backends(root: Path, *, corpus: Path | None = None, fsync: bool = True,
             postgres: PostgresServer | None = None) -> Iterator[Backends]:
    """PostgreSQL (a new one, or `postgres` if given: the caller stops it) and `chroma run`."""
    with ExitStack() as stack:
        pg = postgres or stack.enter_context(PostgresServer(fsync=fsync))
        chroma = stack.enter_context(ChromaServer(root / "chroma"))
        yield Backends(pg, chroma, root, corpus)


@dataclass
class Cluster:
    backends: Backends
    database: str
    database_url: str
    workers: list[Worker] = field(default_factory=list)
    nginx: Nginx | None = None  # started once the workers answer

    @property
    def url(self) -> str:
        """The load balancer: where patients and staff go."""
        assert self.nginx is not None, "the cluster's load balancer is not started"
        return self.nginx.url

    def env(self, data_dir: Path, **extra: str) -> dict[str, str]:
        """The environment of a process of this cluster (a worker, an ingest) with its own data dir: the same
        database (which also holds the staff accounts), Chroma server and collection, and staff secret as every
        other."""
        b = self.backends
        return {**os.environ, **OFFLINE_ENV, "VERBATIM_DATA_DIR": str(data_dir),
                "VERBATIM_DATABASE_URL": self.database_url, "VERBATIM_CHROMA_URL": b.chroma.url,
                "VERBATIM_COLLECTION": self.database, "VERBATIM_STAFF_SECRET": b.staff_secret,
                **({"VERBATIM_CORPUS_DIR": str(b.corpus)} if b.corpus else {}), **extra}

    def staff(self, data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
        """`python -m staff ARGS` with this cluster's settings, from `data_dir` (as an operator on any host)."""
        return subprocess.run([sys.executable, "-m", "staff", *args], cwd=REPO_ROOT, env=self.env(data_dir),
                              input=stdin, capture_output=True, text=True, timeout=120)

    def ingest(self, data_dir: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess:
        """`python -m ingest ARGS` with this cluster's settings, from `data_dir` (as from another host)."""
        return subprocess.run([sys.executable, "-m", "ingest", "--quiet", *args], cwd=REPO_ROOT,
                              env=self.env(data_dir, **extra_env), capture_output=True, text=True, timeout=900)


@contextmanager
def cluster(b: Backends, workers: int, database: str, port: int | None = None, **extra_env: str) -> Iterator[Cluster]:
    """A new database `database` (created here; also the name of the cluster's Chroma collection), the corpus
    ingested into it, then N workers, each with its own data dir, behind nginx (on `port`, default a free one)."""
    url = b.postgres.create_database(database)
    home = b.root / database
    home.mkdir(parents=True, exist_ok=True)
    c = Cluster(b, database, url)
    done = c.ingest(home / "ingest-data")
    if done.returncode != 0:
        raise RuntimeError(f"ingest failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    c.workers = start_workers([c.env(home / f"worker-{i}-data", **extra_env) for i in range(workers)], home)
    try:
        with Nginx([w.port for w in c.workers], home / "nginx", port) as lb:
            c.nginx = lb
            yield c
    finally:
        for w in c.workers:
            w.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Start PostgreSQL, chroma run, N workers and nginx on loopback; "
                                            "Ctrl-C stops them all.")
    p.add_argument("--workers", type=int, default=2, help="app workers (one per core is the unit; default 2)")
    p.add_argument("--port", type=int, default=8080, help="the load balancer's port on 127.0.0.1 (default 8080)")
    args = p.parse_args(argv)
    if args.workers < 1:
        p.error("--workers must be at least 1")
    stop = {"now": False}

    def on_signal(*_):
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with tempfile.TemporaryDirectory(prefix="verbatim-cluster-") as tmp:
        root = Path(tmp)
        try:
            print("starting PostgreSQL and chroma run…", flush=True)
            with backends(root) as b:
                print(f"ingesting the corpus, starting {args.workers} workers and nginx…", flush=True)
                with cluster(b, args.workers, "verbatim", args.port) as c:
                    print(f"""
Verbatim on {len(c.workers)} workers behind nginx:
  patients: {c.url}
  staff:    {c.url}staff/
  workers:  {', '.join(w.url for w in c.workers)}
  database: {c.database_url}
  chroma:   {b.chroma.url}
  logs:     {root}
Each worker has its own data dir; they share PostgreSQL (staff accounts included) and Chroma. Add a staff
account (every worker accepts it at once):
  VERBATIM_DATABASE_URL={c.database_url} .venv/bin/python -m staff add-user NAME
Ctrl-C stops everything and removes the temporary folder.""", flush=True)
                    while not stop["now"]:
                        time.sleep(0.5)
                        dead = [w for w in c.workers if w.proc.poll() is not None]
                        if dead and not stop["now"]:
                            print(f"a worker exited ({dead[0].url}); nginx sends its patients to the others",
                                  file=sys.stderr, flush=True)
                            c.workers = [w for w in c.workers if w not in dead]
            print("stopped.", flush=True)
        except (MissingTool, RuntimeError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
