#!/usr/bin/env python3
"""Stored documents with all their fields: ingest and stored bytes of two logstore binaries on
the same REANA-shaped FluentBit documents (each with its pod's ~12 Kubernetes fields), and a
two-field query over them.

    python3 Benchmarks/fields/reana_fields.py --base /path/to/old/logstore --new .build/release/logstore

For each binary: `logstore import` of the same bulk file into a fresh data directory (lines/s,
best of --runs), `logstore stats --json` (stored bytes), then `logstore serve` and the median
time of `_search` with `kubernetes.namespace_name:X AND level:ERROR` (new binary only: the old
one cannot search those fields). With --pg (the default): the same documents in PostgreSQL
(Benchmarks/load/pgpeer.py starts a private cluster) as one JSONB column with a GIN index
(jsonb_path_ops), COPY'd in one transaction, and the same query as `doc @> {...}` (count and the
first 10 rows in load order) timed in one psql session. Bounded in lines and time.
"""

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

NAMESPACES = ["default", "reana", "belle2", "atlas", "cms", "lhcb"]
WORDS = ["connection", "refused", "started", "job", "step", "reading", "file", "root", "events", "processed", "warning", "done"]


def documents(lines, pods, seed):
    rnd = random.Random(seed)
    streams = []
    for p in range(pods):
        wf = f"{rnd.getrandbits(128):032x}"
        job = f"reana-run-job-{rnd.getrandbits(64):016x}"
        ns = NAMESPACES[p % len(NAMESPACES)]
        streams.append({
            "pod_name": f"{job}-{p:05d}", "namespace_name": ns, "pod_id": f"{rnd.getrandbits(128):032x}",
            "host": f"node-{p % 43}", "container_name": "job", "docker_id": f"{rnd.getrandbits(256):064x}",
            "container_hash": f"docker.io/reanahub/reana-env-root6@sha256:{rnd.getrandbits(256):064x}",
            "container_image": "docker.io/reanahub/reana-env-root6:6.18.04",
            "labels": {"job-name": job, "reana-run-job-workflow-uuid": wf, "reana_workflow_mode": "batch",
                       "controller-uid": f"{rnd.getrandbits(128):032x}"},
            "annotations": {"kubectl.kubernetes.io/default-container": "job"},
        })
    base = 1_727_136_000_000  # 2024-09-24T00:00:00Z, ms
    out = []
    for i in range(lines):
        k = streams[i % pods]
        ms = base + i * 7
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"
        level = "ERROR" if rnd.random() < 0.02 else "INFO"
        text = " ".join(rnd.choice(WORDS) for _ in range(8))
        doc = {"@timestamp": ts, "log": f"{level} {text} {i}\n", "stream": "stdout", "level": level, "kubernetes": k}
        out.append('{"create":{"_index":"fluentbit-job_log"}}')
        out.append(json.dumps(doc, separators=(",", ":")))
    return "\n".join(out) + "\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure_import(binary, path, lines, runs):
    best = None
    stored = None
    for _ in range(runs):
        data = tempfile.mkdtemp(prefix="logstore-fields-bench-")
        start = time.monotonic()
        subprocess.run([binary, "import", "--data-dir", data, "--log-level", "error", path], check=True, timeout=1800,
                       stdout=subprocess.DEVNULL)
        elapsed = time.monotonic() - start
        stats = json.loads(subprocess.run([binary, "stats", "--data-dir", data, "--json"], check=True, capture_output=True,
                                          timeout=600).stdout)
        stored = (stats["storedBytes"], stats["blockBytes"], stats["indexBytes"])
        if best is None or elapsed < best[0]:
            best = (elapsed, data)
        else:
            shutil.rmtree(data, ignore_errors=True)
    return lines / best[0], stored, best[1]


