#!/usr/bin/env python3
"""Read-latency benchmark for logstore: whole-job log reads under ingest load.

Loads 3000 REANA job streams through `/_bulk` (loadgen.py's machinery), keeps ingesting at
30,000 lines/s in the background, and sends an open-loop read load (fixed schedule, latency
measured from the scheduled send time, so queueing counts) at 10/50/200/1000 requests/s of two
kinds, each asking for one random job's whole log:

  search  REANA's request as opensearch-py sends it: POST /fluentbit-job_log/_search?size=5000,
          gzipped JSON body {"query":{"match":{"kubernetes.labels.job-name.keyword":JOB}},
          "sort":[{"@timestamp":{"order":"asc"}}]}
  logs    GET /v1/logs?job=JOB&limit=5000

Standard library only (Python 3.11). Only 127.0.0.1 / localhost targets. See README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import http.client
import json
import math
import multiprocessing as mp
import os
import queue
import random
import re
import shutil
import signal
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import loadgen as lg  # noqa: E402

KINDS = ("search", "logs")
DEFAULT_RATES = "10,50,200,1000"
TARGETS_P95_MS = {200: 2.0, 1000: 5.0}   # p95 targets, both kinds
SEARCH_PATH = "/fluentbit-job_log/_search?size=5000"
SEARCH_HEADERS = {  # as opensearch-py 2.7 sends them (Tests/Fixtures/reana/search_job_log.headers.txt)
    "connection": "keep-alive",
    "content-type": "application/json",
    "user-agent": "opensearch-py/2.7.1 (Python 3.11.7)",
    "accept-encoding": "gzip,deflate",
    "content-encoding": "gzip",
}
LOGS_HEADERS = {"connection": "keep-alive"}
GRACE = 10.0            # a read phase stops sending this long after its scheduled end
REQUEST_TIMEOUT = 30.0
VERIFY_EVERY = 200      # decode and count lines of every Nth response (and the first)
JOB_RE = re.compile(rb'"kubernetes\.labels\.job-name":"([^"]+)"')


# ----------------------------------------------------------------------------------------------
# Requests


def search_body(job: str) -> bytes:
    q = {"query": {"match": {"kubernetes.labels.job-name.keyword": job}},
         "sort": [{"@timestamp": {"order": "asc"}}]}
    return gzip.compress(json.dumps(q, separators=(",", ":")).encode())


def count_lines(kind: str, resp: http.client.HTTPResponse, data: bytes) -> int | None:
    """Number of log lines in a response (decoding gzip if the server compressed it)."""
    try:
        if (resp.getheader("Content-Encoding") or "").lower() == "gzip":
            data = gzip.decompress(data)
        doc = json.loads(data)
        if kind == "search":
            return len(doc["hits"]["hits"])
        return len(doc["lines"])
    except (ValueError, KeyError, TypeError, OSError, EOFError):
        return None


class ReadClient:
    def __init__(self, host: str, port: int, access: lg.Access = lg.PLAIN):
        self.host, self.port = host, port
        self.access = access
        self.conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
        self.conn = None

    def do(self, method: str, path: str, body: bytes | None, headers: dict) -> tuple[http.client.HTTPResponse, bytes]:
        if self.conn is None:
            self.conn = self.access.connection(self.host, self.port, REQUEST_TIMEOUT)
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.will_close:
            self.close()
        return resp, data


def read_worker(wid: int, nworkers: int, kind: str, rate: float, seconds: float, host: str, port: int,
                jobs: list[str], bodies: list[bytes], seed: int, start_mono: float, result_q,
                access: lg.Access = lg.PLAIN) -> None:
    """Open loop: request i of this worker is due at start + (wid + i*nworkers)/rate, whatever
    happened to earlier requests. Latency = completion - due time (queueing included)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lg._pdeathsig()
    try:
        rng = random.Random(seed * 7919 + wid)
        n = max(0, math.ceil((seconds * rate - wid) / nworkers))
        client = ReadClient(host, port, access)
        search_headers, logs_headers = access.headers(SEARCH_HEADERS), access.headers(LOGS_HEADERS)
        res = {"sent": 0, "ok": 0, "errors": 0, "conn_errors": 0, "unsent": 0, "status": {},
               "lat": [], "svc": [], "resp_bytes": 0, "lines_sampled": [], "bad_samples": 0, "empty_samples": 0,
               "max_send_lag": 0.0, "last_done": start_mono}
        hard_end = start_mono + seconds + GRACE
        cpu0 = time.process_time()
        for i in range(n):
            due = start_mono + (wid + i * nworkers) / rate
            now = time.monotonic()
            if now >= hard_end:
                res["unsent"] = n - i
                break
            if due > now:
                time.sleep(due - now)
            t_send = time.monotonic()
            res["max_send_lag"] = max(res["max_send_lag"], t_send - due)
            j = rng.randrange(len(jobs))
            if kind == "search":
                method, path, body, headers = "POST", SEARCH_PATH, bodies[j], search_headers
            else:
                method, path, body, headers = "GET", f"/v1/logs?job={jobs[j]}&limit=5000", None, logs_headers
            res["sent"] += 1
            try:
                resp, data = client.do(method, path, body, headers)
            except (OSError, http.client.HTTPException):
                client.close()
                res["conn_errors"] += 1
                res["errors"] += 1
                continue
            t_done = time.monotonic()
            res["last_done"] = t_done
            key = str(resp.status)
            res["status"][key] = res["status"].get(key, 0) + 1
            if resp.status != 200:
                res["errors"] += 1
                continue
            res["ok"] += 1
            res["resp_bytes"] += len(data)
            res["lat"].append(t_done - due)
            res["svc"].append(t_done - t_send)
            if i % VERIFY_EVERY == 0:
                c = count_lines(kind, resp, data)
                if c is None:
                    res["bad_samples"] += 1
                else:
                    res["lines_sampled"].append(c)
                    res["empty_samples"] += c == 0
        res["client_cpu"] = time.process_time() - cpu0
        client.close()
        result_q.put((wid, res))
    except BaseException as e:
        result_q.put((wid, {"fatal": repr(e)}))


