#!/usr/bin/env python3
"""logstore and PostgreSQL side by side on the REANA-like reference workload: `make bench-load`.

One run, one machine, the same data for both (event time on the previous UTC day):
  1. workload  workload.py: 60 workflows x 50 jobs x 1000 lines + 60 workflow-engine streams,
               FluentBit bulk bodies, search words with their true counts (seeded)
  2. ingest    large bodies (2000 documents) over 4 connections, as fast as possible:
               logstore POST /_bulk; PostgreSQL: parse + one transaction per body with COPY
  3. reads     one job's whole log, open loop at 10/50/200 requests/s (loaddriver, Swift,
               HDR histograms): logstore REANA's `_search` and `/v1/logs`; PostgreSQL
               SELECT … WHERE job = $1 ORDER BY ts LIMIT 5000 — idle
  4. search    a word in ~10 % of the lines, rarer words, phrases: newest 100 and exact count,
               checked against the generator's true counts (and each other)
  5. storage   once logstore's heads are sealed (>= --settle s after the ingest) / after
               PostgreSQL's CHECKPOINT: bytes on disk against the raw bulk bytes, for logstore
               also after compacting the (finished) day; server memory (PSS, all processes)
  6. small     FluentBit's per-second chunks (one node's per-stream chunks per request)
  7. reads     as 3, while ingesting 30,000 lines/s in the background (paced big bodies that
               continue the same jobs)
  8. tail      logstore only, when the server answers GET /v1/tail: delivery latency of a line
               from POST /_bulk to the long-poll's answer

Writes Benchmarks/results/bench-load-<UTC time>.json (and --json FILE) and prints the table.
Leaves no process behind: the servers and every worker are stopped in `finally`, also on
Ctrl-C/SIGTERM, and get SIGKILL by PR_SET_PDEATHSIG if this driver is killed.
See Benchmarks/load/README.md.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import gzip
import http.client
import json
import math
import multiprocessing as mp
import os
import platform
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import loadgen as lg  # noqa: E402
import pgpeer  # noqa: E402
import workload as wl  # noqa: E402

REPO = lg.REPO_ROOT
DEFAULT_DRIVER = "Benchmarks/.build/release/loaddriver"
RESULTS_DIR = REPO / "Benchmarks" / "results"
SEARCH_HEADERS = {  # REANA's read as opensearch-py 2.7 sends it (Tests/Fixtures/reana/search_job_log.*)
    "content-type": "application/json", "user-agent": "opensearch-py/2.7.1 (Python 3.11.7)",
    "accept-encoding": "gzip,deflate", "content-encoding": "gzip",
}
TARGETS = {  # logstore against PostgreSQL: how many times better (ratio)
    "ingest": 6.0, "read200_idle": 2.0, "read200_ingest": 3.0, "search10": 50.0, "stored": 80.0, "memory": 5.0,
}
OPENSEARCH = {  # measured on a production REANA OpenSearch cluster (43 nodes, other hardware), ms
    "plain_1rps": "mean 1132 / p50 1096 / p95 1360", "plain_10rps": "21738 / 27124 / 30001 (timeouts)",
    "optimized_10rps": "55 / 53 / 75",
}

BODIES: list = []     # (node, body, docs) of the current phase; set before forking the workers


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# Process figures: CPU (utime+stime) and memory (PSS) of a server — all of its processes


def proc_stat(pid: int) -> tuple[float, float] | None:
    """(utime+stime, cutime+cstime) in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        x = s[s.rindex(")") + 2:].split()
        tck = os.sysconf("SC_CLK_TCK")
        return (int(x[11]) + int(x[12])) / tck, (int(x[13]) + int(x[14])) / tck
    except (OSError, ValueError, IndexError):
        return None


def server_cpu(pids: list[int]) -> float:
    """CPU seconds of a server: its processes, plus the reaped children of the first (the
    postmaster's backends that ended)."""
    total = 0.0
    for i, p in enumerate(pids):
        st = proc_stat(p)
        if st:
            total += st[0] + (st[1] if i == 0 else 0.0)
    return total


def smaps_rollup(pid: int) -> dict:
    out = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("Rss", "Pss", "Pss_Anon", "Pss_File", "Pss_Shmem"):
                    out[k] = int(v.split()[0]) * 1024
    except OSError:
        pass
    return out


def server_memory(pids: list[int]) -> dict:
    """Sum over the server's processes of PSS (shared pages divided among their sharers, so
    PostgreSQL's shared buffers count once) and its parts; Rss summed for reference."""
    tot = {"Rss": 0, "Pss": 0, "Pss_Anon": 0, "Pss_File": 0, "Pss_Shmem": 0, "processes": 0}
    for p in pids:
        m = smaps_rollup(p)
        if m:
            tot["processes"] += 1
            for k, v in m.items():
                tot[k] += v
    return tot


