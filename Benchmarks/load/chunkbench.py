#!/usr/bin/env python3
"""Small-chunk ingest as FluentBit sends it, and 2,000-line bodies, with server CPU per line.

FluentBit sends one request per tailed file and flush (1 s): on a REANA cluster most requests
carry 1-3 lines of one stream, from many senders at once. This bench replays the workload of
`workload.py` that way: each stream's lines are cut into chunks of 1-3 consecutive lines, one
request each, in rounds (every stream sends one chunk per round, as every tailed file is flushed
once a second); the streams are spread over the senders. The Swift driver (`loaddriver --mode
closed`) runs the senders: a thread and one keep-alive connection each, one request in flight,
the next sent as soon as the previous one is acknowledged (FluentBit's output workers wait for
the answer). Phases, each against a fresh server (temp data dir, 127.0.0.1, free port):

  chunks-8, chunks-64   1-3-line chunks over 8 and 64 senders (`--senders`)
  big                   2,000-line bodies over 8 senders (`--big-senders`)

Figures per phase: lines/s and requests/s over the wall time, request latency p50/p99, server
CPU (utime+stime of /proc/PID/stat) per line and per request, the driver's own CPU per request,
and the machine's idle CPU during the phase (from /proc/stat): idle left over, or a driver that
spends a small fraction of what the server does, means the driver is not what limits the rate.
Every answer must be 200 with "errors":false; logstore's /v1/stats must count exactly the
lines acknowledged.

`--victorialogs BIN` runs the same phases against VictoriaLogs (its Elasticsearch bulk API,
`_msg_field=log`, `_time_field=@timestamp`, the job-name and workflow labels as stream fields)
in the same run, alternating systems phase by phase, and prints the ratios.
`--durability MODE` passes `--durability` to `logstore serve` (default: the server's default).
`--bytes` also measures the data directory (`du -sb`) of each phase: right after the last
answer, once settled (unchanged for 2 s, at least `--settle` seconds later, 100 by default:
VictoriaLogs writes its in-memory parts and merges them; logstore seals idle heads after 30–45 s
and gives back the pages they held at its next minutely check), and then, server stopped, after `logstore compact
--dedup-window 0s` (logstore: the day as its compaction leaves it once the requests' dedup
records are past their window, an hour by default) or `/internal/force_merge` (VictoriaLogs,
before the stop).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import loadgen as lg  # noqa: E402
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "shapes"))
from shapes import du, settled  # noqa: E402
import workload as wl  # noqa: E402

DEFAULT_DRIVER = "Benchmarks/.build/release/loaddriver"
VL_STREAM_FIELDS = "kubernetes.labels.job-name,kubernetes.labels.reana-run-batch-workflow-uuid"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def cpu_times() -> tuple[float, float]:
    """(busy, idle) seconds of the whole machine."""
    with open("/proc/stat") as f:
        x = [int(v) for v in f.readline().split()[1:]]
    tck = os.sysconf("SC_CLK_TCK")
    idle = x[3] + (x[4] if len(x) > 4 else 0)
    return (sum(x) - idle) / tck, idle / tck


def chunk_bodies(w: wl.Workload, requests: int, seed: int) -> list[tuple[int, bytes, int]]:
    """[(stream index, body, docs)] in round order: per round, each stream's next 1-3 lines."""
    rng = random.Random(seed)
    cursor = [0] * len(w.streams)
    out: list[tuple[int, bytes, int]] = []
    while len(out) < requests:
        progressed = False
        for i, s in enumerate(w.streams):
            if len(out) >= requests:
                break
            if cursor[i] >= s.lines:
                continue
            n = min(rng.randint(1, 3), s.lines - cursor[i])
            body = b"".join(w.doc(s, k) for k in range(cursor[i], cursor[i] + n))
            out.append((i, body, n))
            cursor[i] += n
            progressed = True
        if not progressed:
            break
    return out


def write_bodies(path: Path, bodies: list[tuple[int, bytes, int]]) -> int:
    """The driver's bodies file; the sender is the stream index (the driver takes it mod N)."""
    lines = 0
    with open(path, "wb") as f:
        for sender, body, docs in bodies:
            f.write(b"%d %d %d\n" % (sender, docs, len(body)))
            f.write(body)
            lines += docs
    return lines