# ----------------------------------------------------------------------------------------------
# Background ingest (paced, own processes, stoppable)


def ingest_worker(wid: int, nworkers: int, cfg: dict, corpus: list[bytes], job_streams: list[bytes],
                  ready_q, stop, result_q) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lg._pdeathsig()
    try:
        pool = lg.build_pool("big", wid, nworkers, cfg, corpus, job_streams, [])
        base = dt.datetime.fromisoformat(cfg["base_time"])
        ready_q.put(wid)
        res = lg.new_result()
        client = lg.Client(cfg["host"], cfg["port"], "/_bulk", False, 60.0, cfg.get("access") or lg.PLAIN)
        bps = cfg["lines_per_sec"] / cfg["docs"]
        interval = nworkers / bps
        start = time.perf_counter() + 0.05
        hard_end = start + cfg["max_seconds"]
        cycle = cfg["cycle_base"]
        prefix = lg.minute_prefix(base, cycle)
        cycles = 1
        res["first"] = time.time()
        i = 0
        max_bodies = int(cfg["max_seconds"] * bps / nworkers) + 2
        while i < max_bodies and not stop.is_set():
            due = start + (wid / nworkers) * interval + i * interval
            now = time.perf_counter()
            if due >= hard_end:
                break
            if due > now:
                stop.wait(min(due - now, 1.0))
                if time.perf_counter() < due:
                    continue
            else:
                res["max_lag"] = max(res["max_lag"], now - due)
                if now - due > interval * 0.5:
                    res["late"] += 1
            k = i % len(pool)
            if i > 0 and k == 0:
                cycle += 1
                cycles += 1
                prefix = lg.minute_prefix(base, cycle)
            tmpl, ndocs = pool[k]
            body = tmpl.replace(lg.MARK, prefix)
            res["bytes"] += len(body)
            lg.send_one(client, body, ndocs, res, hard_end + 30)
            i += 1
        res["last"] = time.time()
        res["cycles"] = cycles
        client.close()
        result_q.put((wid, res))
    except BaseException as e:
        result_q.put((wid, {"fatal": repr(e)}))


