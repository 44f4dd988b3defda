#!/usr/bin/env python3
"""Live-tail benchmark for logstore: many followers long-polling GET /v1/tail while ingesting.

3000 followers (one per job stream, `--followers`) hold a long-poll each, spread over a few
processes that drive raw HTTP/1.1 keep-alive sockets with `selectors`. Meanwhile a few ingest
processes (FluentBit nodes) post the same 3000 streams at 1-3 lines/s each through `POST /_bulk`
(REANA's labels, bodies built as loadgen.py builds them). Every line carries its stream and
sequence number, so the driver checks that each follower got exactly its lines, in order, and
measures the latency from the acknowledgement of a line's bulk request to the moment its
follower read it (both on CLOCK_MONOTONIC, which all processes share; a line delivered before
its bulk answer arrived counts as 0 ms). Also reports the server's RSS idle, with every follower
held, and at the end.

Standard library only (Python 3.11), like loadgen.py. Only 127.0.0.1 targets.
Exit status: 0 when the p99 target is met and nothing was lost, 5 when the target is missed,
1 on errors (lost or repeated lines included).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import random
import re
import resource
import selectors
import shutil
import signal
import socket
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import loadgen as lg  # noqa: E402

JOB_RE = re.compile(rb'"kubernetes\.labels\.job-name":"([^"]+)"')
ACTION = lg.ACTION_JOB
TARGET_P99_MS = 50.0
WAIT = 25  # seconds each long-poll may be held


def raise_nofile(wanted: int) -> int:
    """Raises this process's open-file limit towards `wanted` (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ----------------------------------------------------------------------------------------------
# Followers: one process drives many sockets


class Follower:
    __slots__ = ("index", "job", "sock", "buf", "cursor", "expect_seq", "received", "errors", "sent_at", "requests")

    def __init__(self, index: int, job: str):
        self.index, self.job = index, job
        self.sock: socket.socket | None = None
        self.buf = bytearray()
        self.cursor: str | None = None
        self.expect_seq = 0
        self.received: list[tuple[int, float]] = []  # (seq, monotonic time read)
        self.errors: list[str] = []
        self.sent_at = 0.0
        self.requests = 0

    def request(self) -> bytes:
        q = f"job={urllib.parse.quote(self.job)}&wait={WAIT}&format=text&limit=1000"
        if self.cursor is not None:
            q += f"&after={self.cursor}"
        return f"GET /v1/tail?{q} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n".encode()