class VictoriaLogs:
    def __init__(self, binary: Path, data_dir: Path, port: int, log_path: Path):
        self.data_dir, self.port = data_dir, port
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [str(binary), f"-storageDataPath={data_dir}", f"-httpListenAddr=127.0.0.1:{port}", "-loggerLevel=WARN",
             "-retentionPeriod=100y"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=lg._pdeathsig)
        self.pid = self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def wait_vl(port: int, server: VictoriaLogs, timeout: float = 30) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if not server.alive():
            raise RuntimeError("victoria-logs exited")
        try:
            status, _ = lg.http_get("127.0.0.1", port, "/health", timeout=2)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("victoria-logs did not answer /health")


def vl_count(port: int) -> int | None:
    q = urllib.parse.quote("* | stats count() as n")
    try:
        status, body = lg.http_get("127.0.0.1", port, f"/select/logsql/query?query={q}", timeout=30)
        if status != 200:
            return None
        return int(json.loads(body.decode().strip().splitlines()[0])["n"])
    except (OSError, ValueError, KeyError, IndexError):
        return None


def run_phase(a, system: str, name: str, bodies_path: Path, lines_total: int, senders: int, tmp: Path,
              warmup: tuple[Path, int] | None = None) -> dict:
    port = lg.free_port()
    data = tmp / f"data-{system}-{name}"
    logp = tmp / f"server-{system}-{name}.log"
    if system == "logstore":
        extra = ["--durability", a.durability] if a.durability else []
        server = lg.Server(Path(a.bin), data, port, logp, extra + a.server_arg)
        lg.wait_health("127.0.0.1", port, server, 60)
        path, ctype = "/_bulk", "application/x-ndjson"
    else:
        server = VictoriaLogs(Path(a.victorialogs), data, port, logp)
        wait_vl(port, server)
        path = ("/insert/elasticsearch/_bulk?_msg_field=log&_time_field=@timestamp&_stream_fields="
                + VL_STREAM_FIELDS)
        ctype = "application/x-ndjson"
    try:
        out = tmp / f"out-{system}-{name}.json"
        warm_lines = 0
        if warmup is not None:
            # Every stream's first chunk, not measured: FluentBit's streams exist long before
            # a given second, and a server records a new stream once.
            wout = tmp / f"warm-{system}-{name}.json"
            subprocess.run([str(a.driver), "--mode", "closed", "--requests", str(warmup[0]), "--connections", "64",
                            "--seconds", "120", "--url", f"http://127.0.0.1:{port}", "--path", path,
                            "--content-type", ctype, "--json", str(wout)],
                           stdin=subprocess.DEVNULL, preexec_fn=lg._pdeathsig, timeout=240, check=True)
            w = json.loads(wout.read_text())
            if w["errors"] or w["lines"] != warmup[1]:
                raise RuntimeError(f"warm-up failed: {w}")
            warm_lines = w["lines"]
        cpu0 = lg.proc_cpu(server.pid)
        busy0, idle0 = cpu_times()
        cmd = [str(a.driver), "--mode", "closed", "--requests", str(bodies_path), "--connections", str(senders),
               "--seconds", str(a.seconds), "--url", f"http://127.0.0.1:{port}", "--path", path,
               "--content-type", ctype, "--json", str(out), "--label", f"{system} {name}"]
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, preexec_fn=lg._pdeathsig, timeout=a.seconds + 120)
        busy1, idle1 = cpu_times()
        cpu1 = lg.proc_cpu(server.pid)
        if p.returncode != 0 or not out.exists():
            raise RuntimeError(f"driver exit code {p.returncode}")
        r = json.loads(out.read_text())
        r["system"], r["phase"] = system, name
        r["warmup_lines"] = warm_lines
        r["server_cpu_seconds"] = round(cpu1 - cpu0, 3)
        wall = max(1e-9, busy1 + idle1 - busy0 - idle0)
        r["machine_idle_share"] = round((idle1 - idle0) / wall, 3)
        if r["lines"]:
            r["server_cpu_us_per_line"] = round(r["server_cpu_seconds"] / r["lines"] * 1e6, 1)
            r["server_cpu_us_per_request"] = round(r["server_cpu_seconds"] / r["requests"] * 1e6, 1)
            r["server_cores"] = round(r["server_cpu_seconds"] / max(1e-9, r["wall_seconds"]), 2)
            r["client_cores"] = round(r["client_cpu_seconds"] / max(1e-9, r["wall_seconds"]), 2)
        if system == "logstore":
            st = lg.get_stats("127.0.0.1", port)
            r["stored_lines"] = st.get("lines") if st else None
            r["count_ok"] = r["stored_lines"] == r["lines"] + warm_lines
        else:
            got = None
            for _ in range(40):
                got = vl_count(port)
                if got == r["lines"] + warm_lines:
                    break
                time.sleep(0.5)
            r["stored_lines"] = got
            r["count_ok"] = got == r["lines"] + warm_lines
        if a.bytes:
            r["raw_bytes"] = raw_bytes(bodies_path, r["requests"]) + (raw_bytes(warmup[0], 10**9) if warmup else 0)
            r["bytes_after"] = du(data)
            r["bytes_settled"] = settled(data, at_least=a.settle, limit=a.settle + 120)
            if system == "victorialogs":
                lg.http_get("127.0.0.1", port, "/internal/force_merge", timeout=300)
                r["bytes_compacted"] = settled(data, at_least=4)
        return r
    finally:
        server.stop()
        if a.bytes and system == "logstore" and "r" in locals():
            subprocess.run([a.bin, "compact", "--data-dir", str(data), "--dedup-window", "0s"], check=True, capture_output=True)
            r["bytes_compacted"] = du(data)
        shutil.rmtree(data, ignore_errors=True)