def query_times(binary, data, queries, repeat):
    port = free_port()
    proc = subprocess.Popen([binary, "serve", "--data-dir", data, "--listen", f"127.0.0.1:{port}", "--log-level", "error",
                             "--min-free-disk", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        results = {}
        for name, body in queries.items():
            times = []
            hits = None
            for _ in range(repeat):
                req = urllib.request.Request(f"http://127.0.0.1:{port}/fluentbit-*/_search", data=json.dumps(body).encode(),
                                             headers={"Content-Type": "application/json"}, method="POST")
                start = time.monotonic()
                with urllib.request.urlopen(req, timeout=120) as r:
                    answer = json.loads(r.read())
                times.append((time.monotonic() - start) * 1000)
                hits = answer["hits"]["total"]["value"]
            results[name] = (statistics.median(times), hits)
        return results
    finally:
        proc.terminate()
        proc.wait(timeout=30)


PG_QUERY = ("WITH m AS (SELECT id, doc FROM docs WHERE doc @> '{\"kubernetes\":{\"namespace_name\":\"belle2\"},\"level\":\"ERROR\"}') "
            "SELECT (SELECT count(*) FROM m), (SELECT count(*) FROM (SELECT doc FROM m ORDER BY id LIMIT 10) t);")


def postgres_side(path, lines, repeat):
    """Loads the documents into PostgreSQL (JSONB + GIN) and times the two-field query."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "load"))
    import pgpeer
    cluster = pgpeer.Cluster(log=lambda *a: None)
    try:
        cluster.start()
        cluster.psql("CREATE TABLE docs (id bigserial PRIMARY KEY, doc jsonb NOT NULL); "
                     "CREATE INDEX docs_gin ON docs USING gin (doc jsonb_path_ops);")
        rows = os.path.join(cluster.tmp, "rows.txt")
        with open(path, "rb") as f, open(rows, "wb") as out:
            for raw in f:
                if not raw.startswith(b'{"create"'):
                    out.write(raw)
        start = time.monotonic()
        cluster.psql(f"\\copy docs (doc) FROM '{rows}' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')", timeout=3600)
        load = time.monotonic() - start
        cluster.psql("VACUUM ANALYZE docs", timeout=1800)
        size = int(cluster.psql("SELECT pg_total_relation_size('docs')"))
        script = "\\timing on\n" + "\n".join([PG_QUERY] * repeat) + "\n"
        r = subprocess.run([str(cluster.bindir / "psql"), "-X", "-q", "-A", "-t", "-h", "127.0.0.1", "-p", str(cluster.port),
                            "-U", cluster.user, "-d", "postgres"], input=script.encode(), capture_output=True, timeout=600)
        out = r.stdout.decode()
        times = [float(l.split()[1]) for l in out.splitlines() if l.startswith("Time: ")]
        hits = out.splitlines()[0].split("|")[0] if out else "?"
        return lines / load, size, statistics.median(times), hits
    finally:
        cluster.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, help="the logstore binary to compare with (today's release)")
    ap.add_argument("--new", required=True, help="the logstore binary under test")
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--pods", type=int, default=300)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=26)
    ap.add_argument("--no-pg", dest="pg", action="store_false", help="leave PostgreSQL out")
    ap.add_argument("--repeat", type=int, default=7, help="query repetitions (the median is reported)")
    ap.add_argument("--documents", help="keep the generated bulk NDJSON in this file and reuse it when it exists "
                    "(generating 3 M documents takes minutes)")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="logstore-fields-docs-")
    path = args.documents or os.path.join(work, "reana.ndjson")
    if not (args.documents and os.path.exists(path)):
        with open(path, "w") as f:
            f.write(documents(args.lines, args.pods, args.seed))
    size = os.path.getsize(path)
    print(f"{args.lines} documents, {args.pods} pods, {size / 1e6:.1f} MB of bulk NDJSON")
    base_rate, base_stored, base_data = measure_import(args.base, path, args.lines, args.runs)
    new_rate, new_stored, new_data = measure_import(args.new, path, args.lines, args.runs)
    print(f"import lines/s   base {base_rate:,.0f}   new {new_rate:,.0f}   ratio {new_rate / base_rate:.3f}")
    for k, name in enumerate(["stored bytes", "block bytes", "index bytes"]):
        print(f"{name:16} base {base_stored[k]:,}   new {new_stored[k]:,}   ratio {new_stored[k] / base_stored[k]:.3f}")
    queries = {
        "namespace AND level (query_string)": {"query": {"query_string": {"query": "kubernetes.namespace_name:belle2 AND level:ERROR"}},
                                               "size": 10, "track_total_hits": True},
        "term namespace + term level (bool filter)": {
            "query": {"bool": {"filter": [{"term": {"kubernetes.namespace_name.keyword": "belle2"}}, {"term": {"level": "ERROR"}}]}},
            "size": 10, "track_total_hits": True},
    }
    for name, (ms, hits) in query_times(args.new, new_data, queries, args.repeat).items():
        print(f"{name}: median {ms:.1f} ms, {hits} hits")
    if args.pg:
        rate, size, ms, hits = postgres_side(path, args.lines, args.repeat)
        print(f"PostgreSQL JSONB+GIN: COPY {rate:,.0f} lines/s, {size:,} bytes (table+indexes), "
              f"doc @> namespace AND level: median {ms:.1f} ms, {hits} hits")
    for d in (work, base_data, new_data):
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