class Ingest:
    def __init__(self, ctx, nworkers: int, cfg: dict, corpus: list[bytes], job_streams: list[bytes]):
        self.ready_q, self.result_q = ctx.Queue(), ctx.Queue()
        self.stop_ev = ctx.Event()
        self.cfg = cfg
        self.procs = [ctx.Process(target=ingest_worker, daemon=True,
                                  args=(w, nworkers, cfg, corpus, job_streams, self.ready_q, self.stop_ev,
                                        self.result_q)) for w in range(nworkers)]
        for p in self.procs:
            p.start()
        deadline = time.time() + 120
        ready = 0
        while ready < nworkers:
            if time.time() > deadline:
                raise RuntimeError("ingest workers did not get ready within 120 s")
            try:
                self.ready_q.get(timeout=0.5)
                ready += 1
            except queue.Empty:
                if any(p.exitcode not in (0, None) for p in self.procs):
                    raise RuntimeError("an ingest worker died while generating bodies")
        self.t0 = time.time()

    def finish(self) -> dict:
        self.stop_ev.set()
        elapsed = time.time() - self.t0
        results = []
        deadline = time.time() + 90
        while len(results) < len(self.procs) and time.time() < deadline:
            try:
                _, r = self.result_q.get(timeout=1.0)
                results.append(r)
            except queue.Empty:
                if not any(p.is_alive() for p in self.procs):
                    break
        self.kill()
        good = [r for r in results if "fatal" not in r]
        lat = sorted(x for r in good for x in r["latencies"])
        out = {
            "target_lines_per_sec": self.cfg["lines_per_sec"], "docs_per_request": self.cfg["docs"],
            "connections": len(self.procs), "seconds": round(elapsed, 1),
            "lines": sum(r["lines"] for r in good), "requests": sum(r["requests"] for r in good),
            "bad": sum(r["non200"] + r["errors_true"] + r["failed"] for r in good),
            "retries_429_503": sum(r["retries"] for r in good), "late_sends": sum(r["late"] for r in good),
            "latency_ms": {"p50": lg.ms(lg.pct(lat, 50)), "p99": lg.ms(lg.pct(lat, 99)),
                           "max": lg.ms(lat[-1] if lat else None)},
            "fatal": [r["fatal"] for r in results if "fatal" in r],
            "workers_reported": len(results),
        }
        out["lines_per_sec"] = round(out["lines"] / max(1e-9, elapsed), 1)
        return out

    def kill(self) -> None:
        self.stop_ev.set()
        for p in self.procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
                p.join(timeout=5)


# ----------------------------------------------------------------------------------------------
# Phases


