#!/usr/bin/env python3
"""Bytes on disk for every shape of log: logstore (and optionally VictoriaLogs) side by side.

For each shape, REANA-shaped FluentBit documents are generated from the loghub text
(../shared/corpus/loghub, $LOGSTORE_CORPUS, or generated text) and:
  - imported with `logstore import` (ingest lines/s), then `du -sb` of the data directory;
  - compacted with `logstore compact`, then `du -sb` again;
  - one stream's whole log read with `logstore logs --job` (seconds, best of 3);
  - with --victorialogs BIN, posted to VictoriaLogs' jsonline endpoint on 127.0.0.1 and its
    storage measured after a flush and after a forced merge.

Shapes: dense REANA jobs, slow jobs (1 line/min for 24 h), sparse streams (1 line/hour),
workflow-engine logs, 10,000 streams x 5 lines, one stream of 5 M lines. --quick scales down.
Standard library only. Prints a Markdown table; --json FILE writes the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BASE = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)   # finished days: compaction rewrites them


def load_corpus() -> tuple[list[str], str]:
    candidates = [os.environ.get("LOGSTORE_CORPUS"), str(REPO.parent / "shared/corpus/loghub"),
                  str(REPO / "../shared/corpus/loghub")]
    for c in candidates:
        if c and Path(c).is_dir() and glob.glob(c + "/*.log"):
            lines: list[str] = []
            for f in sorted(glob.glob(c + "/*.log")):
                with open(f, encoding="utf-8", errors="replace") as fh:
                    lines += [l.rstrip("\r\n") for l in fh if l.strip()]
            return lines, f"loghub ({Path(c).resolve()})"
    rng = random.Random(7)
    words = ("INFO WARNING ERROR step job workflow reading writing file events processed tree branch "
             "histogram fit converged iteration memory MB GB ok failed retry input output data").split()
    return [f"{i} " + " ".join(rng.choice(words) for _ in range(rng.randint(4, 18))) for i in range(20000)], "generated"


def uid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class Streams:
    """REANA job and workflow-engine streams (the labels FluentBit adds)."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.users = [uid(self.rng) for _ in range(8)]

    def job(self, workflow: str) -> tuple[str, dict]:
        name = f"reana-run-job-{uid(self.rng)}"
        return name, {"kubernetes.labels.job-name": name, "kubernetes.labels.reana-run-job-workflow-uuid": workflow,
                      "kubernetes.labels.user-uuid": self.rng.choice(self.users), "stream": "stdout"}

    def engine(self, workflow: str) -> tuple[str, dict]:
        return workflow, {"kubernetes.labels.reana-run-batch-workflow-uuid": workflow,
                          "kubernetes.labels.user-uuid": self.rng.choice(self.users), "stream": "stderr"}


