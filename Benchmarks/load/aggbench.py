#!/usr/bin/env python3
"""Aggregations on the REANA-like workload against PostgreSQL GROUP BY, in the same run.

Loads the reference workload (workload.py: 60 workflows x 50 jobs plus 60 engine streams,
documents as REANA's FluentBit sends them; --lines-per-job 980 gives 3M lines) into a logstore
server (a temporary data directory, 127.0.0.1) and, when PostgreSQL and psycopg are installed,
into a private PostgreSQL cluster (pgpeer.py: logs(ts, index, workflow, job, line), btree
(job, ts), btree (workflow, ts), GIN full-text on line). Waits for logstore's heads to be
sealed, runs ANALYZE + CHECKPOINT, then times each request --repeat times (median, min) against
its GROUP BY equivalent, checks both give the same total and prints the ratios.

    make release && .venv/bin/python Benchmarks/load/aggbench.py --lines-per-job 980

Standard library (plus psycopg for the PostgreSQL side). Every loop is bounded; both servers
are stopped and their directories removed at the end.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workload as wl  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def cases(word: str) -> list[tuple[str, dict, str]]:
    """(name, logstore _search body on fluentbit-job_log, PostgreSQL equivalent)."""
    job_terms = {"terms": {"field": "kubernetes.labels.job-name", "size": 5000}}
    return [
        ("date_histogram 1m, all lines",
         {"size": 0, "aggs": {"h": {"date_histogram": {"field": "@timestamp", "fixed_interval": "1m"}}}},
         "SELECT date_trunc('minute', ts) AS m, count(*) FROM logs WHERE index = 'fluentbit-job_log' GROUP BY m ORDER BY m"),
        ("terms job name, all lines",
         {"size": 0, "aggs": {"t": job_terms}},
         "SELECT job, count(*) FROM logs WHERE index = 'fluentbit-job_log' AND job <> '' GROUP BY job ORDER BY 2 DESC, 1 LIMIT 5000"),
        (f"terms job name, query '{word}'",
         {"size": 0, "query": {"match": {"log": word}}, "aggs": {"t": job_terms}},
         "SELECT job, count(*) FROM logs WHERE index = 'fluentbit-job_log' AND job <> '' AND "
         f"to_tsvector('simple', line) @@ to_tsquery('simple', '{word}') GROUP BY job ORDER BY 2 DESC, 1 LIMIT 5000"),
        ("terms job name (10) > date_histogram 10m",
         {"size": 0, "aggs": {"t": {"terms": {"field": "kubernetes.labels.job-name", "size": 10},
                                    "aggs": {"h": {"date_histogram": {"field": "@timestamp", "fixed_interval": "10m"}}}}}},
         "WITH top AS (SELECT job FROM logs WHERE index = 'fluentbit-job_log' AND job <> '' GROUP BY job "
         "ORDER BY count(*) DESC, job LIMIT 10) SELECT job, date_trunc('hour', ts) + "
         "floor(extract(minute FROM ts) / 10) * interval '10 min' AS m, count(*) FROM logs WHERE job IN "
         "(SELECT job FROM top) GROUP BY 1, 2"),
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port: int, path: str, body: bytes, ctype: str = "application/json", gz: bool = False, timeout: float = 600):
    h = {"Content-Type": ctype}
    if gz:
        body = gzip.compress(body, 1)
        h["Content-Encoding"] = "gzip"
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method="POST", headers=h)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def get(port: int, path: str, timeout: float = 10):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        return json.loads(r.read())


def total_of(answer: dict) -> int:
    aggs = answer["aggregations"]
    name = next(iter(aggs))
    return sum(b["doc_count"] for b in aggs[name]["buckets"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines-per-job", type=int, default=980, help="lines per stream (3060 streams; 980 -> 3M lines)")
    ap.add_argument("--binary", default=os.environ.get("LOGSTORE_BIN", str(ROOT / ".build/release/logstore")))
    ap.add_argument("--word", default="error", help="the query filter's word")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--settle", type=float, default=120.0, help="at most this many seconds waiting for sealed heads")
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--data-dir", help="keep logstore's data here and reuse it on the next run (loaded once: "
                    "DIR.loaded records the line count); removed only without this option")
    ap.add_argument("--first", action="store_true", help="also print each request's first (cold) time")
    a = ap.parse_args()

    w = wl.build(lines_per_job=a.lines_per_job)
    bodies = w.big_bodies()
    n_lines = sum(n for _, _, n in bodies)
    print(f"workload: {n_lines:,} lines in {len(bodies)} bodies; logstore {a.binary}", flush=True)

    data = a.data_dir or tempfile.mkdtemp(prefix="aggbench-")
    marker = Path(data + ".loaded") if a.data_dir else None
    preloaded = marker is not None and marker.exists() and marker.read_text().strip() == str(n_lines)
    if marker is not None and not preloaded:
        shutil.rmtree(data, ignore_errors=True)
        marker.unlink(missing_ok=True)
    port = free_port()
    server = subprocess.Popen([a.binary, "serve", "--data-dir", data, "--listen", f"127.0.0.1:{port}",
                               "--log-level", "warning", "--min-free-disk", "0"])
    cluster = None
    loader = None
    try:
        for _ in range(300):
            try:
                get(port, "/health", 1)
                break
            except OSError:
                time.sleep(0.1)
        pg_ok = False
        if not a.no_postgres:
            try:
                import pgpeer
                import psycopg  # noqa: F401
                cluster = pgpeer.Cluster(log=print)
                cluster.start()
                cluster.create_schema()
                loader = pgpeer.Loader(cluster.dsn)
                pg_ok = True
            except Exception as e:  # PostgreSQL or psycopg missing: logstore alone
                print(f"PostgreSQL side skipped: {e}", flush=True)
        if preloaded:
            print(f"logstore data reused from {data}", flush=True)
        else:
            t0 = time.time()
            for _, body, _ in bodies:
                r = post(port, "/_bulk", body, "application/x-ndjson", gz=True)
                assert not r.get("errors"), str(r)[:300]
            print(f"logstore ingest {time.time() - t0:.1f} s", flush=True)
        if pg_ok:
            t0 = time.time()
            for _, body, _ in bodies:
                loader.load(body)
            cluster.psql("ANALYZE logs; CHECKPOINT;")
            print(f"PostgreSQL load {time.time() - t0:.1f} s", flush=True)
        deadline = time.time() + a.settle
        while time.time() < deadline:
            segs = get(port, "/v1/stats").get("segments", [])
            if sum(s.get("headLines", 0) + s.get("pendingIndexBlocks", 0) for s in segs) == 0:
                break
            time.sleep(1)
        time.sleep(2)
        if marker is not None and not preloaded:
            marker.write_text(str(n_lines))

        conn = None
        if pg_ok:
            import psycopg
            conn = psycopg.connect(cluster.dsn, autocommit=True)
        rows = []
        for name, body, sql in cases(a.word):
            raw = json.dumps(body).encode()
            lt, ans = [], None
            for _ in range(a.repeat):
                t = time.perf_counter()
                ans = post(port, "/fluentbit-job_log/_search", raw)
                lt.append((time.perf_counter() - t) * 1000)
            pt, pg_total = [], None
            if conn:
                for _ in range(a.repeat):
                    t = time.perf_counter()
                    res = conn.execute(sql).fetchall()
                    pt.append((time.perf_counter() - t) * 1000)
                pg_total = sum(r[-1] for r in res)
            lm = statistics.median(lt)
            pm = statistics.median(pt) if pt else None
            same = "" if pg_total is None else ("same counts" if pg_total == total_of(ans) else
                                                f"COUNTS DIFFER: {total_of(ans)} vs {pg_total}")
            rows.append((name, lm, min(lt), pm, min(pt) if pt else None))
            ratio = f"{lm / pm:.2f}x" if pm else "-"
            first = f" (first {lt[0]:.1f})" if a.first else ""
            print(f"{name:45s} logstore {lm:8.1f} ms (min {min(lt):.1f}){first}  PostgreSQL "
                  f"{'-' if pm is None else f'{pm:8.1f} ms (min {min(pt):.1f})'}  logstore/PG {ratio}  {same}", flush=True)
        return 0
    finally:
        if loader:
            loader.close()
        if cluster:
            cluster.stop()
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        if not a.data_dir:
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