def run_read_phase(ctx, kind: str, rate: float, a, host: str, port: int, jobs: list[str], bodies: list[bytes],
                   pid: int | None, box: list, seed: int, access: lg.Access = lg.PLAIN) -> dict:
    result_q = ctx.Queue()
    start = time.monotonic() + 0.3  # leave time for the forks
    procs = [ctx.Process(target=read_worker, daemon=True,
                         args=(w, a.workers, kind, rate, a.seconds, host, port, jobs, bodies, seed, start, result_q,
                               access))
             for w in range(a.workers)]
    box[:] = procs
    for p in procs:
        p.start()
    while time.monotonic() < start - 0.05:
        time.sleep(0.01)
    cpu0, t0 = lg.proc_cpu(pid), time.monotonic()
    results: dict[int, dict] = {}
    deadline = start + a.seconds + GRACE + REQUEST_TIMEOUT + 30
    while len(results) < a.workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"read phase {kind}@{rate:g}: workers did not report in time")
        try:
            wid, r = result_q.get(timeout=0.5)
        except queue.Empty:
            if any(not p.is_alive() and p.exitcode not in (0, None) for p in procs):
                raise RuntimeError(f"read phase {kind}@{rate:g}: a worker died")
            continue
        if "fatal" in r:
            raise RuntimeError(f"read phase {kind}@{rate:g}: worker {wid} failed: {r['fatal']}")
        results[wid] = r
    cpu1, t1 = lg.proc_cpu(pid), time.monotonic()
    mem = lg.proc_mem(pid)
    for p in procs:
        p.join(timeout=5)
        if p.is_alive():
            p.kill()
            p.join(timeout=5)
    box[:] = []
    rs = list(results.values())
    lat = sorted(x for r in rs for x in r["lat"])
    svc = sorted(x for r in rs for x in r["svc"])
    ok = sum(r["ok"] for r in rs)
    status: dict = {}
    for r in rs:
        for s, c in r["status"].items():
            status[s] = status.get(s, 0) + c
    span = max(a.seconds, max(r["last_done"] for r in rs) - start)
    sampled = [c for r in rs for c in r["lines_sampled"]]
    wall = t1 - t0
    out = {
        "kind": kind, "target_rps": rate, "seconds": a.seconds, "workers": a.workers,
        "sent": sum(r["sent"] for r in rs), "ok": ok,
        "errors": sum(r["errors"] for r in rs), "conn_errors": sum(r["conn_errors"] for r in rs),
        "unsent": sum(r["unsent"] for r in rs), "status": status,
        "achieved_rps": round(ok / span, 1),
        "latency_ms": {"p50": lg.ms(lg.pct(lat, 50)), "p95": lg.ms(lg.pct(lat, 95)),
                       "p99": lg.ms(lg.pct(lat, 99)), "max": lg.ms(lat[-1] if lat else None)},
        "service_ms": {"p50": lg.ms(lg.pct(svc, 50)), "p95": lg.ms(lg.pct(svc, 95)),
                       "p99": lg.ms(lg.pct(svc, 99))},
        "max_send_lag_ms": lg.ms(max(r["max_send_lag"] for r in rs)),
        "resp_bytes_avg": round(sum(r["resp_bytes"] for r in rs) / ok) if ok else None,
        "lines_per_response_sampled": round(sum(sampled) / len(sampled), 1) if sampled else None,
        "samples": len(sampled), "bad_samples": sum(r["bad_samples"] for r in rs),
        "empty_samples": sum(r["empty_samples"] for r in rs),
        "client_cpu_seconds": round(sum(r["client_cpu"] for r in rs), 2),
        "server_cpu_seconds": round(cpu1 - cpu0, 3) if cpu0 is not None and cpu1 is not None else None,
        "server_rss_bytes": mem.get("VmRSS"), "server_rss_anon_bytes": mem.get("RssAnon"),
    }
    out["server_cpu_percent"] = (round(100 * out["server_cpu_seconds"] / wall, 1)
                                 if out["server_cpu_seconds"] is not None and wall > 0 else None)
    # CPU per answer, the server's and the driver's own (all its worker processes)
    out["server_cpu_ms_per_answer"] = (round(1000 * out["server_cpu_seconds"] / ok, 3)
                                       if out["server_cpu_seconds"] is not None and ok else None)
    out["client_cpu_ms_per_answer"] = round(1000 * out["client_cpu_seconds"] / ok, 3) if ok else None
    out["client_cpu_percent"] = round(100 * out["client_cpu_seconds"] / wall, 1) if wall > 0 else None
    tgt = TARGETS_P95_MS.get(int(rate)) if float(rate).is_integer() else None
    if tgt is not None:
        p95 = out["latency_ms"]["p95"]
        out["target_p95_ms"] = tgt
        out["meets_target"] = p95 is not None and p95 <= tgt and out["errors"] == 0
    return out