def iso(t: float) -> str:
    return (BASE + dt.timedelta(seconds=t)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def generate(shape: str, quick: bool, corpus: list[str], out: Path) -> dict:
    """Writes the shape's documents (one JSON per line, in arrival order) to `out`; returns facts."""
    rng = random.Random(sum(shape.encode()) * 7919)
    st = Streams(rng.randrange(1 << 30))
    events: list[tuple[float, int, str, dict]] = []   # (time s, stream, message, labels)
    labels: list[dict] = []
    names: list[str] = []

    def add_stream(kind: str, workflow: str) -> int:
        name, lab = st.job(workflow) if kind == "job" else st.engine(workflow)
        labels.append(lab)
        names.append(name)
        return len(labels) - 1

    def text(k: int) -> str:
        return corpus[k % len(corpus)]

    if shape == "dense":        # REANA jobs: 1,000 lines each within minutes
        jobs = 20 if quick else 200
        for j in range(jobs):
            s = add_stream("job", uid(rng))
            t0, c0 = j * 97.0, rng.randrange(len(corpus))
            for i in range(1000):
                events.append((t0 + i * 0.12, s, text(c0 + i), labels[s]))
    elif shape == "slow":       # a progress line a minute for 24 h
        jobs = 10 if quick else 60
        for j in range(jobs):
            s = add_stream("job", uid(rng))
            t0, c0 = rng.uniform(0, 3600), rng.randrange(len(corpus))
            for i in range(1440):
                events.append((t0 + i * 60 + rng.uniform(0, 1), s, text(c0 + i), labels[s]))
    elif shape == "sparse":     # 4 workflows x 20 jobs, 1 line an hour
        per = 100 if quick else 400
        for w in range(4):
            wf = uid(rng)
            for _ in range(20):
                s = add_stream("job", wf)
                t0, c0 = rng.uniform(0, 3600), rng.randrange(len(corpus))
                for i in range(per):
                    events.append((t0 + i * 3600 + rng.uniform(0, 60), s, text(c0 + i), labels[s]))
    elif shape == "engine":     # workflow engines: a line when a step starts or ends
        workflows = 40 if quick else 300
        for w in range(workflows):
            s = add_stream("engine", uid(rng))
            t, c0 = rng.uniform(0, 86400 * 3), rng.randrange(len(corpus))
            for i in range(rng.randint(20, 120)):
                t += rng.expovariate(1 / 300.0)
                step = f"step{i // 2:03d}"
                msg = (f"{'Starting' if i % 2 == 0 else 'Finished'} step {step} of workflow; "
                       + text(c0 + i)[:80])
                events.append((t, s, msg, labels[s]))
    elif shape == "many":       # 10,000 streams x 5 lines
        streams = 2000 if quick else 10000
        wf = uid(rng)
        for j in range(streams):
            if j % 50 == 0:
                wf = uid(rng)
            s = add_stream("job", wf)
            t0, c0 = rng.uniform(0, 3 * 3600), rng.randrange(len(corpus))
            for i in range(5):
                events.append((t0 + i * rng.uniform(0.5, 20), s, text(c0 + i), labels[s]))
    elif shape == "one":        # one stream of 5 M lines
        n = 200_000 if quick else 5_000_000
        s = add_stream("job", uid(rng))
        c0 = rng.randrange(len(corpus))
        step = 86400.0 * 3 / n
        for i in range(n):
            events.append((i * step, s, text(c0 + i), labels[s]))
    else:
        raise SystemExit(f"unknown shape {shape}")
    events.sort(key=lambda e: e[0])
    raw = 0
    with open(out, "w", encoding="utf-8") as fh:
        for t, s, msg, lab in events:
            doc = {"@timestamp": iso(t), "log": msg + "\n"}
            doc.update(lab)
            line = json.dumps(doc, separators=(",", ":"), ensure_ascii=True) + "\n"
            raw += len(line)
            fh.write(line)
    counts: dict[int, int] = {}
    for _, s, _, _ in events:
        counts[s] = counts.get(s, 0) + 1
    probe = max(counts, key=lambda k: counts[k])   # the stream read back: the longest
    return {"lines": len(events), "streams": len(labels), "raw": raw, "probe": names[probe],
            "probe_kind": "job" if "kubernetes.labels.job-name" in labels[probe] else "workflow",
            "probe_lines": counts[probe]}


def du(path: Path) -> int:
    return int(subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True).stdout.split()[0])


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr[-2000:]}")
    return p


def logstore(binary: str, docs: Path, facts: dict, work: Path) -> dict:
    data = work / "logstore"
    shutil.rmtree(data, ignore_errors=True)
    started = time.monotonic()
    run([binary, "import", "--data-dir", str(data), "--index", "fluentbit-job_log", str(docs)])
    seconds = time.monotonic() - started
    after_ingest = du(data)
    compact = run([binary, "compact", "--data-dir", str(data)]).stdout.strip().splitlines()
    after_compact = du(data)
    flag = "--job" if facts["probe_kind"] == "job" else "--workflow"
    best = None
    for _ in range(3):
        t = time.monotonic()
        p = run([binary, "logs", "--data-dir", str(data), flag, facts["probe"]])
        best = min(best or 1e9, time.monotonic() - t)
        got = p.stdout.count("\n")
        if got != facts["probe_lines"]:
            raise SystemExit(f"read {got} lines of {facts['probe']}, expected {facts['probe_lines']}")
    return {"ingest_s": seconds, "lines_per_s": facts["lines"] / seconds, "after_ingest": after_ingest,
            "after_compact": after_compact, "read_s": best, "report": compact[-1] if compact else ""}