def parse_response(buf: bytearray) -> tuple[int, dict, bytes, int] | None:
    """(status, headers, body, bytes used) of the first complete response in buf, or None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buf[:end]).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    headers = {}
    for line in head[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    if len(buf) < end + 4 + length:
        return None
    body = bytes(buf[end + 4:end + 4 + length])
    return status, headers, body, end + 4 + length


def follower_main(wid: int, followers: list[tuple[int, str]], host: str, port: int, stop_at: float,
                  ready_q, result_q, stop_event) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sel = selectors.DefaultSelector()
    state = [Follower(i, j) for i, j in followers]

    def connect(f: Follower) -> None:
        for attempt in range(50):
            try:
                s = socket.create_connection((host, port), timeout=10)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                s.setblocking(False)
                f.sock, f.buf = s, bytearray()
                send(f)
                sel.register(s, selectors.EVENT_READ, f)
                return
            except OSError as e:
                if attempt == 49:
                    f.errors.append(f"connect: {e}")
                time.sleep(0.05)

    def send(f: Follower) -> None:
        f.sent_at = time.monotonic()
        f.requests += 1
        f.sock.sendall(f.request())  # a few hundred bytes: never blocks a fresh socket

    def drop(f: Follower) -> None:
        if f.sock is not None:
            try:
                sel.unregister(f.sock)
            except (KeyError, ValueError):
                pass
            f.sock.close()
            f.sock = None

    for f in state:
        connect(f)
    ready_q.put(wid)
    while time.monotonic() < stop_at and not stop_event.is_set():
        for key, _ in sel.select(timeout=0.2):
            f: Follower = key.data
            try:
                chunk = f.sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            now = time.monotonic()
            if not chunk:
                drop(f)
                connect(f)  # the server closed: continue from the cursor
                continue
            f.buf += chunk
            while True:
                parsed = parse_response(f.buf)
                if parsed is None:
                    break
                status, headers, body, used = parsed
                del f.buf[:used]
                if status != 200:
                    f.errors.append(f"status {status}: {body[:200]!r}")
                    time.sleep(0.01)
                else:
                    f.cursor = headers.get("x-logstore-next", f.cursor)
                    for line in body.split(b"\n"):
                        if not line:
                            continue
                        parts = line.split(b" ", 3)
                        # "tb <stream> <seq> …"
                        if len(parts) < 3 or parts[0] != b"tb" or int(parts[1]) != f.index:
                            f.errors.append(f"foreign line {line[:80]!r}")
                            continue
                        f.received.append((int(parts[2]), now))
                if headers.get("connection", "").lower() == "close":
                    drop(f)
                    connect(f)
                    break
                send(f)
    for f in state:
        drop(f)
    result_q.put((wid, [(f.index, f.received, f.errors[:5], f.requests) for f in state]))


# ----------------------------------------------------------------------------------------------
# Ingest: FluentBit-like nodes flushing every `flush` seconds


def ingest_main(wid: int, streams: list[tuple[int, bytes, float]], corpus: list[bytes], host: str, port: int,
                start_at: float, stop_at: float, flush: float, result_q, stop_event) -> None:
    """streams: (stream index, doc suffix, lines/s). Records (stream, seq, ack time) per line."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    rng = random.Random(1000 + wid)
    due = {i: start_at + rng.random() / rate for i, _, rate in streams}
    seq = {i: 0 for i, _, _ in streams}
    acks: list[tuple[int, int, float]] = []
    client = lg.Client(host, port, "/_bulk", False, 60.0)
    stats = {"requests": 0, "lines": 0, "failed": 0, "latency": [], "took": []}
    while time.monotonic() < start_at and not stop_event.is_set():
        time.sleep(0.01)
    next_flush = start_at + flush * (wid + 1) / 10
    while not stop_event.is_set():
        now = time.monotonic()
        if now >= stop_at:
            break
        if now < next_flush:
            time.sleep(min(next_flush - now, 0.05))
            continue
        next_flush += flush
        parts: list[bytes] = []
        lines: list[tuple[int, int]] = []
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3].encode() + b"Z"
        for i, suffix, rate in streams:
            while due[i] <= now:
                s = seq[i]
                msg = b"tb %d %d " % (i, s) + corpus[(i * 7919 + s) % len(corpus)]
                parts.append(ACTION + b'{"@timestamp":"' + stamp + b'","log":"' + msg + suffix)
                lines.append((i, s))
                seq[i] = s + 1
                due[i] += rng.uniform(0.5, 1.5) / rate
        if not parts:
            continue
        body = b"".join(parts)
        sent = time.monotonic()
        for attempt in range(20):
            try:
                status, data, _ = client.post(body)
            except OSError:
                client.close()
                time.sleep(0.05)
                continue
            if status == 200 and b'"errors":false' in data:
                break
            time.sleep(0.05)
        else:
            stats["failed"] += 1
            continue
        ack = time.monotonic()
        stats["requests"] += 1
        stats["lines"] += len(lines)
        stats["latency"].append(ack - sent)
        m = re.match(rb'\{"took":(\d+)', data)
        if m:
            stats["took"].append(int(m.group(1)) / 1000.0)
        acks.extend((i, s, sent, ack) for i, s in lines)
    client.close()
    result_q.put((wid, {"acks": acks, "stats": stats, "sent": seq}))


# ----------------------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float | None:
    return lg.pct(values, p)