def du(path: Path) -> int:
    """Allocated bytes under path (like du)."""
    return lg.dir_bytes(path)[1]


# ----------------------------------------------------------------------------------------------
# Ingest workers: one process per connection, bodies by node (a FluentBit per node)


def ingest_worker(system: str, wid: int, nworkers: int, target: dict, paced: dict | None,
                  ready_q, start_at, stop_ev, result_q) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lg._pdeathsig()
    try:
        if paced:  # pre-generate this worker's continuation bodies (not measured)
            w = paced["workload"]
            mine = w.big_bodies(first_second=paced["first"], seconds=paced["seconds"],
                                lines_per_stream=paced["first"] + paced["seconds"],
                                nodes=[n for n in range(w.nodes) if n % nworkers == wid])
        else:
            mine = [b for b in BODIES if b[0] % nworkers == wid]
        if system == "logstore":
            client = lg.Client("127.0.0.1", target["port"], "/_bulk", False, 120.0)
            loader = None
        else:
            client = None
            loader = pgpeer.Loader(target["dsn"])
        ready_q.put(wid)
        while start_at.value == 0.0:
            time.sleep(0.005)
        delay = start_at.value - time.time()
        if delay > 0:
            time.sleep(delay)
        res = lg.new_result()
        res["first"] = time.time()
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        # paced: this worker's share of the lines/s, at the mean size of its bodies
        interval = (sum(b[2] for b in mine) / max(1, len(mine))) / (paced["lines_per_sec"] / nworkers) if paced else 0.0
        hard_end = t0 + (paced["max_seconds"] if paced else target["max_seconds"])
        for i, (_, body, ndocs) in enumerate(mine):
            if stop_ev.is_set() or time.perf_counter() > hard_end:
                break
            if paced:
                due = t0 + (wid / nworkers) * interval + i * interval  # workers staggered
                now = time.perf_counter()
                if due > now:
                    if stop_ev.wait(due - now):
                        break
                elif now - due > interval * 0.5:
                    res["late"] += 1
            res["bytes"] += len(body)
            if client is not None:
                lg.send_one(client, body, ndocs, res, hard_end + 30)
            else:
                s0 = time.perf_counter()
                try:
                    n = loader.load(body)
                except Exception as e:  # counted, reported
                    res["failed"] += 1
                    res.setdefault("error_examples", []).append(repr(e)[:200])
                    continue
                res["latencies"].append(time.perf_counter() - s0)
                res["requests"] += 1
                res["lines"] += n
                if n != ndocs:
                    res["item_mismatch"] += 1
        res["last"] = time.time()
        res["client_cpu"] = time.process_time() - cpu0
        res["bodies_planned"] = len(mine)
        if client is not None:
            client.close()
        if loader is not None:
            loader.close()
        result_q.put((wid, res))
    except BaseException as e:
        result_q.put((wid, {"fatal": repr(e)}))


