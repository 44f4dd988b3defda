#!/usr/bin/env python3
"""Whole-server load driver for logstore.

Replays FluentBit-shaped OpenSearch bulk bodies (REANA labels) over HTTP against a real
`logstore serve` and reports throughput, request latency, server RSS and CPU.

Standard library only (Python 3.11). Only 127.0.0.1 / localhost targets are accepted.
See Benchmarks/load/README.md.
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import datetime as dt
import glob
import gzip
import http.client
import json
import math
import multiprocessing as mp
import os
import queue
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BIN = ".build/release/logstore"
DEFAULT_CORPUS = "../shared/corpus/loghub"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}

# Placeholder for "YYYY-MM-DDTHH:MM" in pre-generated bodies. Every time a worker wraps around
# its pool of bodies it substitutes the next minute, so no body is ever sent twice (the server
# may drop resent chunks as duplicates) and timestamps keep increasing per stream.
MARK = b"\x00TS\x00"
ACTION_JOB = b'{"create":{"_index":"fluentbit-job_log"}}\n'
ACTION_WF = b'{"create":{"_index":"fluentbit-workflow_log"}}\n'

MAX_ATTEMPTS = 200          # per request, 429/503/connection errors included
MAX_BACKOFF = 1.0           # seconds
REQUESTS_PER_CONN = 2000    # FluentBit reconnects after this many keep-alive requests


# ----------------------------------------------------------------------------------------------
# Corpus and streams


def load_corpus(directory: Path | None, limit: int = 60000) -> tuple[list[bytes], str]:
    """Message texts, JSON-escaped as FluentBit does (ASCII only, \\uXXXX for the rest)."""
    lines: list[str] = []
    source = "synthetic"
    if directory is not None and directory.is_dir():
        files = sorted(glob.glob(str(directory / "*.log")))
        for f in files:
            with open(f, "r", encoding="utf-8", errors="replace") as fh:
                for raw in fh:
                    raw = raw.rstrip("\r\n")
                    if raw:
                        lines.append(raw)
                    if len(lines) >= limit:
                        break
        if lines:
            source = f"{directory} ({len(files)} files)"
    if not lines:
        rng = random.Random(7)
        words = ("INFO WARNING ERROR step job workflow reading writing file events processed "
                 "tree branch histogram fit converged iteration memory MB GB ok failed retry "
                 "input output data root cms atlas alice lhcb snakemake cwl yadage serial").split()
        for i in range(20000):
            n = rng.randint(4, 18)
            lines.append(f"{i} " + " ".join(rng.choice(words) for _ in range(n)))
    escaped = [json.dumps(s, ensure_ascii=True)[1:-1].encode("ascii") for s in lines]
    return escaped, source


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def make_streams(workflows: int, jobs: int, seed: int) -> tuple[list[bytes], list[bytes]]:
    """Per stream, the doc suffix after the log text: `","labels…"}\\n` (REANA's flat keys).

    Returns (job streams, workflow-engine streams)."""
    rng = random.Random(seed)
    users = [_uuid(rng) for _ in range(max(1, workflows // 6))]
    job_streams: list[bytes] = []
    wf_streams: list[bytes] = []
    for w in range(workflows):
        wf = _uuid(rng)
        user = users[w % len(users)]
        for _ in range(jobs):
            job = _uuid(rng)
            job_streams.append(
                (f'\\n","kubernetes.labels.job-name":"reana-run-job-{job}",'
                 f'"kubernetes.labels.reana-run-job-workflow-uuid":"{wf}",'
                 f'"kubernetes.labels.user-uuid":"{user}"}}\n').encode())
        wf_streams.append(
            (f'\\n","kubernetes.labels.reana-run-batch-workflow-uuid":"{wf}",'
             f'"kubernetes.labels.user-uuid":"{user}"}}\n').encode())
    return job_streams, wf_streams


class StreamClock:
    """Millisecond offset inside one minute-cycle, increasing per stream."""

    def __init__(self, n: int, lines_per_stream_per_cycle: float, rng: random.Random):
        self.off = [0] * n
        avg = 50000.0 / max(1.0, lines_per_stream_per_cycle)
        self.max_inc = max(1, min(5000, int(2 * avg) - 1))
        self.rng = rng

    def next(self, i: int) -> bytes:
        o = min(59999, self.off[i] + self.rng.randint(1, self.max_inc))
        self.off[i] = o
        return b":%02d.%03dZ" % (o // 1000, o % 1000)


def doc(action: bytes, ts_tail: bytes, msg: bytes, suffix: bytes) -> bytes:
    return action + b'{"@timestamp":"' + MARK + ts_tail + b'","log":"' + msg + suffix


def build_pool(kind: str, wid: int, nworkers: int, cfg: dict, corpus: list[bytes],
               job_streams: list[bytes], wf_streams: list[bytes]) -> list[tuple[bytes, int]]:
    """Pre-generates this worker's bodies: list of (template with MARK, number of docs).

    Streams are split between workers (like FluentBit pods on different nodes), so every
    stream's timestamps increase in the order its bodies are sent."""
    rng = random.Random(cfg["seed"] * 1000003 + wid * 7919 + {"big": 1, "small": 2}.get(kind, 3))
    mine = [(ACTION_JOB, s) for s in job_streams[wid::nworkers]]
    wf_mine = [(ACTION_WF, s) for s in wf_streams[wid::nworkers]]
    share = cfg["batch_share"] if wf_mine else 0.0
    streams = mine + wf_mine
    nj = len(mine)
    pool_size = cfg["pool"]
    bodies: list[tuple[bytes, int]] = []
    ci = rng.randrange(len(corpus))

    def pick_stream() -> int:
        if share > 0 and rng.random() < share:
            return nj + rng.randrange(len(wf_mine))
        return rng.randrange(nj)

    if kind == "small":
        per_body = min(cfg["small_streams"], nj)
        est_docs = pool_size * per_body * 2
        clock = StreamClock(len(streams), est_docs / max(1, nj), rng)
        cursor = 0
        for _ in range(pool_size):
            parts = []
            n = 0
            for k in range(per_body):
                si = (cursor + k) % nj
                if share > 0 and rng.random() < share:
                    si = pick_stream()
                action, suffix = streams[si]
                for _ in range(rng.randint(1, 3)):
                    parts.append(doc(action, clock.next(si), corpus[ci], suffix))
                    ci = (ci + 1) % len(corpus)
                    n += 1
            cursor = (cursor + per_body) % nj
            bodies.append((b"".join(parts), n))
    else:
        docs = cfg["docs"]
        clock = StreamClock(len(streams), pool_size * docs / max(1, len(streams)), rng)
        for _ in range(pool_size):
            parts = []
            n = 0
            while n < docs:
                si = pick_stream()
                action, suffix = streams[si]
                # tail reads a file in runs: a few consecutive lines of one container
                for _ in range(min(docs - n, rng.randint(1, 10))):
                    parts.append(doc(action, clock.next(si), corpus[ci], suffix))
                    ci = (ci + 1) % len(corpus)
                    n += 1
            bodies.append((b"".join(parts), n))
    return bodies


def minute_prefix(base: dt.datetime, cycle: int) -> bytes:
    return (base + dt.timedelta(minutes=cycle)).strftime("%Y-%m-%dT%H:%M").encode()


# ----------------------------------------------------------------------------------------------
# HTTP client side (runs in worker processes)


class Access:
    """How the driver reaches the server: plain HTTP, or HTTPS verified against `ca_cert` (the
    system's CAs when None); and, with `user`, HTTP Basic credentials sent on every request.

    The SSL context is built once per process, on first use (workers are forked; the context is
    not shared across a fork). Connections stay keep-alive, so the handshake is paid once per
    connection, not per request."""

    def __init__(self, tls: bool = False, ca_cert: str | None = None, user: str | None = None,
                 password: str | None = None):
        self.tls = tls
        self.ca_cert = ca_cert
        self.user = user
        self.authorization = None
        if user is not None:
            token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
            self.authorization = f"Basic {token}"
        self._ctx: ssl.SSLContext | None = None
        self._ctx_pid = 0

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def context(self) -> ssl.SSLContext:
        if self._ctx is None or self._ctx_pid != os.getpid():
            self._ctx = ssl.create_default_context(cafile=self.ca_cert)
            self._ctx_pid = os.getpid()
        return self._ctx

    def connection(self, host: str, port: int, timeout: float) -> http.client.HTTPConnection:
        if not self.tls:
            return http.client.HTTPConnection(host, port, timeout=timeout)
        return http.client.HTTPSConnection(host, port, timeout=timeout, context=self.context())

    def headers(self, headers: dict | None = None) -> dict:
        out = dict(headers or {})
        if self.authorization is not None:
            out["Authorization"] = self.authorization
        return out

    def __getstate__(self) -> dict:  # picklable: the context is rebuilt where it is used
        state = dict(self.__dict__)
        state["_ctx"], state["_ctx_pid"] = None, 0
        return state


PLAIN = Access()


def access_from_args(a: argparse.Namespace, user: str | None, password_env: str) -> Access:
    """An Access for the scripts' --ca-cert/--tls and a user whose password is in $password_env."""
    password = None
    if user is not None:
        password = os.environ.get(password_env)
        if password is None:
            print(f"error: set {password_env} to the password of {user!r}", file=sys.stderr)
            raise SystemExit(2)
    return Access(tls=a.tls, ca_cert=a.ca_cert, user=user, password=password)


def add_access_args(ap: argparse.ArgumentParser, ingest_what: str) -> None:
    g = ap.add_argument_group("TLS and users (a server started with --tls-cert/--users)")
    g.add_argument("--ca-cert", help="talk HTTPS, verifying the server's certificate against this PEM CA file "
                                      "(with --url: the URL must be https://)")
    g.add_argument("--tls", action="store_true", help="talk HTTPS, verifying against the system's CAs (implied by --ca-cert "
                                                     "and by an https:// --url)")
    g.add_argument("--user", help="HTTP Basic user for every request; the password is read from $LOGSTORE_PASSWORD")
    g.add_argument("--ingest-user", help=f"HTTP Basic user for {ingest_what} instead of --user; the password is read "
                                         "from $LOGSTORE_INGEST_PASSWORD")


def resolve_access(a: argparse.Namespace) -> tuple[Access, Access]:
    """(access for everything but bulk requests, access for bulk requests) from the parsed options."""
    if a.ca_cert is not None:
        a.tls = True
        if not os.path.isfile(a.ca_cert):
            print(f"error: --ca-cert {a.ca_cert}: no such file", file=sys.stderr)
            raise SystemExit(2)
    if a.url and urllib.parse.urlsplit(a.url).scheme == "https":
        a.tls = True
    main_access = access_from_args(a, a.user, "LOGSTORE_PASSWORD")
    ingest_access = access_from_args(a, a.ingest_user, "LOGSTORE_INGEST_PASSWORD") if a.ingest_user else main_access
    return main_access, ingest_access


class Client:
    def __init__(self, host: str, port: int, path: str, gzip_bodies: bool, timeout: float, access: Access = PLAIN):
        self.host, self.port, self.path = host, port, path
        self.gzip = gzip_bodies
        self.timeout = timeout
        self.access = access
        self.conn: http.client.HTTPConnection | None = None
        self.used = 0
        self.headers = access.headers({
            "Content-Type": "application/x-ndjson",
            "User-Agent": "Fluent-Bit",
            "Connection": "keep-alive",
        })
        if gzip_bodies:
            self.headers["Content-Encoding"] = "gzip"

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
        self.conn = None

    def post(self, body: bytes) -> tuple[int, bytes, str | None]:
        if self.conn is None or self.used >= REQUESTS_PER_CONN:
            self.close()
            self.conn = self.access.connection(self.host, self.port, self.timeout)
            self.used = 0
        self.used += 1
        self.conn.request("POST", self.path, body=body, headers=self.headers)
        resp = self.conn.getresponse()
        data = resp.read()
        retry_after = resp.getheader("Retry-After")
        if resp.will_close:
            self.close()
        return resp.status, data, retry_after


def new_result() -> dict:
    return {
        "requests": 0, "lines": 0, "bytes": 0, "wire_bytes": 0, "latencies": [], "sched_latencies": [],
        "status": {}, "retries": 0, "errors_true": 0, "non200": 0, "conn_errors": 0, "failed": 0,
        "item_mismatch": 0, "late": 0, "max_lag": 0.0, "cycles": 0, "first": None, "last": None,
    }


def send_one(client: Client, body: bytes, ndocs: int, res: dict, hard_deadline: float) -> bool:
    """Sends one body, retrying 429/503 and connection failures. Records figures in res."""
    t0 = time.perf_counter()
    attempt = 0
    while True:
        attempt += 1
        try:
            status, data, retry_after = client.post(body)
        except (OSError, http.client.HTTPException):
            client.close()
            res["conn_errors"] += 1
            if attempt >= MAX_ATTEMPTS or time.perf_counter() > hard_deadline:
                res["failed"] += 1
                return False
            time.sleep(min(MAX_BACKOFF, 0.02 * 2 ** min(attempt, 6)))
            continue
        key = str(status)
        res["status"][key] = res["status"].get(key, 0) + 1
        if status in (429, 503):
            res["retries"] += 1
            if attempt >= MAX_ATTEMPTS or time.perf_counter() > hard_deadline:
                res["failed"] += 1
                return False
            delay = min(MAX_BACKOFF, 0.02 * 2 ** min(attempt, 6))
            if retry_after:
                try:
                    delay = min(2.0, max(delay, float(retry_after)))
                except ValueError:
                    pass
            time.sleep(delay)
            continue
        t1 = time.perf_counter()
        res["requests"] += 1
        if status != 200:
            res["non200"] += 1
            return False
        head = data[:200]
        if b'"errors":false' not in head:
            res["errors_true"] += 1
            return False
        items = data.count(b'"status":')
        if items and items != ndocs:
            res["item_mismatch"] += 1
        res["latencies"].append(t1 - t0)
        res["lines"] += ndocs
        return True


def worker_main(wid: int, nworkers: int, kind: str, cfg: dict, corpus: list[bytes],
                job_streams: list[bytes], wf_streams: list[bytes], ready_q, start_at, result_q) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _pdeathsig()  # die with the driver even if it is SIGKILLed
    try:
        pool = build_pool(kind, wid, nworkers, cfg, corpus, job_streams, wf_streams)
        base = dt.datetime.fromisoformat(cfg["base_time"])
        ready_q.put(wid)
        while start_at.value == 0.0:
            time.sleep(0.005)
            if time.time() > cfg["ready_deadline"]:
                return
        start = start_at.value
        delay = start - time.time()
        if delay > 0:
            time.sleep(delay)
        res = new_result()
        client = Client(cfg["host"], cfg["port"], "/_bulk", cfg["gzip"], cfg["request_timeout"],
                        cfg.get("access") or PLAIN)
        cycle = cfg["cycle_base"]
        prefix = minute_prefix(base, cycle)
        used_cycles = 1
        max_bodies = cfg["max_bodies"]
        if cfg.get("total_bodies") is not None:  # count bound (total-lines mode): split exactly
            max_bodies = cfg["total_bodies"] // nworkers + (1 if wid < cfg["total_bodies"] % nworkers else 0)
        p0 = time.perf_counter()
        deadline = p0 + cfg["seconds"]
        hard_deadline = deadline + cfg["grace"]
        rate = cfg.get("bodies_per_sec")
        interval = nworkers / rate if rate else 0.0
        res["first"] = time.time()
        cpu0 = time.process_time()
        i = 0
        while i < max_bodies:
            now = time.perf_counter()
            if now >= deadline:
                break
            sched = None
            if rate:
                sched = p0 + (wid / nworkers) * interval + i * interval
                if sched >= deadline:
                    break
                if sched > now:
                    time.sleep(sched - now)
                else:
                    lag = now - sched
                    res["max_lag"] = max(res["max_lag"], lag)
                    if lag > interval * 0.5:
                        res["late"] += 1
            k = i % len(pool)
            if i > 0 and k == 0:
                cycle += 1
                used_cycles += 1
                prefix = minute_prefix(base, cycle)
            tmpl, ndocs = pool[k]
            body = tmpl.replace(MARK, prefix)
            res["bytes"] += len(body)
            if cfg["gzip"]:
                body = gzip.compress(body, compresslevel=1)
            res["wire_bytes"] += len(body)
            ok = send_one(client, body, ndocs, res, hard_deadline)
            if ok and sched is not None:
                res["sched_latencies"].append(time.perf_counter() - sched)
            i += 1
        res["last"] = time.time()
        res["client_cpu"] = time.process_time() - cpu0
        res["cycles"] = used_cycles
        res["bodies_attempted"] = i
        client.close()
        result_q.put((wid, res))
    except BaseException as e:  # report instead of dying silently
        result_q.put((wid, {"fatal": repr(e)}))


# ----------------------------------------------------------------------------------------------
# Server process


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pdeathsig() -> None:
    """In the server child: get SIGKILL if the driver dies without cleaning up."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _server_preexec() -> None:
    """In the server child, before exec: `_pdeathsig`, and with $BENCH_SERVER_CPUS (e.g. "1")
    the server runs on those CPUs only (every thread it starts inherits them)."""
    _pdeathsig()
    cpus = os.environ.get("BENCH_SERVER_CPUS")
    if cpus:
        os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})


class Server:
    def __init__(self, binary: Path, data_dir: Path, port: int, log_path: Path, extra: list[str]):
        self.binary, self.data_dir, self.port, self.log_path = binary, data_dir, port, log_path
        self.log = open(log_path, "wb")
        cmd = [str(binary), "serve", "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{port}",
               "--log-level", "warning", *extra]
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True, preexec_fn=_server_preexec)
        self.pid = self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, grace: float = 60.0) -> dict:
        info: dict = {}
        if self.proc.poll() is None:
            t0 = time.perf_counter()
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=grace)
                info["sigterm_exit_seconds"] = round(time.perf_counter() - t0, 3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                info["killed"] = True
        info["exit_code"] = self.proc.returncode
        self.log.close()
        return info

    def log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def proc_mem(pid: int | None) -> dict:
    out: dict = {}
    if pid is None:
        return out
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:", "RssAnon:", "RssFile:", "RssShmem:")):
                    k, v = line.split(":", 1)
                    out[k] = int(v.split()[0]) * 1024
    except OSError:
        pass
    return out


def proc_cpu(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        fields = s[s.rindex(")") + 2:].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def http_get(host: str, port: int, path: str, timeout: float = 30.0, access: Access = PLAIN) -> tuple[int, bytes]:
    conn = access.connection(host, port, timeout)
    try:
        conn.request("GET", path, headers=access.headers())
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def get_stats(host: str, port: int, access: Access = PLAIN) -> dict | None:
    try:
        status, body = http_get(host, port, "/v1/stats", timeout=60, access=access)
        if status != 200:
            return None
        return json.loads(body)
    except (OSError, http.client.HTTPException, ValueError):
        return None


def wait_health(host: str, port: int, server: Server | None, timeout: float, access: Access = PLAIN) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if server is not None and not server.alive():
            raise RuntimeError(f"server exited with code {server.proc.returncode}:\n{server.log_tail()}")
        try:
            status, body = http_get(host, port, "/health", timeout=2, access=access)
            if status == 200 and b'"ok"' in body:
                return time.perf_counter() - t0
        except ssl.SSLCertVerificationError as e:
            raise RuntimeError(f"the server's certificate does not verify: {e}") from e
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"no 200 from GET /health within {timeout:.0f} s")


def dir_bytes(path: Path) -> tuple[int, int]:
    apparent = allocated = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                st = os.lstat(os.path.join(root, f))
            except OSError:
                continue
            apparent += st.st_size
            allocated += st.st_blocks * 512
    return apparent, allocated


# ----------------------------------------------------------------------------------------------
# Phases (main process)


def pct(sorted_vals: list[float], p: float) -> float | None:
    if not sorted_vals:
        return None
    k = max(0, min(len(sorted_vals) - 1, math.ceil(p / 100.0 * len(sorted_vals)) - 1))
    return sorted_vals[k]


def ms(v: float | None) -> float | None:
    return None if v is None else round(v * 1000.0, 2)


def run_phase(name: str, kind: str, nworkers: int, cfg: dict, shared: tuple, server_pid: int | None,
              workers_box: list) -> dict:
    ctx = mp.get_context("fork")
    ready_q = ctx.Queue()
    result_q = ctx.Queue()
    start_at = ctx.Value("d", 0.0)
    cfg = dict(cfg)
    cfg["ready_deadline"] = time.time() + 300
    corpus, job_streams, wf_streams = shared
    procs = [ctx.Process(target=worker_main, daemon=True,
                         args=(w, nworkers, kind, cfg, corpus, job_streams, wf_streams, ready_q, start_at, result_q))
             for w in range(nworkers)]
    workers_box[:] = procs
    t_gen = time.perf_counter()
    for p in procs:
        p.start()
    results: dict[int, dict] = {}
    ready = 0
    gen_deadline = time.time() + 300
    while ready < nworkers:
        if time.time() > gen_deadline:
            raise RuntimeError(f"phase {name}: workers did not finish pre-generating bodies")
        try:
            ready_q.get(timeout=0.2)
            ready += 1
            continue
        except queue.Empty:
            pass
        # a worker that failed while generating reports on result_q
        while True:
            try:
                wid, r = result_q.get_nowait()
            except queue.Empty:
                break
            if "fatal" in r:
                raise RuntimeError(f"phase {name}: worker {wid} failed: {r['fatal']}")
        dead = [p for p in procs if p.exitcode not in (0, None)]
        if dead:
            raise RuntimeError(f"phase {name}: worker died with exit code {dead[0].exitcode}")
    gen_seconds = time.perf_counter() - t_gen
    cpu0 = proc_cpu(server_pid)
    start_at.value = time.time() + 0.1
    wait_total = cfg["seconds"] + cfg["grace"] + 60
    deadline = time.time() + wait_total
    while len(results) < nworkers:
        left = deadline - time.time()
        if left <= 0:
            raise RuntimeError(f"phase {name}: workers did not report within {wait_total:.0f} s")
        try:
            wid, r = result_q.get(timeout=min(left, 1.0))
        except queue.Empty:
            dead = [p for p in procs if not p.is_alive() and p.exitcode not in (0, None)]
            if dead:
                raise RuntimeError(f"phase {name}: worker died with exit code {dead[0].exitcode}")
            continue
        if "fatal" in r:
            raise RuntimeError(f"phase {name}: worker {wid} failed: {r['fatal']}")
        results[wid] = r
    cpu1 = proc_cpu(server_pid)
    for p in procs:
        p.join(timeout=5)
        if p.is_alive():
            p.kill()
            p.join(timeout=5)
    workers_box[:] = []

    agg = new_result()
    for r in results.values():
        for k in ("requests", "lines", "bytes", "wire_bytes", "retries", "errors_true", "non200",
                  "conn_errors", "failed", "item_mismatch", "late"):
            agg[k] += r[k]
        agg["latencies"].extend(r["latencies"])
        agg["sched_latencies"].extend(r["sched_latencies"])
        for s, c in r["status"].items():
            agg["status"][s] = agg["status"].get(s, 0) + c
        agg["max_lag"] = max(agg["max_lag"], r["max_lag"])
    first = min(r["first"] for r in results.values())
    last = max(r["last"] for r in results.values())
    elapsed = max(1e-9, last - first)
    if cfg.get("bodies_per_sec"):
        # paced: the schedule spans the whole phase; do not credit the stagger of the last send
        elapsed = max(elapsed, cfg["seconds"])
    lat = sorted(agg["latencies"])
    slat = sorted(agg["sched_latencies"])
    mem = proc_mem(server_pid)
    out = {
        "phase": name,
        "kind": kind,
        "connections": nworkers,
        "docs_per_request": round(agg["lines"] / agg["requests"], 1) if agg["requests"] else None,
        "requests_ok": len(lat),
        "requests": agg["requests"],
        "lines": agg["lines"],
        "seconds": round(elapsed, 3),
        "lines_per_sec": round(agg["lines"] / elapsed, 1),
        "requests_per_sec": round(len(lat) / elapsed, 2),
        "mb_per_sec": round(agg["bytes"] / elapsed / 1e6, 2),
        "body_bytes": agg["bytes"],
        "wire_bytes": agg["wire_bytes"],
        "latency_ms": {"p50": ms(pct(lat, 50)), "p90": ms(pct(lat, 90)), "p99": ms(pct(lat, 99)),
                       "max": ms(lat[-1] if lat else None),
                       "mean": ms(sum(lat) / len(lat) if lat else None)},
        "status": agg["status"],
        "retries_429_503": agg["retries"],
        "non200": agg["non200"],
        "errors_true": agg["errors_true"],
        "conn_errors": agg["conn_errors"],
        "failed": agg["failed"],
        "item_count_mismatch": agg["item_mismatch"],
        "pregen_seconds": round(gen_seconds, 2),
        "client_cpu_seconds": round(sum(r["client_cpu"] for r in results.values()), 3),
        "next_cycle": cfg["cycle_base"] + max(r["cycles"] for r in results.values()),
        "server_cpu_seconds": round(cpu1 - cpu0, 3) if cpu0 is not None and cpu1 is not None else None,
        "server_rss_bytes": mem.get("VmRSS"),
        "server_hwm_bytes": mem.get("VmHWM"),
        "server_rss_anon_bytes": mem.get("RssAnon"),
        "server_rss_file_bytes": mem.get("RssFile"),
    }
    if out["server_cpu_seconds"] is not None and agg["lines"]:
        out["server_cpu_us_per_line"] = round(out["server_cpu_seconds"] / agg["lines"] * 1e6, 3)
    if cfg.get("bodies_per_sec"):
        out["target_lines_per_sec"] = cfg["target_lines_per_sec"]
        out["late_sends"] = agg["late"]
        out["max_schedule_lag_ms"] = ms(agg["max_lag"])
        out["latency_from_schedule_ms"] = {"p50": ms(pct(slat, 50)), "p99": ms(pct(slat, 99)),
                                           "max": ms(slat[-1] if slat else None)}
    return out


def probe(host: str, port: int, base: dt.datetime, suffix: bytes, access: Access = PLAIN) -> tuple[bool, str]:
    body = doc(ACTION_JOB, b":00.000Z", b"logstore loadgen probe", suffix).replace(MARK, minute_prefix(base, 0))
    conn = access.connection(host, port, 30)
    try:
        conn.request("POST", "/_bulk", body=body, headers=access.headers({"Content-Type": "application/x-ndjson"}))
        r = conn.getresponse()
        data = r.read()
    except (OSError, http.client.HTTPException) as e:
        return False, f"POST /_bulk failed: {e!r}"
    finally:
        conn.close()
    if r.status != 200 or b'"errors":false' not in data[:200]:
        return False, f"POST /_bulk answered {r.status}: {data[:300]!r}"
    return True, ""


# ----------------------------------------------------------------------------------------------
# Output


def fmt(v, width: int, digits: int = 0) -> str:
    if v is None:
        return "-".rjust(width)
    if isinstance(v, float):
        return f"{v:,.{digits}f}".rjust(width)
    return f"{v:,}".rjust(width)


def security_note(sec: dict | None) -> str:
    """'  TLS, users ingest=… read=…' for the table's title; empty for plain HTTP without users."""
    if not sec or not (sec.get("tls") or sec.get("user") or sec.get("ingest_user")):
        return ""
    parts = ["TLS"] if sec.get("tls") else []
    if sec.get("user") or sec.get("ingest_user"):
        users = sec.get("user") if sec.get("user") == sec.get("ingest_user") else \
            f"{sec.get('ingest_user') or '-'} (bulk), {sec.get('user') or '-'} (other requests)"
        parts.append(f"Basic auth: {users}")
    return "  " + ", ".join(parts)


def print_table(report: dict) -> None:
    print()
    print(f"logstore load — {report['server'].get('target')}  corpus: {report['workload']['corpus']}  "
          f"streams: {report['workload']['job_streams']} jobs + {report['workload']['workflow_streams']} workflow engines"
          f"{'  gzip' if report['workload']['gzip'] else ''}{security_note(report.get('security'))}")
    hdr = (f"{'phase':<12}{'conns':>6}{'docs/req':>9}{'reqs':>8}{'lines':>11}{'secs':>7}{'lines/s':>11}"
           f"{'req/s':>8}{'MB/s':>7}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'retry':>6}{'bad':>5}"
           f"{'cpu s':>7}{'µs/line':>8}{'RSS MB':>8}")
    print(hdr)
    print("-" * len(hdr))
    for p in report["phases"]:
        bad = p["non200"] + p["errors_true"] + p["failed"]
        lat = p["latency_ms"]
        rss = p["server_rss_bytes"] / 1e6 if p["server_rss_bytes"] else None
        print(f"{p['phase']:<12}{p['connections']:>6}{fmt(p['docs_per_request'], 9, 0)}{fmt(p['requests_ok'], 8)}"
              f"{fmt(p['lines'], 11)}{fmt(p['seconds'], 7, 1)}{fmt(p['lines_per_sec'], 11, 0)}"
              f"{fmt(p['requests_per_sec'], 8, 1)}{fmt(p['mb_per_sec'], 7, 1)}{fmt(lat['p50'], 8, 1)}"
              f"{fmt(lat['p99'], 8, 1)}{fmt(lat['max'], 8, 1)}{fmt(p['retries_429_503'], 6)}{fmt(bad, 5)}"
              f"{fmt(p['server_cpu_seconds'], 7, 2)}{fmt(p.get('server_cpu_us_per_line'), 8, 2)}{fmt(rss, 8, 1)}")
    for p in report["phases"]:
        if "target_lines_per_sec" in p:
            s = p["latency_from_schedule_ms"]
            verdict = "OK" if (p["latency_ms"]["p99"] or 1e9) <= 50 else "ABOVE 50 ms TARGET"
            print(f"  {p['phase']}: target {p['target_lines_per_sec']:,} lines/s, achieved {p['lines_per_sec']:,.0f}; "
                  f"p99 {p['latency_ms']['p99']} ms ({verdict}); from schedule p99 {s['p99']} ms; "
                  f"late sends {p['late_sends']}, max lag {p['max_schedule_lag_ms']} ms")
        if p["conn_errors"] or p["item_count_mismatch"] or p["non200"] or p["errors_true"]:
            print(f"  {p['phase']}: status {p['status']}, conn errors {p['conn_errors']}, "
                  f"errors:true {p['errors_true']}, item-count mismatches {p['item_count_mismatch']}")
    f = report["final"]
    print()
    mb = lambda v: f"{v / 1e6:,.1f} MB" if v else "-"
    print(f"server RSS {mb(f.get('server_rss_bytes'))}, peak (VmHWM) {mb(f.get('server_hwm_bytes'))}, "
          f"CPU {f.get('server_cpu_seconds', '-')} s (utime+stime, whole run)")
    print(f"  of the RSS: anonymous (heap) {mb(f.get('server_rss_anon_bytes'))}, file-backed (mmap'd LMDB pages, "
          f"reclaimable page cache) {mb(f.get('server_rss_file_bytes'))}")
    if f.get("rss_after_settle_bytes"):
        print(f"server RSS after {f['settle_seconds']} s idle: {mb(f['rss_after_settle_bytes'])} "
              f"(anonymous {mb(f.get('rss_anon_after_settle_bytes'))})")
    print(f"lines acknowledged by the driver: {f['lines_acknowledged']:,} (+{f['probe_lines']} probe)")
    if f.get("stats_lines_delta") is not None:
        verdict = "match" if f["stats_lines_delta"] == f["lines_acknowledged"] + f["probe_lines"] else "MISMATCH"
        print(f"/v1/stats lines delta: {f['stats_lines_delta']:,} ({verdict}); rawBytes {mb(f.get('stats_raw_bytes'))}, "
              f"storedBytes {mb(f.get('stats_stored_bytes'))}, ratio {f.get('stats_ratio')}")
    else:
        print("/v1/stats: not available")
    if f.get("data_dir_bytes") is not None:
        print(f"data dir: {mb(f['data_dir_bytes'])} apparent, {mb(f['data_dir_allocated_bytes'])} allocated")
    if "total_lines_target" in f:
        rss = f.get("server_rss_bytes") or 0
        anon = f.get("server_rss_anon_bytes") or 0
        judge = lambda v: "OK" if v and v <= 200e6 else "ABOVE 200 MB TARGET" if v else "?"
        print(f"total-lines mode: {f['total_lines_target']:,} lines requested; RSS {mb(rss)} ({judge(rss)}), "
              f"anonymous {mb(anon)} ({judge(anon)})")
    if report.get("shutdown"):
        print(f"shutdown: {report['shutdown']}")
    print(f"verdict: {'OK' if report['ok'] else 'PROBLEMS (see non-200/errors above)'}")


# ----------------------------------------------------------------------------------------------
# Main


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description="Replay FluentBit-shaped OpenSearch bulk bodies (REANA labels) against logstore and "
                    "report throughput, latency, RSS and CPU. Phases: big (2000-doc bodies, closed loop), "
                    "small (1-3 lines for ~100 streams per request), rate (paced, default 30,000 lines/s).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--bin", default=DEFAULT_BIN, help="logstore binary (relative paths resolve against the repo root)")
    ap.add_argument("--url", help="use an already running server instead (127.0.0.1/localhost only), e.g. http://127.0.0.1:9200")
    ap.add_argument("--pid", type=int, help="with --url: pid of that server, for RSS and CPU figures")
    ap.add_argument("--data-dir", help="data directory for the started server (default: a temp dir, removed at the end)")
    ap.add_argument("--keep-data", action="store_true", help="do not remove the temp data dir")
    ap.add_argument("--server-arg", action="append", default=[], help="extra argument for `logstore serve` (repeatable)")
    ap.add_argument("--corpus", help=f"directory of *.log files for message text (default {DEFAULT_CORPUS} from the repo root)")
    ap.add_argument("--phases", default="big,small,rate", help="comma list of: big, small, rate")
    ap.add_argument("--seconds", type=float, default=5.0, help="duration of each phase")
    ap.add_argument("--quick", action="store_true", help="short run (< 60 s): 2 s phases, small pools")
    ap.add_argument("--conns", type=int, default=4, help="connections (processes) for the big and rate phases")
    ap.add_argument("--small-conns", type=int, default=4, help="connections (processes) for the small phase")
    ap.add_argument("--docs", type=int, default=2000, help="documents per body in the big phase")
    ap.add_argument("--small-streams", type=int, default=100, help="streams per request in the small phase (1-3 lines each)")
    ap.add_argument("--rate", type=int, default=30000, help="lines/s of the rate phase")
    ap.add_argument("--rate-docs", type=int, default=2000, help="documents per body in the rate phase")
    ap.add_argument("--workflows", type=int, default=60)
    ap.add_argument("--jobs", type=int, default=50, help="jobs per workflow (streams = workflows x jobs)")
    ap.add_argument("--batch-share", type=float, default=0.02,
                    help="share of documents from workflow-engine (batch) pods, index fluentbit-workflow_log")
    ap.add_argument("--pool", type=int, default=0, help="pre-generated bodies per worker (0 = automatic)")
    ap.add_argument("--gzip", action="store_true", help="send Content-Encoding: gzip bodies (compressed by the driver, level 1)")
    ap.add_argument("--total-lines", type=int, help="instead of the phases: ingest N lines as fast as possible, then report RSS")
    ap.add_argument("--max-seconds", type=float, default=900, help="time cap of --total-lines mode")
    ap.add_argument("--settle", type=float, default=5.0, help="seconds to wait idle before a last RSS reading")
    ap.add_argument("--request-timeout", type=float, default=120.0)
    ap.add_argument("--startup-timeout", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", dest="json_path", help="write every figure to this JSON file")
    add_access_args(ap, "the bulk requests (the probe included)")
    a = ap.parse_args(argv)
    if a.quick:
        a.seconds = min(a.seconds, 2.0)
        a.settle = min(a.settle, 1.0)
    for p in a.phases.split(","):
        if p not in ("big", "small", "rate"):
            ap.error(f"unknown phase {p!r}")
    if a.conns < 1 or a.small_conns < 1 or a.conns > 64 or a.small_conns > 64:
        ap.error("--conns/--small-conns must be 1..64")
    if not (1 <= a.docs <= 100000 and 1 <= a.rate_docs <= 100000):
        ap.error("--docs/--rate-docs must be 1..100000")
    if a.seconds <= 0 or a.seconds > 3600:
        ap.error("--seconds must be in (0, 3600]")
    if a.total_lines is not None and not (1 <= a.total_lines <= 1_000_000_000):
        ap.error("--total-lines must be 1..1e9")
    return a


def kill_all(processes) -> None:
    """Kills and reaps every child process still alive (clean-up on exit, error or Ctrl-C)."""
    for p in processes:
        try:
            if p.is_alive():
                p.kill()
            p.join(timeout=5)
        except Exception:
            pass


def main(argv: list[str]) -> int:
    a = parse_args(argv)
    access, ingest_access = resolve_access(a)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)

    corpus_dir = Path(a.corpus) if a.corpus else (REPO_ROOT / DEFAULT_CORPUS)
    corpus, corpus_source = load_corpus(corpus_dir.resolve() if corpus_dir.exists() else None)
    job_streams, wf_streams = make_streams(a.workflows, a.jobs, a.seed)
    if a.batch_share <= 0:
        wf_streams_used: list[bytes] = []
    else:
        wf_streams_used = wf_streams
    shared = (corpus, job_streams, wf_streams_used)
    # event time: starts two hours ago on a whole minute; each pool wrap moves one minute on
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0, tzinfo=None)
    base = now - dt.timedelta(hours=2)

    server: Server | None = None
    temp_dir: Path | None = None
    workers_box: list = []
    report: dict = {"started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "argv": argv,
                    "server": {}, "phases": [], "final": {}, "ok": False}
    exit_code = 1
    try:
        if a.url:
            u = urllib.parse.urlsplit(a.url)
            host, port = u.hostname or "", u.port or 9200
            if host not in LOCAL_HOSTS or u.scheme not in ("http", "https"):
                print("error: --url must be http(s)://127.0.0.1:PORT (local targets only)", file=sys.stderr)
                return 2
            if u.scheme == "http" and access.tls:
                print("error: --ca-cert/--tls need an https:// --url", file=sys.stderr)
                return 2
            if host == "localhost" and not access.tls:  # over TLS the name must match the certificate
                host = "127.0.0.1"
            pid = a.pid
            report["server"] = {"target": f"{access.scheme}://{host}:{port}", "started_by_driver": False, "pid": pid}
        else:
            binary = Path(a.bin)
            if not binary.is_absolute():
                binary = REPO_ROOT / binary
            if not os.access(binary, os.X_OK):
                print(f"error: {binary} not found or not executable; build it with\n"
                      f"  swift build -c release --product logstore   (or pass --bin / --url)", file=sys.stderr)
                return 2
            host, port = "127.0.0.1", free_port()
            if a.data_dir:
                data_dir = Path(a.data_dir)
                data_dir.mkdir(parents=True, exist_ok=True)
                log_path = data_dir.parent / f"logstore-load-{port}.log"
            else:
                temp_dir = Path(tempfile.mkdtemp(prefix="logstore-load-"))
                data_dir = temp_dir / "data"
                log_path = temp_dir / "server.log"
            server = Server(binary, data_dir, port, log_path, a.server_arg)
            pid = server.pid
            report["server"] = {"target": f"{access.scheme}://{host}:{port}", "started_by_driver": True, "pid": pid,
                                "binary": str(binary), "data_dir": str(data_dir), "log": str(log_path),
                                "command": server.cmd}
        report["security"] = {"tls": access.tls, "ca_cert": access.ca_cert, "user": access.user,
                              "ingest_user": ingest_access.user}
        startup = wait_health(host, port, server, a.startup_timeout, access)
        report["server"]["health_seconds"] = round(startup, 3)
        stats0 = get_stats(host, port, access)
        t_probe = time.perf_counter()
        ok, why = probe(host, port, base, job_streams[0], ingest_access)
        report["server"]["probe_seconds"] = round(time.perf_counter() - t_probe, 3)  # a first login's check included
        if not ok:
            print(f"error: the server does not accept bulk requests yet: {why}", file=sys.stderr)
            return 3
        probe_lines = 1

        cycle = 1
        common = {"host": host, "port": port, "gzip": a.gzip, "seed": a.seed, "base_time": base.isoformat(),
                  "batch_share": a.batch_share, "request_timeout": a.request_timeout,
                  "small_streams": a.small_streams, "grace": 30.0, "access": ingest_access}
        report["workload"] = {"corpus": corpus_source, "corpus_lines": len(corpus), "job_streams": len(job_streams),
                              "workflow_streams": len(wf_streams_used), "batch_share": a.batch_share,
                              "gzip": a.gzip, "event_time_base": base.isoformat() + "Z"}

        plan: list[tuple[str, str, int, dict]] = []
        if a.total_lines is not None:
            per_body = a.docs
            bodies = math.ceil(a.total_lines / per_body)
            per_worker = math.ceil(bodies / a.conns)
            pool = a.pool or max(2, min(16, per_worker))
            plan.append(("total", "big", a.conns, {"docs": per_body, "pool": pool, "seconds": a.max_seconds,
                                                   "total_bodies": bodies, "max_bodies": per_worker}))
        else:
            for ph in a.phases.split(","):
                if ph == "big":
                    pool = a.pool or (4 if a.quick else 16)
                    plan.append(("big", "big", a.conns, {"docs": a.docs, "pool": pool, "seconds": a.seconds,
                                                         "max_bodies": 10_000_000}))
                elif ph == "small":
                    pool = a.pool or (32 if a.quick else 128)
                    plan.append(("small", "small", a.small_conns, {"pool": pool, "seconds": a.seconds,
                                                                   "max_bodies": 10_000_000}))
                elif ph == "rate":
                    bps = a.rate / a.rate_docs
                    per_worker = math.ceil(bps * a.seconds / a.conns) + 1
                    pool = a.pool or max(2, min(16, per_worker))
                    plan.append(("rate", "big", a.conns, {"docs": a.rate_docs, "pool": pool, "seconds": a.seconds,
                                                          "bodies_per_sec": bps, "target_lines_per_sec": a.rate,
                                                          "max_bodies": per_worker}))
        for name, kind, nw, extra in plan:
            cfg = dict(common, **extra, cycle_base=cycle)
            print(f"phase {name}: {nw} connections, {extra['seconds']:g} s max ...", file=sys.stderr, flush=True)
            res = run_phase(name, kind, nw, cfg, shared, pid, workers_box)
            cycle = res.pop("next_cycle") + 1
            report["phases"].append(res)
            if server is not None and not server.alive():
                raise RuntimeError(f"server exited during phase {name}:\n{server.log_tail()}")

        sent = sum(p["lines"] for p in report["phases"])
        final: dict = {"lines_acknowledged": sent, "probe_lines": probe_lines}
        mem = proc_mem(pid)
        final["server_rss_bytes"] = mem.get("VmRSS")
        final["server_hwm_bytes"] = mem.get("VmHWM")
        final["server_rss_anon_bytes"] = mem.get("RssAnon")
        final["server_rss_file_bytes"] = mem.get("RssFile")
        cpu = proc_cpu(pid)
        final["server_cpu_seconds"] = round(cpu, 3) if cpu is not None else None
        if a.total_lines is not None:
            final["total_lines_target"] = a.total_lines
        if a.settle > 0 and pid is not None:
            time.sleep(a.settle)
            final["settle_seconds"] = a.settle
            m2 = proc_mem(pid)
            final["rss_after_settle_bytes"] = m2.get("VmRSS")
            final["rss_anon_after_settle_bytes"] = m2.get("RssAnon")
        stats1 = get_stats(host, port, access)
        if stats1 is not None:
            before = stats0.get("lines", 0) if stats0 else 0
            final["stats_lines_delta"] = stats1.get("lines", 0) - before
            final["stats_lines"] = stats1.get("lines")
            final["stats_streams"] = stats1.get("streams")
            final["stats_raw_bytes"] = stats1.get("rawBytes")
            final["stats_stored_bytes"] = stats1.get("storedBytes")
            final["stats_ratio"] = stats1.get("ratio")
        if server is not None:
            app, alloc = dir_bytes(server.data_dir)
            final["data_dir_bytes"], final["data_dir_allocated_bytes"] = app, alloc
        report["final"] = final
        bad = sum(p["non200"] + p["errors_true"] + p["failed"] for p in report["phases"])
        stats_ok = final.get("stats_lines_delta") in (None, sent + probe_lines)
        report["ok"] = bad == 0 and stats_ok
        exit_code = 0 if report["ok"] else 4
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        exit_code = 130
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        exit_code = 1
    finally:
        kill_all(workers_box)
        if server is not None:
            report["shutdown"] = server.stop()
        if temp_dir is not None and not a.keep_data:
            shutil.rmtree(temp_dir, ignore_errors=True)
        elif temp_dir is not None:
            print(f"data kept in {temp_dir}", file=sys.stderr)
    if report["phases"]:
        print_table(report)
    if a.json_path:
        with open(a.json_path, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    return exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
