"""PostgreSQL as the peer of logstore in the side-by-side benchmark (`make bench-load`).

A private cluster in a temporary directory on 127.0.0.1 and a free port, started as the
`postgres` user when running as root, always stopped and deleted at the end (also on Ctrl-C,
and — PR_SET_PDEATHSIG on the postmaster — if the driver itself is killed). Debian's defaults
(shared_buffers 128 MB, fsync and synchronous_commit on: every committed body is durable, as
every acknowledged line is in logstore).

Loading mirrors logstore's path: each FluentBit bulk body is parsed (action and document lines,
orjson when installed, else json) and written in one transaction with COPY into
logs(ts, index, workflow, job, line), with btree (job, ts), btree (workflow, ts) and
GIN to_tsvector('simple', line) in place while loading.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

try:
    import orjson as _json
    JSON_LIB = "orjson"
except ImportError:  # pragma: no cover
    import json as _json
    JSON_LIB = "json"

SCHEMA = """
CREATE TABLE logs (ts timestamptz NOT NULL, index text NOT NULL, workflow text NOT NULL,
                   job text NOT NULL, line text NOT NULL);
CREATE INDEX logs_job_ts ON logs (job, ts);
CREATE INDEX logs_workflow_ts ON logs (workflow, ts);
CREATE INDEX logs_line_fts ON logs USING gin (to_tsvector('simple', line));
"""

JOB_LOG_SQL = "SELECT ts, line FROM logs WHERE job = $1 ORDER BY ts LIMIT 5000"
COUNT_SQL = "SELECT count(*) FROM logs WHERE to_tsvector('simple', line) @@ phraseto_tsquery('simple', $1)"
NEWEST_SQL = ("SELECT ts, line FROM logs WHERE to_tsvector('simple', line) @@ phraseto_tsquery('simple', $1) "
              "ORDER BY ts DESC LIMIT 100")



def _esc(s: str) -> str:
    """COPY text format: backslash, newline, carriage return and tab escaped."""
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")

WF_KEYS = ("kubernetes.labels.reana-run-job-workflow-uuid", "kubernetes.labels.reana-run-batch-workflow-uuid")


def pg_bindir() -> Path | None:
    """Debian's newest /usr/lib/postgresql/N/bin, else initdb on the PATH."""
    base = Path("/usr/lib/postgresql")
    if base.is_dir():
        vers = sorted((p for p in base.iterdir() if (p / "bin" / "postgres").exists()),
                      key=lambda p: int(p.name) if p.name.isdigit() else 0)
        if vers:
            return vers[-1] / "bin"
    w = shutil.which("initdb")
    return Path(w).resolve().parent if w else None