class IngestRun:
    """Starts the workers; wait() for a closed-loop run, stop() for a background (paced) one."""

    def __init__(self, system: str, target: dict, nworkers: int, pids_fn, box: list, paced: dict | None = None):
        ctx = mp.get_context("fork")
        self.ready_q, self.result_q = ctx.Queue(), ctx.Queue()
        self.start_at = ctx.Value("d", 0.0)
        self.stop_ev = ctx.Event()
        self.pids_fn = pids_fn
        self.nworkers = nworkers
        self.procs = [ctx.Process(target=ingest_worker, daemon=True,
                                  args=(system, w, nworkers, target, paced, self.ready_q, self.start_at,
                                        self.stop_ev, self.result_q)) for w in range(nworkers)]
        box.extend(self.procs)
        for p in self.procs:
            p.start()
        ready, deadline = 0, time.time() + 300
        while ready < nworkers:
            if time.time() > deadline:
                raise RuntimeError("ingest workers not ready within 300 s")
            try:
                self.ready_q.get(timeout=0.5)
                ready += 1
            except queue.Empty:
                self._check_fatal()
                if any(p.exitcode not in (0, None) for p in self.procs):
                    raise RuntimeError("an ingest worker died while preparing")
        self.cpu0 = server_cpu(pids_fn())
        self.t0 = time.time() + 0.1
        self.start_at.value = self.t0

    def _check_fatal(self) -> None:
        try:
            wid, r = self.result_q.get_nowait()
        except queue.Empty:
            return
        if "fatal" in r:
            raise RuntimeError(f"ingest worker {wid} failed: {r['fatal']}")
        self._early = getattr(self, "_early", []) + [r]

    def stop(self) -> dict:
        self.stop_ev.set()
        return self.wait(90)

    def wait(self, timeout: float) -> dict:
        results = list(getattr(self, "_early", []))
        deadline = time.time() + timeout
        while len(results) < self.nworkers:
            if time.time() > deadline:
                raise RuntimeError("ingest workers did not report in time")
            try:
                wid, r = self.result_q.get(timeout=0.5)
            except queue.Empty:
                if any(not p.is_alive() and p.exitcode not in (0, None) for p in self.procs):
                    raise RuntimeError("an ingest worker died")
                if not self.pids_fn():  # the server is gone: the workers would retry until their deadline
                    self.stop_ev.set()
                    raise RuntimeError("the server exited during the ingest (see its log)")
                continue
            if "fatal" in r:
                raise RuntimeError(f"ingest worker {wid} failed: {r['fatal']}")
            results.append(r)
        cpu1 = server_cpu(self.pids_fn())
        for p in self.procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
        first = min(r["first"] for r in results)
        last = max(r["last"] for r in results)
        elapsed = max(1e-9, last - first)
        lat = sorted(x for r in results for x in r["latencies"])
        lines = sum(r["lines"] for r in results)
        out = {
            "lines": lines, "requests": sum(r["requests"] for r in results), "seconds": round(elapsed, 2),
            "first": round(first, 3), "last": round(last, 3),
            "lines_per_sec": round(lines / elapsed), "body_bytes": sum(r["bytes"] for r in results),
            "latency_ms": {"p50": lg.ms(lg.pct(lat, 50)), "p99": lg.ms(lg.pct(lat, 99)),
                           "max": lg.ms(lat[-1] if lat else None)},
            "bad": sum(r["non200"] + r["errors_true"] + r["failed"] for r in results),
            "item_mismatch": sum(r["item_mismatch"] for r in results),
            "retries_429_503": sum(r["retries"] for r in results),
            "late_sends": sum(r["late"] for r in results),
            "server_cpu_seconds": round(cpu1 - self.cpu0, 2),
            "client_cpu_seconds": round(sum(r["client_cpu"] for r in results), 2),
            "bodies_planned": sum(r["bodies_planned"] for r in results),
            "errors": [e for r in results for e in r.get("error_examples", [])][:3],
        }
        out["server_cpu_us_per_line"] = round(out["server_cpu_seconds"] / lines * 1e6, 2) if lines else None
        return out


def ingest_closed(system: str, target: dict, bodies: list, nworkers: int, pids_fn, box: list) -> dict:
    global BODIES
    BODIES = bodies
    try:
        run = IngestRun(system, target, nworkers, pids_fn, box)
        return run.wait(target["max_seconds"] + 120)
    finally:
        BODIES = []
        box.clear()


# ----------------------------------------------------------------------------------------------
# The Swift driver


class Driver:
    def __init__(self, path: Path, tmp: Path, timeout: float):
        self.path, self.tmp, self.timeout = path, tmp, timeout
        self.n = 0

    def run(self, label: str, target_args: list[str], requests: list[dict], mode_args: list[str],
            wall_limit: float) -> dict:
        self.n += 1
        req = self.tmp / f"req-{self.n}.ndjson"
        out = self.tmp / f"out-{self.n}.json"
        with open(req, "w") as f:
            for r in requests:
                f.write(json.dumps(r, separators=(",", ":")) + "\n")
        cmd = [str(self.path), *target_args, "--requests", str(req), "--json", str(out), "--label", label,
               "--timeout", str(self.timeout), *mode_args]
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, preexec_fn=lg._pdeathsig)
        try:
            p.wait(timeout=wall_limit)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            return {"label": label, "error": f"driver exceeded {wall_limit:.0f} s"}
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        if p.returncode != 0 or not out.exists():
            return {"label": label, "error": f"driver exit code {p.returncode}"}
        return json.loads(out.read_text())


def open_loop(driver: Driver, label: str, target_args: list[str], requests: list[dict], rate: float,
              seconds: float, connections: int = 32) -> dict:
    r = driver.run(label, target_args, requests,
                   ["--mode", "open", "--rate", str(rate), "--seconds", str(seconds),
                    "--connections", str(connections), "--grace", "10"],
                   wall_limit=seconds + 10 + driver.timeout + 60)
    short = r.get("latency_ms", {})
    log(f"  {label}: {r.get('achieved_rps')} req/s achieved, p50 {short.get('p50')} p95 {short.get('p95')} "
        f"p99 {short.get('p99')} max {short.get('max')} ms, errors {r.get('errors')}, "
        f"mismatches {r.get('count_mismatches')}, unsent {r.get('unsent')} {r.get('error', '')}")
    return r