def measure_idle_cpu(pid: int | None, seconds: float) -> dict:
    cpu0, t0 = lg.proc_cpu(pid), time.monotonic()
    time.sleep(seconds)
    cpu1, t1 = lg.proc_cpu(pid), time.monotonic()
    mem = lg.proc_mem(pid)
    cpu = (cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else None
    return {"seconds": round(t1 - t0, 2), "server_cpu_seconds": None if cpu is None else round(cpu, 3),
            "server_cpu_percent": None if cpu is None else round(100 * cpu / (t1 - t0), 1),
            "server_rss_bytes": mem.get("VmRSS")}


# ----------------------------------------------------------------------------------------------
# Output


def print_report(rep: dict) -> None:
    f = lg.fmt
    w = rep["workload"]
    print()
    print(f"logstore read latency — {rep['server'].get('target')}  {w['job_streams']} job streams, "
          f"{w['loaded_lines']:,} lines loaded; background ingest: "
          f"{'%s lines/s' % format(w['ingest_lines_per_sec'], ',') if w['ingest_lines_per_sec'] else 'none (idle)'}; "
          f"{rep['config']['workers']} open-loop client processes, {rep['config']['seconds']:g} s per step"
          f"{lg.security_note(rep.get('security'))}")
    if rep.get("baseline"):
        b = rep["baseline"]
        print(f"baseline (no reads, {b['seconds']} s): server CPU {b['server_cpu_percent']} %, "
              f"RSS {(b['server_rss_bytes'] or 0) / 1e6:,.1f} MB")
    hdr = (f"{'kind':<8}{'req/s':>7}{'achvd':>8}{'ok':>7}{'err':>5}{'unsent':>8}{'p50 ms':>10}{'p95 ms':>10}"
           f"{'p99 ms':>10}{'max ms':>10}{'svc p50':>9}{'svc p95':>9}{'lines':>7}{'resp KB':>8}{'cpu %':>7}"
           f"{'RSS MB':>8}{'anon MB':>8}{'srv ms':>8}{'drv ms':>8}{'drv %':>7}  target")
    print(hdr)
    print("-" * (len(hdr) + 16))
    for p in rep["phases"]:
        lat = p["latency_ms"]
        rss = p["server_rss_bytes"] / 1e6 if p["server_rss_bytes"] else None
        kb = p["resp_bytes_avg"] / 1e3 if p["resp_bytes_avg"] else None
        anon = p["server_rss_anon_bytes"] / 1e6 if p["server_rss_anon_bytes"] else None
        if "target_p95_ms" in p:
            verdict = f"p95 ≤ {p['target_p95_ms']:g} ms: {'OK' if p['meets_target'] else 'MISSED'}"
        else:
            verdict = ""
        print(f"{p['kind']:<8}{f(p['target_rps'], 7, 0)}{f(p['achieved_rps'], 8, 1)}{f(p['ok'], 7)}"
              f"{f(p['errors'], 5)}{f(p['unsent'], 8)}{f(lat['p50'], 10, 2)}{f(lat['p95'], 10, 2)}"
              f"{f(lat['p99'], 10, 2)}{f(lat['max'], 10, 1)}{f(p['service_ms']['p50'], 9, 2)}"
              f"{f(p['service_ms']['p95'], 9, 2)}{f(p['lines_per_response_sampled'], 7, 0)}{f(kb, 8, 1)}"
              f"{f(p['server_cpu_percent'], 7, 0)}{f(rss, 8, 1)}{f(anon, 8, 1)}"
              f"{f(p.get('server_cpu_ms_per_answer'), 8, 3)}{f(p.get('client_cpu_ms_per_answer'), 8, 3)}"
              f"{f(p.get('client_cpu_percent'), 7, 0)}  {verdict}")
    for p in rep["phases"]:
        if p["errors"] or p["bad_samples"] or p["empty_samples"]:
            print(f"  {p['kind']}@{p['target_rps']:g}: status {p['status']}, connection errors {p['conn_errors']}, "
                  f"undecodable samples {p['bad_samples']}, empty answers {p['empty_samples']} of {p['samples']} sampled")
    print("latency = completion − scheduled send time (queueing included); svc = completion − actual send;"
          " lines = lines per response (sampled); cpu % = server utime+stime / wall (100 = one core);"
          " unsent = due requests not sent within the grace period (client queue behind an overloaded server);"
          " srv ms / drv ms = server / load driver CPU per answer; drv % = the driver's CPU / wall (100 = one core)")
    if rep.get("ingest"):
        g = rep["ingest"]
        print(f"background ingest: {g['lines']:,} lines in {g['seconds']} s = {g['lines_per_sec']:,.0f} lines/s "
              f"(target {g['target_lines_per_sec']:,}), bulk p50 {g['latency_ms']['p50']} ms, p99 "
              f"{g['latency_ms']['p99']} ms, bad {g['bad']}, 429/503 retries {g['retries_429_503']}, "
              f"late sends {g['late_sends']}")
    if rep.get("shutdown"):
        print(f"shutdown: {rep['shutdown']}")
    print(f"verdict: {rep['verdict']}")


# ----------------------------------------------------------------------------------------------
# Main


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--bin", default=lg.DEFAULT_BIN, help="logstore binary (relative paths resolve against the repo root)")
    ap.add_argument("--url", help="use an already running server (http://127.0.0.1:PORT) instead of starting one")
    ap.add_argument("--pid", type=int, help="with --url: the server's pid, for CPU and RSS figures")
    ap.add_argument("--skip-load", action="store_true", help="with --url: do not load; the server already holds the streams (same --seed/--workflows/--jobs)")
    ap.add_argument("--server-arg", action="append", default=[], help="extra argument for `logstore serve`")
    ap.add_argument("--keep-data", action="store_true", help="do not remove the temp data dir")
    ap.add_argument("--corpus", help="directory of *.log files for message text")
    ap.add_argument("--workflows", type=int, default=60)
    ap.add_argument("--jobs", type=int, default=50, help="jobs per workflow (job streams = workflows x jobs)")
    ap.add_argument("--lines-per-stream", type=int, default=1000, help="lines loaded per job stream before measuring")
    ap.add_argument("--load-conns", type=int, default=4)
    ap.add_argument("--ingest-rate", type=int, default=30000, help="background ingest, lines/s during the measurements")
    ap.add_argument("--ingest-docs", type=int, default=2000, help="documents per background bulk body")
    ap.add_argument("--ingest-conns", type=int, default=2)
    ap.add_argument("--no-ingest", action="store_true", help="measure reads with no background ingest")
    ap.add_argument("--rates", default=DEFAULT_RATES, help="comma list of read requests/s")
    ap.add_argument("--kinds", default=",".join(KINDS), help="comma list of: search, logs")
    ap.add_argument("--seconds", type=float, default=10.0, help="duration of each (kind, rate) step")
    ap.add_argument("--workers", type=int, default=4, help="open-loop client processes (one keep-alive connection each)")
    ap.add_argument("--quick", action="store_true", help="3000 x 100 lines, 3 s steps")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--startup-timeout", type=float, default=60.0)
    ap.add_argument("--json", dest="json_path", help="write every figure to this JSON file")
    lg.add_access_args(ap, "the load and the background ingest")
    a = ap.parse_args(argv)
    if a.quick:
        a.lines_per_stream = min(a.lines_per_stream, 100)
        a.seconds = min(a.seconds, 3.0)
    try:
        a.rate_list = [float(x) for x in a.rates.split(",") if x]
    except ValueError:
        ap.error("--rates must be numbers")
    a.kind_list = [k for k in a.kinds.split(",") if k]
    if any(k not in KINDS for k in a.kind_list):
        ap.error("--kinds: search, logs")
    if not a.rate_list or any(not (0 < r <= 20000) for r in a.rate_list):
        ap.error("--rates must be in (0, 20000]")
    if not (0 < a.seconds <= 600):
        ap.error("--seconds must be in (0, 600]")
    if not (1 <= a.workers <= 64 and 1 <= a.load_conns <= 64 and 1 <= a.ingest_conns <= 64):
        ap.error("--workers/--load-conns/--ingest-conns must be 1..64")
    if not (1 <= a.lines_per_stream <= 100000):
        ap.error("--lines-per-stream must be 1..100000")
    if a.skip_load and not a.url:
        ap.error("--skip-load needs --url")
    return a


def main(argv: list[str]) -> int:
    a = parse_args(argv)
    access, ingest_access = lg.resolve_access(a)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
    ctx = mp.get_context("fork")

    corpus_dir = Path(a.corpus) if a.corpus else (lg.REPO_ROOT / lg.DEFAULT_CORPUS)
    corpus, corpus_source = lg.load_corpus(corpus_dir.resolve() if corpus_dir.exists() else None)
    job_streams, _ = lg.make_streams(a.workflows, a.jobs, a.seed)
    jobs = [JOB_RE.search(s).group(1).decode() for s in job_streams]
    bodies = [search_body(j) for j in jobs]
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0, tzinfo=None)
    base = now - dt.timedelta(hours=3)  # each pool wrap moves event time one minute on

    server: lg.Server | None = None
    temp_dir: Path | None = None
    ingest: Ingest | None = None
    box: list = []
    rep: dict = {"started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "argv": argv,
                 "server": {}, "config": {"seconds": a.seconds, "workers": a.workers, "rates": a.rate_list,
                                          "kinds": a.kind_list, "quick": a.quick},
                 "targets_p95_ms": {str(k): v for k, v in TARGETS_P95_MS.items()},
                 "phases": [], "verdict": "incomplete"}
    code = 1
    try:
        if a.url:
            u = urllib.parse.urlsplit(a.url)
            host, port = u.hostname or "", u.port or 9200
            if host not in lg.LOCAL_HOSTS or u.scheme not in ("http", "https"):
                print("error: --url must be http(s)://127.0.0.1:PORT (local targets only)", file=sys.stderr)
                return 2
            if u.scheme == "http" and access.tls:
                print("error: --ca-cert/--tls need an https:// --url", file=sys.stderr)
                return 2
            if not access.tls:  # over TLS the name must match the certificate
                host = "127.0.0.1" if host in ("localhost", "127.0.0.1") else host
            pid = a.pid
            rep["server"] = {"target": f"{access.scheme}://{host}:{port}", "started_by_driver": False, "pid": pid}
        else:
            binary = Path(a.bin)
            if not binary.is_absolute():
                binary = lg.REPO_ROOT / binary
            if not os.access(binary, os.X_OK):
                print(f"error: {binary} not found; build with swift build -c release --product logstore "
                      f"(or pass --bin / --url)", file=sys.stderr)
                return 2
            host, port = "127.0.0.1", lg.free_port()
            temp_dir = Path(tempfile.mkdtemp(prefix="logstore-readbench-"))
            server = lg.Server(binary, temp_dir / "data", port, temp_dir / "server.log", a.server_arg)
            pid = server.pid
            rep["server"] = {"target": f"{access.scheme}://{host}:{port}", "started_by_driver": True, "pid": pid,
                             "binary": str(binary), "data_dir": str(temp_dir / "data"), "command": server.cmd}
        rep["security"] = {"tls": access.tls, "ca_cert": access.ca_cert, "user": access.user,
                           "ingest_user": ingest_access.user}
        lg.wait_health(host, port, server, a.startup_timeout, access)

        # 1. load
        cycle = 1
        common = {"host": host, "port": port, "gzip": False, "seed": a.seed, "base_time": base.isoformat(),
                  "batch_share": 0.0, "request_timeout": 120.0, "small_streams": 100, "grace": 30.0,
                  "access": ingest_access}
        loaded = 0
        if not a.skip_load:
            total = len(job_streams) * a.lines_per_stream
            docs = min(2000, total)
            nbodies = math.ceil(total / docs)
            per_worker = math.ceil(nbodies / a.load_conns)
            cfg = dict(common, docs=docs, pool=max(2, min(16, per_worker)), seconds=900.0,
                       total_bodies=nbodies, max_bodies=per_worker, cycle_base=cycle)
            print(f"loading {len(job_streams)} streams x {a.lines_per_stream} lines ({nbodies} bodies of {docs}) ...",
                  file=sys.stderr, flush=True)
            res = lg.run_phase("load", "big", a.load_conns, cfg, (corpus, job_streams, []), pid, box)
            cycle = res.pop("next_cycle") + 1
            rep["load"] = res
            loaded = res["lines"]
            bad = res["non200"] + res["errors_true"] + res["failed"]
            print(f"  loaded {loaded:,} lines in {res['seconds']} s ({res['lines_per_sec']:,.0f} lines/s), bad {bad}",
                  file=sys.stderr, flush=True)
            if bad:
                raise RuntimeError(f"load had {bad} failed bulk requests")
        rep["workload"] = {"corpus": corpus_source, "job_streams": len(job_streams), "loaded_lines": loaded,
                           "lines_per_stream": a.lines_per_stream,
                           "ingest_lines_per_sec": 0 if a.no_ingest else a.ingest_rate}

        # 2. background ingest
        if not a.no_ingest:
            steps = len(a.rate_list) * len(a.kind_list)
            max_seconds = steps * (a.seconds + GRACE + 5) + 120
            icfg = dict(common, seed=a.seed + 1, docs=a.ingest_docs, pool=16, lines_per_sec=a.ingest_rate,
                        max_seconds=max_seconds, cycle_base=cycle)
            print(f"background ingest at {a.ingest_rate:,} lines/s ...", file=sys.stderr, flush=True)
            ingest = Ingest(ctx, a.ingest_conns, icfg, corpus, job_streams)
            time.sleep(1.0)  # let it reach its pace
        if access.authorization is not None:
            # the server checks a password once (PBKDF2) and remembers the header: log in before the
            # reads so that this one-time cost is reported here and not in the first step's latency
            t_login = time.perf_counter()
            status, _ = lg.http_get(host, port, "/v1/stats", timeout=60, access=access)
            rep["security"]["first_login_ms"] = lg.ms(time.perf_counter() - t_login)
            if status != 200:
                raise RuntimeError(f"GET /v1/stats as {access.user!r} answered {status} (the reads need the read role)")
        rep["baseline"] = measure_idle_cpu(pid, min(3.0, a.seconds))

        # 3. reads
        for kind in a.kind_list:
            for rate in a.rate_list:
                print(f"reads: {kind} at {rate:g} req/s for {a.seconds:g} s ...", file=sys.stderr, flush=True)
                p = run_read_phase(ctx, kind, rate, a, host, port, jobs, bodies, pid, box, a.seed, access)
                rep["phases"].append(p)
                if server is not None and not server.alive():
                    raise RuntimeError(f"server exited during reads:\n{server.log_tail()}")
                time.sleep(0.5)
        if ingest is not None:
            rep["ingest"] = ingest.finish()
            ingest = None
        errors = sum(p["errors"] + p["bad_samples"] for p in rep["phases"])
        unsent = sum(p["unsent"] for p in rep["phases"])
        ingest_bad = rep.get("ingest", {}).get("bad", 0) + len(rep.get("ingest", {}).get("fatal", []))
        missed = [f"{p['kind']}@{p['target_rps']:g}" for p in rep["phases"] if p.get("meets_target") is False]
        overload = f"; {unsent} requests unsent (overload)" if unsent else ""
        if errors or ingest_bad:
            rep["verdict"] = f"ERRORS (read errors/bad samples {errors}, ingest bad {ingest_bad}){overload}"
            code = 4
        else:
            rep["verdict"] = ("no errors; " + (f"targets missed: {', '.join(missed)}" if missed else "all targets met")
                              + overload)
            code = 0 if not missed else 5
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        code = 130
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        code = 1
    finally:
        lg.kill_all(box)
        if ingest is not None:
            ingest.kill()
        if server is not None:
            rep["shutdown"] = server.stop()
        if temp_dir is not None and not a.keep_data:
            shutil.rmtree(temp_dir, ignore_errors=True)
        elif temp_dir is not None:
            print(f"data kept in {temp_dir}", file=sys.stderr)
    if rep["phases"]:
        print_report(rep)
    if a.json_path:
        with open(a.json_path, "w") as fh:
            json.dump(rep, fh, indent=2)
            fh.write("\n")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