def server_waiters(host: str, port: int) -> int | None:
    stats = lg.get_stats(host, port)
    return None if stats is None else stats.get("tailWaiters")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", default=lg.DEFAULT_BIN, help="logstore binary (default .build/release/logstore)")
    p.add_argument("--url", help="use a running server (http://127.0.0.1:PORT) instead of starting one")
    p.add_argument("--pid", type=int, help="its pid, for RSS figures")
    p.add_argument("--workflows", type=int, default=60)
    p.add_argument("--jobs", type=int, default=50, help="jobs per workflow (streams = workflows x jobs)")
    p.add_argument("--followers", type=int, help="default: one per stream")
    p.add_argument("--follower-procs", type=int, default=4)
    p.add_argument("--ingest-procs", type=int, default=2)
    p.add_argument("--rate-min", type=float, default=1.0, help="lines/s per stream, lowest")
    p.add_argument("--rate-max", type=float, default=3.0, help="lines/s per stream, highest")
    p.add_argument("--flush", type=float, default=0.25, help="seconds between an ingest node's bulk requests")
    p.add_argument("--seconds", type=float, default=60.0, help="measured ingest time")
    p.add_argument("--warmup", type=float, default=5.0, help="ingest before measuring (not counted)")
    p.add_argument("--corpus", help="message texts (default ../shared/corpus/loghub)")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--json", help="also write the report here")
    p.add_argument("--quick", action="store_true", help="300 followers, 10 s")
    a = p.parse_args(argv)
    if a.quick:
        a.workflows, a.jobs, a.seconds, a.warmup = 10, 30, 10.0, 2.0
    return a