def sequential(driver: Driver, label: str, target_args: list[str], requests: list[dict], count: int,
               max_seconds: float) -> dict:
    r = driver.run(label, target_args, requests,
                   ["--mode", "sequential", "--count", str(count), "--seconds", str(max_seconds),
                    "--connections", "1", "--grace", "0"],
                   wall_limit=max_seconds + driver.timeout + 60)
    short = r.get("service_ms", {})
    log(f"  {label}: p50 {short.get('p50')} max {short.get('max')} ms, answers {r.get('lines_per_answer')}, "
        f"errors {r.get('errors')}, mismatches {r.get('count_mismatches')} {r.get('error', '')}")
    return r


# ----------------------------------------------------------------------------------------------
# Requests


def job_requests(system: str, kind: str, w: wl.Workload, seed: int, n: int, expect_op: str) -> list[dict]:
    import random
    rng = random.Random(seed)
    jobs = w.jobs
    out = []
    for _ in range(n):
        s = jobs[rng.randrange(len(jobs))]
        expect = min(5000, s.lines)
        if system == "postgres":
            out.append({"sql": pgpeer.JOB_LOG_SQL, "params": [s.name], "count": "rows", "expect": expect, "op": expect_op})
        elif kind == "search":
            q = {"query": {"match": {"kubernetes.labels.job-name.keyword": s.name}},
                 "sort": [{"@timestamp": {"order": "asc"}}]}
            body = gzip.compress(json.dumps(q, separators=(",", ":")).encode())
            out.append({"method": "POST", "path": "/fluentbit-job_log/_search?size=5000", "headers": SEARCH_HEADERS,
                        "body_b64": base64.b64encode(body).decode(), "count": "hits", "expect": expect, "op": expect_op})
        else:
            out.append({"method": "GET", "path": f"/v1/logs?job={urllib.parse.quote(s.name)}&limit=5000",
                        "count": "lsn", "expect": expect, "op": expect_op})
    return out


def logstore_query(q: str) -> str:
    words = wl.TOKEN_RE.findall(q)
    return f'"{q}"' if len(words) > 1 else q


# ----------------------------------------------------------------------------------------------
# Phases per system


def server_cores(pids_fn, seconds: float) -> float:
    """The server's CPU over the next `seconds`, in cores (1.0 = one core busy)."""
    c0, t0 = server_cpu(pids_fn()), time.time()
    time.sleep(seconds)
    return (server_cpu(pids_fn()) - c0) / (time.time() - t0)


def wait_quiet(pids_fn, baseline: float, max_seconds: float = 60.0) -> float:
    """Waits until the server uses at most `baseline` (fraction of a core, measured over 1 s),
    so that a step does not inherit the backlog of an overloaded previous step. Returns the
    seconds waited."""
    t0 = time.time()
    while time.time() - t0 < max_seconds:
        if server_cores(pids_fn, 1.0) <= baseline:
            break
    return round(time.time() - t0, 1)


def read_phases(driver: Driver, system: str, kinds: list[str], target_args: list[str], w: wl.Workload,
                rates: list[float], seconds: float, tag: str, expect_op: str, seed: int,
                mem_fn=None, pids_fn=None, quiet: float = 0.1, max_wait: float = 60.0) -> dict:
    out: dict = {}
    for kind in kinds:
        for rate in rates:
            waited = wait_quiet(pids_fn, quiet, max_wait) if pids_fn is not None else None
            n = max(50, int(rate * seconds))
            reqs = job_requests(system, kind, w, seed + int(rate), n, expect_op)
            cpu0, t0 = (server_cpu(pids_fn()) if pids_fn is not None else None), time.time()
            r = open_loop(driver, f"{system} {kind} {tag} {rate:g}/s", target_args, reqs, rate, seconds)
            r["step_started"], r["step_ended"] = round(t0, 3), round(time.time(), 3)
            if cpu0 is not None:
                # the server's CPU over the driver's whole run (start, the step, its grace), to
                # set against the answers it gave: what one answer costs the shared cores
                r["server_cpu_seconds"] = round(server_cpu(pids_fn()) - cpu0, 3)
            if mem_fn is not None:
                r["server_memory"] = mem_fn()
            r["loadavg_after"] = open("/proc/loadavg").read().split()[:3]
            r["quiet_wait_seconds"] = waited
            out[f"{kind}@{rate:g}"] = r
    return out