def pss(pid: int) -> int:
    """Proportional set size of process `pid` in bytes (/proc/PID/smaps_rollup)."""
    with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    return 0


def logstore_served(binary: str, docs: Path, facts: dict, work: Path) -> dict:
    """The same documents posted to `logstore serve` as 4 MiB `_bulk` bodies: lines/s over HTTP
    and the server's PSS 10 s after the last answer (and at once)."""
    data = work / "logstore-served"
    shutil.rmtree(data, ignore_errors=True)
    port = free_port()
    proc = subprocess.Popen([binary, "serve", "--data-dir", str(data), "--listen", f"127.0.0.1:{port}",
                             "--max-age", "0", "--log-level", "error"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(400):
            try:
                vl_request(port, "GET", "/")
                break
            except (OSError, SystemExit):
                time.sleep(0.05)
        action = b'{"index":{"_index":"fluentbit-job_log"}}\n'
        started = time.monotonic()
        with open(docs, "rb") as fh:
            while True:
                chunk = fh.readlines(4 << 20)
                if not chunk:
                    break
                body = b"".join(action + line for line in chunk)
                answer = vl_request(port, "POST", "/_bulk", body, {"Content-Type": "application/x-ndjson"})
                if b'"errors":true' in answer:
                    raise SystemExit(f"logstore _bulk refused documents: {answer[:300]!r}")
        seconds = time.monotonic() - started
        at_once = pss(proc.pid)
        # Measured as VictoriaLogs' is: 10 s after the last answer (its background work done;
        # logstore's memory releaser runs every 2 s).
        time.sleep(10)
        return {"served_lines_per_s": facts["lines"] / seconds, "pss": pss(proc.pid), "pss_at_once": at_once}
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(data, ignore_errors=True)


def settled(path: Path, at_least: float, limit: float = 300) -> int:
    """`du -sb` of `path` once it stopped changing for two seconds, `at_least` seconds from now."""
    start = time.monotonic()
    last = -1
    while time.monotonic() - start < limit:
        time.sleep(2)
        now = du(path)
        if now == last and time.monotonic() - start >= at_least:
            return now
        last = now
    return du(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vl_request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> bytes:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status >= 300:
        raise SystemExit(f"VictoriaLogs {method} {path}: {r.status} {data[:300]!r}")
    return data


def victorialogs(binary: str, docs: Path, facts: dict, work: Path) -> dict:
    data = work / "vl"
    shutil.rmtree(data, ignore_errors=True)
    port = free_port()
    proc = subprocess.Popen([binary, f"-storageDataPath={data}", f"-httpListenAddr=127.0.0.1:{port}",
                             "-retentionPeriod=100y", "-loggerLevel=ERROR"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                vl_request(port, "GET", "/health")
                break
            except (OSError, SystemExit):
                time.sleep(0.05)
        fields = "kubernetes.labels.job-name,kubernetes.labels.reana-run-job-workflow-uuid,kubernetes.labels.reana-run-batch-workflow-uuid"
        path = f"/insert/jsonline?_stream_fields={fields}&_msg_field=log&_time_field=@timestamp"
        started = time.monotonic()
        with open(docs, "rb") as fh:
            while True:
                chunk = fh.readlines(4 << 20)
                if not chunk:
                    break
                vl_request(port, "POST", path, b"".join(chunk), {"Content-Type": "application/stream+json"})
        vl_request(port, "GET", "/internal/force_flush")
        seconds = time.monotonic() - started
        after_ingest = settled(data, at_least=10)   # VictoriaLogs writes its in-memory parts in the background
        memory = pss(proc.pid)
        vl_request(port, "GET", "/internal/force_merge")
        after_merge = settled(data, at_least=4)   # the merge runs in the background
        key = "kubernetes.labels.job-name" if facts["probe_kind"] == "job" else "kubernetes.labels.reana-run-batch-workflow-uuid"
        query = f'{{"{key}"="{facts["probe"]}"}} | sort by (_time)'
        best = None
        for _ in range(3):
            t = time.monotonic()
            try:
                body = vl_request(port, "POST", "/select/logsql/query", f"query={query}".encode(),
                                  {"Content-Type": "application/x-www-form-urlencoded"})
            except SystemExit as refused:  # e.g. a 5 M-line stream's sort is over its memory limit
                print(f"warning: VictoriaLogs could not read {facts['probe']}: {refused}", file=sys.stderr)
                best = None
                break
            best = min(best or 1e9, time.monotonic() - t)
            got = body.count(b"\n")
            if got != facts["probe_lines"]:
                print(f"warning: VictoriaLogs read {got} lines of {facts['probe']}, expected {facts['probe_lines']}", file=sys.stderr)
        return {"ingest_s": seconds, "lines_per_s": facts["lines"] / seconds, "after_ingest": after_ingest,
                "after_compact": after_merge, "read_s": best, "pss": memory}
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def mib(n: int) -> str:
    return f"{n / 1048576:.2f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=str(REPO / ".build/release/logstore"))
    ap.add_argument("--victorialogs", metavar="BIN", help="a VictoriaLogs binary to measure side by side")
    ap.add_argument("--quick", action="store_true", help="scaled-down shapes (about a minute)")
    ap.add_argument("--shapes", default="dense,slow,sparse,engine,many,one")
    ap.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    ap.add_argument("--keep", metavar="DIR", help="work in DIR and keep it")
    ap.add_argument("--pss", action="store_true",
                    help="also post the documents to `logstore serve` over _bulk and measure its PSS 10 s after "
                         "the last answer (VictoriaLogs' once its size settled, at least 10 s)")
    a = ap.parse_args()
    if not Path(a.bin).exists():
        raise SystemExit(f"{a.bin} missing: run `make release` first")
    corpus, source = load_corpus()
    work = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="logstore-shapes-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"corpus: {source}, {len(corpus)} lines; {'quick' if a.quick else 'full'} shapes; work in {work}", file=sys.stderr)
    results = []
    try:
        for shape in a.shapes.split(","):
            docs = work / f"{shape}.ndjson"
            facts = generate(shape, a.quick, corpus, docs)
            row = {"shape": shape, **facts, "logstore": logstore(a.bin, docs, facts, work)}
            if a.pss:
                row["logstore"].update(logstore_served(a.bin, docs, facts, work))
            if a.victorialogs:
                row["victorialogs"] = victorialogs(a.victorialogs, docs, facts, work)
            results.append(row)
            print(f"{shape}: {json.dumps(row)}", file=sys.stderr)
            docs.unlink()
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    vl = bool(a.victorialogs)
    head = "| shape | lines | streams | raw MiB | logstore ingested MiB | compacted MiB | ratio | lines/s | read s |"
    sep = "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    if vl:
        head += " VL settled MiB | VL merged MiB | VL ratio | VL lines/s | VL read s | logstore/VL | as written/VL |"
        sep += "---:|---:|---:|---:|---:|---:|---:|"
    if a.pss:
        head += " logstore PSS MiB |" + (" VL PSS MiB |" if vl else "")
        sep += "---:|" + ("---:|" if vl else "")
    print(head)
    print(sep)
    for r in results:
        ls = r["logstore"]
        row = (f"| {r['shape']} | {r['lines']:,} | {r['streams']:,} | {mib(r['raw'])} | {mib(ls['after_ingest'])} | "
               f"{mib(ls['after_compact'])} | {ls['after_compact'] / r['raw']:.3f} | {ls['lines_per_s']:,.0f} | {ls['read_s']:.3f} |")
        if vl:
            v = r["victorialogs"]
            row += (f" {mib(v['after_ingest'])} | {mib(v['after_compact'])} | {v['after_compact'] / r['raw']:.3f} | "
                    f"{v['lines_per_s']:,.0f} | {'failed' if v['read_s'] is None else format(v['read_s'], '.3f')} | {ls['after_compact'] / v['after_compact']:.2f} | "
                    f"{ls['after_ingest'] / v['after_ingest']:.2f} |")
        if a.pss:
            row += f" {mib(ls['pss'])} |" + (f" {mib(r['victorialogs']['pss'])} |" if vl else "")
        print(row)
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    grew = [r["shape"] for r in results if r["logstore"]["after_compact"] > r["logstore"]["after_ingest"]]
    if grew:
        print(f"larger after compaction: {', '.join(grew)}", file=sys.stderr)
        return 5
    return 0


if __name__ == "__main__":
    sys.exit(main())