def main(argv: list[str]) -> int:
    a = parse_args(argv)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    streams_n = a.workflows * a.jobs
    followers_n = min(a.followers or streams_n, streams_n)
    nofile = raise_nofile(followers_n + 4096)
    if nofile < followers_n + 256:
        print(f"error: open-file limit {nofile} is too low for {followers_n} followers", file=sys.stderr)
        return 2
    ctx = mp.get_context("fork")
    corpus_dir = Path(a.corpus) if a.corpus else (lg.REPO_ROOT / lg.DEFAULT_CORPUS)
    corpus, corpus_source = lg.load_corpus(corpus_dir.resolve() if corpus_dir.exists() else None)
    job_streams, _ = lg.make_streams(a.workflows, a.jobs, a.seed)
    jobs = [JOB_RE.search(s).group(1).decode() for s in job_streams]
    rng = random.Random(a.seed)
    rates = [rng.uniform(a.rate_min, a.rate_max) for _ in job_streams]

    server = None
    temp_dir = None
    procs: list = []
    stop_event = ctx.Event()
    rep: dict = {"started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "argv": argv,
                 "config": {"streams": streams_n, "followers": followers_n, "rate": [a.rate_min, a.rate_max],
                            "seconds": a.seconds, "warmup": a.warmup, "flush": a.flush, "corpus": corpus_source,
                            "follower_procs": a.follower_procs, "ingest_procs": a.ingest_procs, "nofile": nofile}}
    code = 1
    try:
        if a.url:
            u = urllib.parse.urlsplit(a.url)
            host, port = "127.0.0.1", u.port or 9200
            if u.hostname not in lg.LOCAL_HOSTS:
                print("error: --url must be a local server", file=sys.stderr)
                return 2
            pid = a.pid
        else:
            binary = Path(a.bin)
            if not binary.is_absolute():
                binary = lg.REPO_ROOT / binary
            if not os.access(binary, os.X_OK):
                print(f"error: {binary} not found; build with swift build -c release --product logstore", file=sys.stderr)
                return 2
            host, port = "127.0.0.1", lg.free_port()
            temp_dir = Path(tempfile.mkdtemp(prefix="logstore-tailbench-"))
            server = lg.Server(binary, temp_dir / "data", port, temp_dir / "server.log", [])
            pid = server.pid
        lg.wait_health(host, port, server, 60)
        rss_idle = lg.proc_mem(pid).get("VmRSS")

        # 1. Followers connect and park (from the end of their empty streams).
        result_q, ready_q = ctx.Queue(), ctx.Queue()
        t0 = time.monotonic()
        stop_at = t0 + 90 + a.warmup + a.seconds + 30
        per = [list() for _ in range(a.follower_procs)]
        for i in range(followers_n):
            per[i % a.follower_procs].append((i, jobs[i]))
        for w, chunk in enumerate(per):
            p = ctx.Process(target=follower_main, args=(w, chunk, host, port, stop_at, ready_q, result_q, stop_event))
            p.start()
            procs.append(p)
        for _ in per:
            ready_q.get(timeout=120)
        held_deadline = time.monotonic() + 60
        waiters = server_waiters(host, port)
        while waiters != followers_n and time.monotonic() < held_deadline:
            time.sleep(0.2)
            waiters = server_waiters(host, port)
        connect_seconds = time.monotonic() - t0
        mem_held = lg.proc_mem(pid)
        rss_held = mem_held.get("VmRSS")
        print(f"{waiters} followers held after {connect_seconds:.1f} s; server RSS {rss_held / 2**20:.1f} MiB "
              f"(idle {rss_idle / 2**20:.1f} MiB)", file=sys.stderr, flush=True)
        if waiters != followers_n:
            raise RuntimeError(f"only {waiters} of {followers_n} followers held")

        # 2. Ingest: warm-up, then the measured window.
        start_at = time.monotonic() + 0.5
        ingest_stop = start_at + a.warmup + a.seconds
        measure_from = start_at + a.warmup
        nodes = [list() for _ in range(a.ingest_procs)]
        for i, suffix in enumerate(job_streams):
            nodes[i % a.ingest_procs].append((i, suffix, rates[i]))
        ingest_q = ctx.Queue()
        ingesters = []
        for w, chunk in enumerate(nodes):
            p = ctx.Process(target=ingest_main,
                            args=(w, chunk, corpus, host, port, start_at, ingest_stop, a.flush, ingest_q, stop_event))
            p.start()
            ingesters.append(p)
        procs += ingesters
        cpu0 = lg.proc_cpu(pid)
        rss_samples, anon_samples = [], []
        while time.monotonic() < ingest_stop:
            time.sleep(1)
            mem = lg.proc_mem(pid)
            if mem.get("VmRSS"):
                rss_samples.append(mem["VmRSS"])
                anon_samples.append(mem.get("RssAnon", 0))
        cpu1 = lg.proc_cpu(pid)
        ingest_results = [ingest_q.get(timeout=120) for _ in ingesters]
        time.sleep(2.0)  # the last lines reach their followers
        stop_event.set()
        follower_results = [result_q.get(timeout=120) for _ in per]
        rss_end = lg.proc_mem(pid).get("VmRSS")

        # 3. Match deliveries with acknowledgements.
        acks: dict[tuple[int, int], tuple[float, float]] = {}
        sent = {}
        ingest_stats = {"requests": 0, "lines": 0, "failed": 0, "latency": [], "took": []}
        for _, r in ingest_results:
            for i, s, t_sent, t_ack in r["acks"]:
                acks[(i, s)] = (t_sent, t_ack)
            sent.update(r["sent"])
            for k in ("requests", "lines", "failed"):
                ingest_stats[k] += r["stats"][k]
            ingest_stats["latency"] += r["stats"]["latency"]
            ingest_stats["took"] += r["stats"]["took"]
        latencies: list[float] = []
        from_send: list[float] = []
        early = missing = repeated = disorder = 0
        errors: list[str] = []
        requests = 0
        for _, results in follower_results:
            for index, received, errs, n in results:
                requests += n
                errors += [f"follower {index}: {e}" for e in errs]
                seqs = [s for s, _ in received]
                if seqs != list(range(len(seqs))):
                    disorder += 1
                    if len(set(seqs)) != len(seqs):
                        repeated += 1
                missing += max(0, sent.get(index, 0) - len(set(seqs)))
                for s, t in received:
                    times = acks.get((index, s))
                    if times is None or times[1] < measure_from:
                        continue
                    sent_at, ack = times
                    from_send.append(t - sent_at)
                    d = t - ack
                    if d < 0:
                        early += 1
                        d = 0.0
                    latencies.append(d)
        latencies.sort()
        from_send.sort()
        ingest_stats["latency"].sort()
        ingest_stats["took"].sort()
        measured = a.seconds
        rep["results"] = {
            "followers_held": waiters,
            "connect_seconds": round(connect_seconds, 2),
            "lines_acknowledged": ingest_stats["lines"],
            "lines_per_sec": round(ingest_stats["lines"] / (a.warmup + a.seconds), 1),
            "bulk_requests": ingest_stats["requests"],
            "bulk_failed": ingest_stats["failed"],
            "bulk_p50_ms": lg.ms(pct(ingest_stats["latency"], 50)),
            "bulk_p99_ms": lg.ms(pct(ingest_stats["latency"], 99)),
            "bulk_took_p50_ms": lg.ms(pct(ingest_stats["took"], 50)),
            "bulk_took_p99_ms": lg.ms(pct(ingest_stats["took"], 99)),
            "tail_requests": requests,
            "measured_lines": len(latencies),
            "delivered_before_ack": early,
            "latency_p50_ms": lg.ms(pct(latencies, 50)),
            "latency_p90_ms": lg.ms(pct(latencies, 90)),
            "latency_p99_ms": lg.ms(pct(latencies, 99)),
            "latency_max_ms": lg.ms(latencies[-1] if latencies else None),
            "send_to_delivery_p50_ms": lg.ms(pct(from_send, 50)),
            "send_to_delivery_p99_ms": lg.ms(pct(from_send, 99)),
            "followers_out_of_order": disorder,
            "followers_with_repeats": repeated,
            "lines_missing": missing,
            "errors": errors[:10],
            "rss_idle_mib": round(rss_idle / 2**20, 1) if rss_idle else None,
            "rss_followers_held_mib": round(rss_held / 2**20, 1) if rss_held else None,
            "rss_max_during_ingest_mib": round(max(rss_samples) / 2**20, 1) if rss_samples else None,
            "rss_end_mib": round(rss_end / 2**20, 1) if rss_end else None,
            # RSS counts the pages of the mapped segment files the server read or wrote (RssFile);
            # RssAnon is the process's own memory.
            "rss_anon_followers_held_mib": round(mem_held.get("RssAnon", 0) / 2**20, 1),
            "rss_anon_max_during_ingest_mib": round(max(anon_samples) / 2**20, 1) if anon_samples else None,
            "server_cpu_seconds_per_second": round((cpu1 - cpu0) / (a.warmup + a.seconds), 2) if cpu0 and cpu1 else None,
        }
        r = rep["results"]
        print(json.dumps(r, indent=1))
        print(f"\nlive tail, {followers_n} followers, {streams_n} streams at {a.rate_min:g}-{a.rate_max:g} lines/s "
              f"({r['lines_per_sec']:,} lines/s), {measured:g} s measured:\n"
              f"  ack -> follower latency p50 {r['latency_p50_ms']} ms, p90 {r['latency_p90_ms']} ms, "
              f"p99 {r['latency_p99_ms']} ms, max {r['latency_max_ms']} ms over {r['measured_lines']:,} lines "
              f"({r['delivered_before_ack']:,} delivered before their bulk answer)\n"
              f"  bulk send -> follower p50 {r['send_to_delivery_p50_ms']} ms, p99 {r['send_to_delivery_p99_ms']} ms; "
              f"bulk request p50 {r['bulk_p50_ms']} ms, p99 {r['bulk_p99_ms']} ms\n"
              f"  server RSS idle {r['rss_idle_mib']} MiB, {followers_n} followers held {r['rss_followers_held_mib']} MiB, "
              f"max during ingest {r['rss_max_during_ingest_mib']} MiB (anonymous: {r['rss_anon_followers_held_mib']} held, "
              f"{r['rss_anon_max_during_ingest_mib']} max); CPU {r['server_cpu_seconds_per_second']} cores\n"
              f"  missing {missing}, out of order {disorder}, repeats {repeated}, follower errors {len(errors)}")
        if missing or disorder or errors or ingest_stats["failed"] or not latencies:
            rep["verdict"] = "lines lost, repeated or errors"
            code = 1
        elif r["latency_p99_ms"] is not None and r["latency_p99_ms"] > TARGET_P99_MS:
            rep["verdict"] = f"p99 over {TARGET_P99_MS} ms"
            code = 5
        else:
            rep["verdict"] = "ok"
            code = 0
        print(f"  verdict: {rep['verdict']}")
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    except Exception as e:  # noqa: BLE001 - report and clean up
        print(f"error: {e}", file=sys.stderr)
        if server is not None:
            print(server.log_tail(), file=sys.stderr)
        code = 1
    finally:
        stop_event.set()
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
        if server is not None:
            rep["server_stop"] = server.stop()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
        if a.json:
            Path(a.json).write_text(json.dumps(rep, indent=1))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