def search_phase(driver: Driver, system: str, target_args: list[str], queries: list[str], truth: dict,
                 reps: int, max_seconds: float) -> dict:
    out: dict = {}
    for q in queries:
        t = truth[q]
        if system == "postgres":
            newest = [{"sql": pgpeer.NEWEST_SQL, "params": [q], "count": "rows", "expect": min(100, t)}]
            count = [{"sql": pgpeer.COUNT_SQL, "params": [q], "count": "scalar", "expect": t}]
        else:
            lq = urllib.parse.quote(logstore_query(q))
            newest = [{"method": "GET", "path": f"/v1/search?q={lq}&limit=100", "count": "lsn", "expect": min(100, t)}]
            count = [{"method": "GET", "path": f"/v1/hits?q={lq}&step=1d", "count": "total", "expect": t}]
        out[q] = {
            "true_count": t,
            "newest100": sequential(driver, f"{system} search newest 100 '{q}'", target_args, newest, reps, max_seconds),
            "count": sequential(driver, f"{system} search count '{q}'", target_args, count, reps, max_seconds),
        }
    return out


def tail_phase(port: int, w: wl.Workload, samples: int) -> dict:
    """Delivery latency of /v1/tail (logstore only; skipped when the server has no /v1/tail)."""
    job = w.jobs[0]
    try:
        st, body = lg.http_get("127.0.0.1", port, "/health")
        last = json.loads(body).get("last_lsn", 0)
        st, body = lg.http_get("127.0.0.1", port,
                               f"/v1/tail?job={urllib.parse.quote(job.name)}&after={last}&wait=0", timeout=10)
    except (OSError, http.client.HTTPException, ValueError) as e:
        return {"skipped": f"/v1/tail not reachable: {e!r}"}
    if st != 200:
        return {"skipped": f"GET /v1/tail answered {st} (the endpoint is not in this build)"}
    try:
        cursor = json.loads(body).get("next", last)
    except ValueError:
        return {"skipped": "GET /v1/tail answered 200 without JSON"}
    lat, errors = [], 0
    now = dt.datetime.now(dt.timezone.utc)
    for i in range(samples):
        box: dict = {}

        def poll():
            try:
                s, b = lg.http_get("127.0.0.1", port, f"/v1/tail?job={urllib.parse.quote(job.name)}"
                                   f"&after={urllib.parse.quote(str(cursor))}&wait=5", timeout=15)
                box["t"] = time.perf_counter()
                box["status"], box["body"] = s, b
            except Exception as e:  # noqa: BLE001
                box["error"] = repr(e)

        th = threading.Thread(target=poll)
        th.start()
        time.sleep(0.2)
        ts = (now + dt.timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z").encode()
        doc = (job.index + b'{"@timestamp":"' + ts + b'","log":"tail probe ' + str(i).encode() + job.suffix)
        t0 = time.perf_counter()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            c.request("POST", "/_bulk", body=doc, headers={"Content-Type": "application/x-ndjson"})
            c.getresponse().read()
        finally:
            c.close()
        th.join(timeout=20)
        if box.get("status") == 200:
            try:
                d = json.loads(box["body"])
                if d.get("lines"):
                    lat.append(box["t"] - t0)
                    cursor = d.get("next", cursor)
                    continue
            except ValueError:
                pass
        errors += 1
    lat.sort()
    return {"samples": len(lat), "errors": errors,
            "latency_ms": {"p50": lg.ms(lg.pct(lat, 50)), "p95": lg.ms(lg.pct(lat, 95)),
                           "max": lg.ms(lat[-1] if lat else None)}}


INGEST_WAIT = 15.0  # at most this long between steps while ingesting


def paced_cfg(w: wl.Workload, first: int, rate: float, seconds: float) -> dict:
    span = math.ceil(rate * (seconds + 5) / len(w.streams)) + 1
    return {"workload": w, "first": first, "seconds": span, "lines_per_sec": rate, "max_seconds": seconds + 30}


# ----------------------------------------------------------------------------------------------
# Main


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="logstore and PostgreSQL side by side on the REANA-like reference workload",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="< 3 min: 100 lines per job, 2 s read steps, 1 search repetition")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lines-per-job", type=int, default=1000)
    ap.add_argument("--conns", type=int, default=4, help="ingest connections (loader processes) for both systems")
    ap.add_argument("--rates", default="10,50,200", help="read rates, requests/s")
    ap.add_argument("--logstore-rates", default=None,
                    help="logstore's read rates (default: --rates and 1000; --quick: --rates)")
    ap.add_argument("--read-seconds", type=float, default=10.0)
    ap.add_argument("--ingest-rate", type=float, default=30000, help="background ingest during reads, lines/s")
    ap.add_argument("--search-reps", type=int, default=3)
    ap.add_argument("--search-seconds", type=float, default=10.0,
                    help="no further repetition of a query starts after this (the first always runs)")
    ap.add_argument("--small-seconds", type=int, default=20, help="seconds of event time sent as per-second chunks")
    ap.add_argument("--tail-samples", type=int, default=20)
    ap.add_argument("--systems", default="logstore,postgres")
    ap.add_argument("--bin", default=lg.DEFAULT_BIN)
    ap.add_argument("--driver", default=DEFAULT_DRIVER)
    ap.add_argument("--timeout", type=float, default=30.0, help="per request (reads and searches)")
    ap.add_argument("--settle", type=float, default=90.0,
                    help="at most this many seconds after the ingest waiting for logstore's heads to be sealed "
                         "(by age, 30-45 s) before the disk and memory figures and the reads")
    ap.add_argument("--json", dest="json_path")
    ap.add_argument("--note", default="", help="free text stored in the results (e.g. 'machine loaded by builds')")
    a = ap.parse_args(argv)
    if a.quick:
        a.lines_per_job = min(a.lines_per_job, 100)
        a.read_seconds = min(a.read_seconds, 2.0)
        a.search_reps = 1
        a.search_seconds = min(a.search_seconds, 5.0)
        a.small_seconds = min(a.small_seconds, 5)
        a.tail_samples = min(a.tail_samples, 5)
        a.settle = min(a.settle, 60.0)
    if a.logstore_rates is None:
        a.logstore_rates = a.rates if a.quick else a.rates + ",1000"
    return a