def ensure_installed() -> Path:
    d = pg_bindir()
    if d is not None:
        return d
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print("PostgreSQL not found: apt-get install -y postgresql", flush=True)
    r = subprocess.run(sudo + ["apt-get", "install", "-y", "-q", "postgresql"], env=env)
    if r.returncode != 0:
        subprocess.run(sudo + ["apt-get", "update", "-q"], env=env, check=False)
        subprocess.run(sudo + ["apt-get", "install", "-y", "-q", "postgresql"], env=env, check=True)
    d = pg_bindir()
    if d is None:
        raise RuntimeError("PostgreSQL is still not installed")
    return d


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, log=print):
        self.log = log
        self.bindir = ensure_installed()
        self.tmp = Path(tempfile.mkdtemp(prefix="logstore-pgpeer-"))
        self.data = self.tmp / "data"
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None
        self.logfile = None
        self.user = "postgres"
        self.uid = self.gid = None
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            self.uid, self.gid = pw.pw_uid, pw.pw_gid
            os.chown(self.tmp, self.uid, self.gid)
        else:
            self.user = pwd.getpwuid(os.geteuid()).pw_name

    def _preexec(self):
        def fn():
            os.setsid()
            if self.gid is not None:
                os.setgroups([])
                os.setgid(self.gid)
                os.setuid(self.uid)
            try:  # after setuid: a credential change clears the parent-death signal
                ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
            except OSError:
                pass
        return fn

    def start(self) -> None:
        env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")
        r = subprocess.run([str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.user, "-E", "UTF8",
                            "--locale=C.UTF-8", "-A", "trust", "--no-sync"],
                           preexec_fn=self._preexec(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                           cwd=self.tmp, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed: {r.stdout.decode(errors='replace')[-2000:]}")
        self.logfile = open(self.tmp / "postgres.log", "wb")
        if self.uid is not None:
            os.chown(self.tmp / "postgres.log", self.uid, self.gid)
        cmd = [str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port),
               "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.tmp}",
               "-c", "log_min_messages=warning", "-c", "max_connections=100"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.logfile, stderr=subprocess.STDOUT,
                                     preexec_fn=self._preexec(), env=env, cwd=self.tmp)
        self.pid = self.proc.pid
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited: {self.log_tail()}")
            r = subprocess.run([str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError("postgres did not get ready within 60 s")

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres"

    def psql(self, sql: str, timeout: float = 600) -> str:
        r = subprocess.run([str(self.bindir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "-d", "postgres", "-c", sql],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"psql failed: {sql[:80]}: {r.stdout.decode(errors='replace')[-1000:]}")
        return r.stdout.decode().strip()

    def create_schema(self) -> None:
        self.psql(SCHEMA)

    def pids(self) -> list[int]:
        """The postmaster and all its children (backends, checkpointer, walwriter, …)."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        out = [self.pid]
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    s = f.read()
                ppid = int(s[s.rindex(")") + 2:].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == self.pid:
                out.append(int(d))
        return out

    def stop(self) -> dict:
        info: dict = {}
        if self.proc is not None and self.proc.poll() is None:
            t0 = time.perf_counter()
            try:
                self.proc.send_signal(signal.SIGINT)  # fast shutdown
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGQUIT)  # immediate shutdown
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=10)
                info["forced"] = True
            info["stop_seconds"] = round(time.perf_counter() - t0, 2)
            # backends exit when they notice the postmaster is gone
            for _ in range(50):
                if not self._leftovers():
                    break
                time.sleep(0.1)
            for p in self._leftovers():
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
        if self.logfile is not None:
            self.logfile.close()
            self.logfile = None
        shutil.rmtree(self.tmp, ignore_errors=True)
        return info

    def _leftovers(self) -> list[int]:
        """postgres processes still running on our data directory."""
        out = []
        needle = str(self.data).encode()
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if needle in cmd and b"postgres" in cmd:
                out.append(int(d))
        return out

    def log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join((self.tmp / "postgres.log").read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


# ----------------------------------------------------------------------------------------------
# Loading: one bulk body -> one transaction with COPY


def body_to_copy(body: bytes) -> tuple[bytes, int]:
    """Parses a FluentBit bulk body (action line, document line, …) into COPY text rows."""
    out = []
    lines = body.split(b"\n")
    index = ""
    n = 0
    for raw in lines:
        if not raw:
            continue
        d = _json.loads(raw)
        if "create" in d or "index" in d:
            a = d.get("create") or d.get("index") or {}
            index = a.get("_index", "")
            continue
        log = d.get("log", "")
        wf = d.get(WF_KEYS[0]) or d.get(WF_KEYS[1]) or ""
        job = d.get("kubernetes.labels.job-name", "")
        out.append("\t".join((d["@timestamp"], _esc(index), _esc(wf), _esc(job), _esc(log))))
        n += 1
    return ("\n".join(out) + "\n").encode(), n


class Loader:
    """One connection (one loader process): load(body) parses it and COPYs it in one transaction."""

    def __init__(self, dsn: str):
        import psycopg  # imported here: only the PostgreSQL side needs it
        self.conn = psycopg.connect(dsn, autocommit=True)

    def load(self, body: bytes) -> int:
        data, n = body_to_copy(body)
        with self.conn.transaction():
            with self.conn.cursor() as cur:
                with cur.copy("COPY logs (ts, index, workflow, job, line) FROM STDIN") as cp:
                    cp.write(data)
        return n

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:
            pass