def raw_bytes(bodies_path: Path, requests: int) -> int:
    """Bytes of the first `requests` bodies of a driver's bodies file."""
    total = 0
    with open(bodies_path, "rb") as f:
        for _ in range(requests):
            header = f.readline()
            if not header:
                break
            size = int(header.split()[2])
            f.seek(size, 1)
            total += size
    return total


def fmt_row(r: dict) -> str:
    lat = r.get("latency_ms", {})
    return (f"{r['system']:<13}{r['phase']:<10}{r['senders']:>4}{r['requests']:>9,}{r['lines']:>10,}"
            f"{r['lines_per_second']:>11,.0f}{r['requests_per_second']:>9,.0f}{lat.get('p50', 0):>8.2f}{lat.get('p99', 0):>8.2f}"
            f"{r.get('server_cpu_us_per_line', 0):>9.1f}{r.get('server_cpu_us_per_request', 0):>9.1f}"
            f"{r.get('client_cpu_us_per_request', 0):>9.1f}{r.get('server_cores', 0):>6.2f}{r.get('client_cores', 0):>6.2f}"
            f"{r.get('machine_idle_share', 0) * 100:>6.0f}%{r['errors']:>5} {'ok' if r.get('count_ok') else 'MISMATCH'}")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=str(lg.REPO_ROOT / ".build/release/logstore"))
    ap.add_argument("--driver", default=str(lg.REPO_ROOT / DEFAULT_DRIVER))
    ap.add_argument("--victorialogs", help="a victoria-logs binary to measure in the same run")
    ap.add_argument("--durability", help="logstore serve --durability MODE")
    ap.add_argument("--server-arg", action="append", default=[], help="extra argument for logstore serve")
    ap.add_argument("--senders", default="8,64", help="sender counts for the chunk phases")
    ap.add_argument("--big-senders", type=int, default=8)
    ap.add_argument("--chunk-requests", type=int, default=60000, help="chunks generated (each phase stops at --seconds)")
    ap.add_argument("--big-bodies", type=int, default=150, help="2,000-line bodies generated")
    ap.add_argument("--seconds", type=float, default=10.0, help="time limit of a phase")
    ap.add_argument("--phases", default="chunks,big")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="3 s phases, fewer bodies")
    ap.add_argument("--json", help="write all figures here")
    ap.add_argument("--bytes", action="store_true", help="also measure the data directories (see above)")
    ap.add_argument("--settle", type=float, default=100.0, help="seconds before the settled size (--bytes)")
    a = ap.parse_args(argv)
    if a.quick:
        a.seconds, a.chunk_requests, a.big_bodies = 3.0, 15000, 40
    for p in [a.bin, a.driver] + ([a.victorialogs] if a.victorialogs else []):
        if not Path(p).exists():
            print(f"error: {p} missing (make release / make loaddriver)", file=sys.stderr)
            return 2
    systems = ["logstore"] + (["victorialogs"] if a.victorialogs else [])
    phases = a.phases.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="logstore-chunkbench-"))
    results: list[dict] = []
    load0 = open("/proc/loadavg").read().split()[:3]
    try:
        t0 = time.time()
        # With --bytes the lines are two days old, so that their day is a finished one that
        # `compact` rewrites (the workload's own base, 3 hours ago, may fall on today).
        base = None
        if a.bytes:
            today = datetime.datetime.now(datetime.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
            base = today - datetime.timedelta(days=2) + datetime.timedelta(hours=1)
        w = wl.build(seed=a.seed, lines_per_job=1000, base=base)
        plan: list[tuple[str, Path, int, int]] = []
        warm = None
        if "chunks" in phases:
            chunks = chunk_bodies(w, a.chunk_requests + len(w.streams), a.seed)
            wpath, cpath = tmp / "warmup.bin", tmp / "chunks.bin"
            warm = (wpath, write_bodies(wpath, chunks[: len(w.streams)]))
            chunks = chunks[len(w.streams):]
            n = write_bodies(cpath, chunks)
            log(f"{len(chunks):,} chunks, {n:,} lines, {sum(len(b) for _, b, _ in chunks) / len(chunks):.0f} B per request"
                f" (after a warm-up round of one chunk per stream, {len(w.streams):,} streams)")
            for s in [int(x) for x in a.senders.split(",")]:
                plan.append((f"chunks-{s}", cpath, n, s))
        if "big" in phases:
            big = w.big_bodies()[: a.big_bodies]
            bpath = tmp / "big.bin"
            n = write_bodies(bpath, [(i, b, d) for i, (_, b, d) in enumerate(big)])
            plan.append(("big", bpath, n, a.big_senders))
        log(f"bodies ready in {time.time() - t0:.1f} s")
        for name, path, n, senders in plan:
            for system in systems:
                log(f"{system} {name}: {senders} senders, {a.seconds:g} s max")
                results.append(run_phase(a, system, name, path, n, senders, tmp,
                                         warm if name.startswith("chunks") else None))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'system':<13}{'phase':<10}{'snd':>4}{'requests':>9}{'lines':>10}{'lines/s':>11}{'req/s':>9}"
          f"{'p50 ms':>8}{'p99 ms':>8}{'srv µs/l':>9}{'srv µs/r':>9}{'drv µs/r':>9}{'srv c':>6}{'drv c':>6}{'idle':>7}{'err':>5}")
    for r in results:
        print(fmt_row(r))
    ratios = {}
    if a.victorialogs:
        print("\nlogstore / VictoriaLogs:")
        for name in dict.fromkeys(r["phase"] for r in results):
            ls = next(r for r in results if r["phase"] == name and r["system"] == "logstore")
            vl = next(r for r in results if r["phase"] == name and r["system"] == "victorialogs")
            ratio = ls["lines_per_second"] / max(1, vl["lines_per_second"])
            cpu = ls.get("server_cpu_us_per_line", 0) / max(1e-9, vl.get("server_cpu_us_per_line", 0))
            ratios[name] = {"lines_per_second": round(ratio, 2), "server_cpu_per_line": round(cpu, 2)}
            print(f"  {name:<10} lines/s {ratio:.2f}x   server CPU per line {cpu:.2f}x")
    if a.bytes:
        print("\ndata directory, MiB (du -sb): raw bodies / after the phase / settled / compacted or merged")
        for r in results:
            mib = [r.get(k, 0) / 1048576 for k in ("raw_bytes", "bytes_after", "bytes_settled", "bytes_compacted")]
            print(f"  {r['system']:<13}{r['phase']:<10}" + " / ".join(f"{x:,.2f}" for x in mib))
        if a.victorialogs:
            for name in dict.fromkeys(r["phase"] for r in results):
                ls = next(r for r in results if r["phase"] == name and r["system"] == "logstore")
                vl = next(r for r in results if r["phase"] == name and r["system"] == "victorialogs")
                # Per line acknowledged: the phases stop at a time limit, not a line count.
                per = [(ls[k] / max(1, ls["lines"] + ls["warmup_lines"])) / max(1e-9, vl[k] / max(1, vl["lines"] + vl["warmup_lines"]))
                       for k in ("bytes_after", "bytes_settled", "bytes_compacted")]
                ratios.setdefault(name, {})["bytes_per_line"] = [round(x, 2) for x in per]
                print(f"  {name:<10} bytes per line, logstore / VictoriaLogs: after {per[0]:.2f}x, settled {per[1]:.2f}x, "
                      f"compacted/merged {per[2]:.2f}x")
    report = {"machine": {"cpus": os.cpu_count(), "loadavg_start": load0,
                          "loadavg_end": open("/proc/loadavg").read().split()[:3]},
              "durability": a.durability or "default", "results": results, "ratios": ratios}
    print(f"load average before/after: {' '.join(load0)} / {' '.join(report['machine']['loadavg_end'])}")
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=2))
    bad = any(r["errors"] or not r.get("count_ok") for r in results)
    return 4 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