def machine() -> dict:
    info = {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            info["mem_gb"] = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
        info["loadavg_start"] = open("/proc/loadavg").read().split()[:3]
    except OSError:
        pass
    return info


def main(argv: list[str]) -> int:
    a = parse_args(argv)
    # Ctrl-C and SIGTERM end the run through the cleanup in `finally` (SIGINT explicitly: a shell
    # starts background jobs with SIGINT ignored, and Python would keep ignoring it)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    systems = a.systems.split(",")
    pg_rates = [float(x) for x in a.rates.split(",")]
    ls_rates = [float(x) for x in a.logstore_rates.split(",")]
    driver_path = Path(a.driver) if Path(a.driver).is_absolute() else REPO / a.driver
    binary = Path(a.bin) if Path(a.bin).is_absolute() else REPO / a.bin
    if not os.access(driver_path, os.X_OK):
        print(f"error: {driver_path} missing: cd Benchmarks && swift build -c release --product loaddriver",
              file=sys.stderr)
        return 2
    if "logstore" in systems and not os.access(binary, os.X_OK):
        print(f"error: {binary} missing: make release", file=sys.stderr)
        return 2
    t_start = time.time()
    tmp = Path(tempfile.mkdtemp(prefix="logstore-bench-"))
    driver = Driver(driver_path, tmp, a.timeout)
    report: dict = {"started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "argv": argv,
                    "machine": machine(), "note": a.note, "targets": TARGETS, "opensearch_reana_cluster": OPENSEARCH,
                    "systems": {}}
    box: list = []
    server: lg.Server | None = None
    cluster: pgpeer.Cluster | None = None
    code = 0
    try:
        # 1. workload
        t = time.time()
        # event time on the previous UTC day (from 12:00): a finished day, which logstore's
        # compaction rewrites (the disk figure is taken before and after it)
        today = dt.datetime.now(dt.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
        w = wl.build(seed=a.seed, lines_per_job=a.lines_per_job, base=today - dt.timedelta(hours=12))
        bodies = w.big_bodies()
        queries = wl.DEFAULT_WORDS + wl.DEFAULT_PHRASES
        truth = w.true_counts(queries)
        raw_bytes = sum(len(b[1]) for b in bodies)
        small = w.small_bodies(w.lines_per_job, a.small_seconds)
        report["workload"] = {
            "seed": a.seed, "corpus": w.corpus_source, "job_streams": len(w.jobs), "engine_streams": len(w.engines),
            "lines_per_job": w.lines_per_job, "lines": w.total_lines(), "bodies": len(bodies),
            "docs_per_body": w.docs_per_body, "raw_bulk_bytes": raw_bytes, "true_counts": truth,
            "event_time_base": w.base.isoformat() + "Z", "small_bodies": len(small),
            "small_lines": sum(b[2] for b in small), "generate_seconds": round(time.time() - t, 1),
            "pg_loader_json": pgpeer.JSON_LIB,
        }
        log(f"workload: {w.total_lines():,} lines in {len(bodies)} bodies ({raw_bytes / 1e6:,.0f} MB), "
            f"corpus {w.corpus_source}, {time.time() - t:.0f} s; true counts {truth}")
        cont_first = w.lines_per_job + a.small_seconds  # continuation for the background ingest
        for system in systems:
            rates = ls_rates if system == "logstore" else pg_rates
            # the background ingest's planned length: the steps, two long waits for the server to
            # be back to the ingest's own load (INGEST_WAIT each), and slack for a step that
            # saturates and runs into its grace time; it is stopped when the steps are done
            read_total = len(rates) * (a.read_seconds + 3) + 2 * INGEST_WAIT + 30
            sysrep: dict = {}
            report["systems"][system] = sysrep
            if system == "logstore":
                port = lg.free_port()
                data_dir = tmp / "logstore-data"
                server = lg.Server(binary, data_dir, port, tmp / "logstore.log", [])
                lg.wait_health("127.0.0.1", port, server, 60)
                pids_fn = (lambda s=server: [s.pid] if s.alive() else [])
                target = {"port": port, "max_seconds": 900}
                targs = ["--target", "http", "--url", f"http://127.0.0.1:{port}"]
                kinds = ["search", "logs"]
                sysrep["server"] = {"command": server.cmd}
            else:
                cluster = pgpeer.Cluster()
                cluster.start()
                cluster.create_schema()
                pids_fn = cluster.pids
                target = {"dsn": cluster.dsn, "max_seconds": 900}
                targs = ["--target", "postgres", "--pg-port", str(cluster.port), "--pg-user", cluster.user,
                         "--pg-db", "postgres"]
                kinds = ["sql"]
                sysrep["server"] = {"version": cluster.psql("SHOW server_version"),
                                    "shared_buffers": cluster.psql("SHOW shared_buffers"),
                                    "synchronous_commit": cluster.psql("SHOW synchronous_commit")}
                data_dir = cluster.data
            sysrep["memory_empty"] = server_memory(pids_fn())

            # 2. ingest of large bodies
            log(f"{system}: ingest {w.total_lines():,} lines, {a.conns} connections ...")
            ing = ingest_closed(system, target, bodies, a.conns, pids_fn, box)
            sysrep["ingest"] = ing
            ing["loadavg_after"] = open("/proc/loadavg").read().split()[:3]
            log(f"  {ing['lines_per_sec']:,} lines/s, {ing['seconds']} s, server CPU {ing['server_cpu_seconds']} s, "
                f"bad {ing['bad']}")
            sysrep["memory_after_ingest"] = server_memory(pids_fn())
            if system == "postgres":  # statistics for the planner, as autovacuum would gather them
                t1 = time.time()
                cluster.psql("ANALYZE logs")
                sysrep["analyze_seconds"] = round(time.time() - t1, 1)

            ingest_end = time.time()

            # 3. settle, then storage and memory: logstore seals the heads by age (30-45 s after
            #    their first line) and flushes the pending full-text postings once idle (10 s
            #    after the last seal) — polled until neither is left, at most --settle s;
            #    PostgreSQL gets a CHECKPOINT. The reads below then see a server with no work
            #    left from the ingest.
            if system == "logstore":
                heads = pending = None
                while time.time() < ingest_end + a.settle:
                    if not server.alive():
                        raise RuntimeError(f"logstore exited while settling (code {server.proc.returncode}): "
                                           f"{server.log_tail(5)}")
                    stats = lg.get_stats("127.0.0.1", port) or {}
                    heads = sum(x.get("headLines", 0) for x in stats.get("segments", []))
                    pending = sum(x.get("pendingIndexBlocks", 0) for x in stats.get("segments", []))
                    if heads == 0 and pending == 0 and time.time() > ingest_end + 2:
                        break
                    time.sleep(1)
                sysrep["settled_seconds"] = round(time.time() - ingest_end, 1)
                sysrep["stats"] = {k: stats.get(k) for k in ("lines", "streams", "rawBytes", "storedBytes", "ratio")}
                sysrep["stats"]["headLines"] = heads
                sysrep["stats"]["pendingIndexBlocks"] = pending
                time.sleep(2)  # the last sealing pass's commit
                sysrep["stored_bytes"] = du(data_dir)
                sysrep["stored_note"] = "du of the data directory, heads sealed"
            else:
                cluster.psql("CHECKPOINT")
                sysrep["settled_seconds"] = round(time.time() - ingest_end, 1)
                sysrep["relation_bytes"] = int(cluster.psql("SELECT pg_total_relation_size('logs')"))
                sysrep["table_bytes"] = int(cluster.psql("SELECT pg_relation_size('logs')"))
                sysrep["index_bytes"] = int(cluster.psql("SELECT pg_indexes_size('logs')"))
                sysrep["data_dir_bytes"] = du(data_dir)
                sysrep["wal_bytes"] = du(data_dir / "pg_wal")
                sysrep["stored_bytes"] = sysrep["relation_bytes"]
                sysrep["stored_note"] = "pg_total_relation_size('logs') after CHECKPOINT (table + indexes, no WAL)"
                sysrep["lines_stored"] = int(cluster.psql("SELECT count(*) FROM logs"))
            sysrep["memory_idle"] = server_memory(pids_fn())
            log(f"  settled after {sysrep['settled_seconds']} s; stored {sysrep['stored_bytes'] / 1e6:,.1f} MB "
                f"(raw bulk {raw_bytes / 1e6:,.0f} MB), PSS idle {sysrep['memory_idle']['Pss'] / 1e6:,.1f} MB")

            # 4. reads, idle
            log(f"{system}: one job's log, idle ...")
            sysrep["reads_idle"] = read_phases(driver, system, kinds, targs, w, rates, a.read_seconds, "idle",
                                               "eq", a.seed, lambda: server_memory(pids_fn()), pids_fn, 0.1)

            # 5. search
            log(f"{system}: search ...")
            sysrep["search"] = search_phase(driver, system, targs, queries, truth, a.search_reps,
                                            max_seconds=a.search_seconds)
            sysrep["memory_after_reads"] = server_memory(pids_fn())

            # logstore: the same data after compaction of its (finished) day
            if system == "logstore":
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
                try:
                    t1 = time.time()
                    c.request("POST", "/v1/admin/compact")
                    resp = c.getresponse()
                    sysrep["compaction"] = {"status": resp.status, "answer": json.loads(resp.read() or b"{}"),
                                            "seconds": round(time.time() - t1, 2)}
                finally:
                    c.close()
                sysrep["stored_bytes_compacted"] = du(data_dir)
                log(f"  compaction: {sysrep['compaction']}")

            # 6. small per-second chunks
            log(f"{system}: small chunks ({len(small)} bodies) ...")
            sysrep["ingest_small"] = ingest_closed(system, dict(target, max_seconds=120), small, a.conns, pids_fn, box)
            log(f"  {sysrep['ingest_small']['lines_per_sec']:,} lines/s, bad {sysrep['ingest_small']['bad']}")

            # 7. reads while ingesting 30k lines/s (continuing the same jobs)
            log(f"{system}: one job's log while ingesting {a.ingest_rate:,.0f} lines/s ...")
            sysrep["reads_ingest"] = {}
            sysrep["background_ingest"] = {}
            first = cont_first
            for kind in kinds:
                cfg = paced_cfg(w, first, a.ingest_rate, read_total)
                first += cfg["seconds"]
                wait_quiet(pids_fn, 0.1)
                bg = IngestRun(system, target, 2, pids_fn, box, paced=cfg)
                try:
                    time.sleep(2.0)
                    # the ingest's own share of the server's CPU (PostgreSQL needs more than a core)
                    alone = server_cores(pids_fn, 2.0)
                    # between steps, wait until the server is back to the ingest's own load
                    rr = read_phases(driver, system, [kind], targs, w, rates, a.read_seconds, "ingesting", "ge",
                                     a.seed + 1, lambda: server_memory(pids_fn()), pids_fn,
                                     alone + 0.25, INGEST_WAIT)
                finally:
                    bgr = bg.stop()
                    box.clear()
                sysrep["reads_ingest"].update(rr)
                bgr["server_cpu_per_sec_alone"] = round(alone, 3)
                for step in rr.values():  # did the ingest run until the step's end?
                    step["ingest_ran_through"] = bgr["last"] >= step.get("step_ended", 0) - 1.0
                    if not step["ingest_ran_through"]:
                        log(f"  warning: the background ingest ended before {step.get('label')} did")
                sysrep["background_ingest"][kind] = bgr
                log(f"  background: {bgr['lines_per_sec']:,} lines/s achieved, bad {bgr['bad']}, "
                    f"late {bgr['late_sends']}")

            # 8. tail (logstore only)
            if system == "logstore":
                sysrep["tail"] = tail_phase(port, w, a.tail_samples)
                log(f"  tail: {sysrep['tail']}")
                sysrep["shutdown"] = server.stop()
                server = None
            else:
                sysrep["shutdown"] = cluster.stop()
                cluster = None
        report["ok"] = True
    except KeyboardInterrupt:
        log("interrupted")
        code = 130
    except RuntimeError as e:
        log(f"error: {e}")
        code = 1
    finally:
        lg.kill_all(box)
        if server is not None:
            server.stop()
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    report["seconds"] = round(time.time() - t_start, 1)
    report["machine"]["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    paths = [RESULTS_DIR / f"bench-load-{'quick-' if a.quick else ''}{stamp}.json"]
    if a.json_path:
        paths.append(Path(a.json_path))
    for p in paths:
        with open(p, "w") as f:
            json.dump(report, f, indent=1, default=str)
            f.write("\n")
    if report["systems"]:
        import report as rp
        print(rp.table(report))
        log(f"results: {paths[0]}")
    if code == 0 and not report.get("ok"):
        code = 1
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
