#!/usr/bin/env python3
"""What TLS and users cost: plain HTTP against HTTPS + HTTP Basic, in one run.

Makes a throwaway CA and server certificate (openssl, subjectAltName IP:127.0.0.1) and a users
file with an ingest user and a read user (`logstore user add`), then runs, interleaved
(plain, secure, plain, secure, ...):

  ingest  loadgen.py --total-lines N: 2000-document bodies over 4 connections, lines/s
  search  readbench.py --no-ingest --kinds search --rates 200: REANA's gzipped _search on one
          job's log, open loop for 10 s on an idle server after loading, p95 ms

"secure" is the same run against `serve --tls-cert --tls-key --users`, the drivers talking
HTTPS verified against the CA (keep-alive connections) with an `Authorization: Basic` header on
every request. Every run starts its own server (127.0.0.1, free port, temp data dir) and stops
it. Prints a table of every run and the ratio secure/plain of the means; the target is a cost
of at most 10 % on both figures.

The drivers are Python: their own TLS (encrypting every body, ~0.3 µs of CPU per line) would
take CPU from the server on a small machine and be counted as the server's cost. So by default
(`--pin 1:0`, on 2 or more cores) the server runs on CPU 1 only and the drivers on CPU 0 only;
the table shows the server's and the drivers' CPU per line of every run, and the load average
of the machine when each run started (other work on the machine skews a run). `--pin none`
shares every CPU between them.

Standard library only (Python 3.11) plus the `openssl` command. See README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
DEFAULT_BIN = ".build/release/logstore"
TARGET_COST = 0.10            # TLS + users may cost at most this share of either figure
INGEST_USER, READ_USER = "fluentbit", "reana"


class Interrupted(Exception):
    pass


# ----------------------------------------------------------------------------------------------
# Certificates and users


def run_tool(args: list[str], cwd: Path, stdin: str | None = None, timeout: float = 120) -> None:
    r = subprocess.run(args, cwd=cwd, input=stdin, text=True, capture_output=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])} … failed ({r.returncode}):\n{r.stderr.strip()[-2000:]}")


def make_pki(d: Path) -> dict:
    """A CA and a server certificate for 127.0.0.1 signed by it (RSA 2048, valid 2 days)."""
    run_tool(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
              "-days", "2", "-subj", "/CN=logstore bench CA"], d)
    run_tool(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
              "-subj", "/CN=logstore-bench"], d)
    (d / "server.ext").write_text("basicConstraints=critical,CA:FALSE\n"
                                  "keyUsage=critical,digitalSignature,keyEncipherment\n"
                                  "extendedKeyUsage=serverAuth\n"
                                  "subjectAltName=IP:127.0.0.1\n")
    run_tool(["openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
              "-CAcreateserial", "-days", "2", "-out", "server.crt", "-extfile", "server.ext"], d)
    return {"ca": str(d / "ca.crt"), "cert": str(d / "server.crt"), "key": str(d / "server.key")}


def add_users(binary: Path, d: Path) -> dict:
    """The users file: an ingest user limited to fluentbit-* and a read user, as REANA's setup has."""
    users = d / "users.json"
    pw = {INGEST_USER: secrets.token_urlsafe(24), READ_USER: secrets.token_urlsafe(24)}
    run_tool([str(binary), "user", "add", INGEST_USER, "--role", "ingest", "--index", "fluentbit-*",
              "--users", str(users)], d, stdin=pw[INGEST_USER] + "\n")
    run_tool([str(binary), "user", "add", READ_USER, "--role", "read", "--users", str(users)], d,
             stdin=pw[READ_USER] + "\n")
    return {"file": str(users), "passwords": pw}


# ----------------------------------------------------------------------------------------------
# Child runs (loadgen.py / readbench.py, each starting and stopping its own server)


def clean_env() -> dict:
    """The environment without LOGSTORE_* (a LOGSTORE_USERS or LOGSTORE_TLS_CERT of the caller's
    shell would otherwise reach the "plain" server)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("LOGSTORE_")}


def run_child(args: list[str], env: dict, log_path: Path, timeout: float,
              driver_cpus: set[int] | None = None) -> tuple[int, float]:
    """Runs one driver (on `driver_cpus` when given); returns (exit code, seconds). Stops it
    (SIGTERM to its pid, then SIGKILL) on timeout or when this driver is interrupted; the drivers
    stop their servers themselves."""
    t0 = time.monotonic()
    preexec = (lambda: os.sched_setaffinity(0, driver_cpus)) if driver_cpus else None
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                preexec_fn=preexec)
        try:
            return proc.wait(timeout=timeout), time.monotonic() - t0
        except subprocess.TimeoutExpired:
            stop_child(proc, sigint_seen=False)
            return 124, time.monotonic() - t0
        except KeyboardInterrupt:
            stop_child(proc, sigint_seen=True)
            raise Interrupted()


def stop_child(proc: subprocess.Popen, sigint_seen: bool) -> None:
    if sigint_seen:  # a Ctrl-C reaches the child too (same process group): let it clean up first
        try:
            proc.wait(timeout=3)
            return
        except subprocess.TimeoutExpired:
            pass
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # the drivers stop their server and workers on SIGTERM
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def tail(path: Path, n: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def security_args(pki: dict, users: dict, parts: str) -> list[str]:
    """The drivers' options for the secure runs: TLS, users, or both (`--secure-parts`)."""
    server, client = [], []
    if parts in ("both", "tls"):
        server += ["--tls-cert", pki["cert"], "--tls-key", pki["key"]]
        client += ["--ca-cert", pki["ca"]]
    if parts in ("both", "users"):
        server += ["--users", users["file"]]
        client += ["--user", READ_USER, "--ingest-user", INGEST_USER]
    return [f"--server-arg={x}" for x in server] + client


def ingest_figures(rep: dict) -> dict:
    p = rep["phases"][0]
    f = rep.get("final", {})
    return {
        "lines": p["lines"], "seconds": p["seconds"], "lines_per_sec": p["lines_per_sec"],
        "mb_per_sec": p["mb_per_sec"], "latency_p50_ms": p["latency_ms"]["p50"], "latency_p99_ms": p["latency_ms"]["p99"],
        "server_cpu_us_per_line": p.get("server_cpu_us_per_line"), "server_cpu_seconds": p["server_cpu_seconds"],
        "client_cpu_seconds": p["client_cpu_seconds"],
        "client_cpu_us_per_line": round(p["client_cpu_seconds"] / p["lines"] * 1e6, 3) if p["lines"] else None,
        "bad": p["non200"] + p["errors_true"] + p["failed"], "retries": p["retries_429_503"],
        "stats_match": (None if f.get("stats_lines_delta") is None
                        else f["stats_lines_delta"] == f["lines_acknowledged"] + f["probe_lines"]),
        "probe_ms": round(rep["server"].get("probe_seconds", 0) * 1000, 1),
    }


def read_figures(rep: dict) -> dict:
    p = rep["phases"][0]
    cpu = p.get("server_cpu_seconds")
    return {
        "target_rps": p["target_rps"], "achieved_rps": p["achieved_rps"], "ok": p["ok"], "errors": p["errors"],
        "unsent": p["unsent"], "p50_ms": p["latency_ms"]["p50"], "p95_ms": p["latency_ms"]["p95"],
        "p99_ms": p["latency_ms"]["p99"], "max_ms": p["latency_ms"]["max"],
        "service_p50_ms": p["service_ms"]["p50"], "service_p95_ms": p["service_ms"]["p95"],
        "server_cpu_ms_per_answer": round(cpu * 1000 / p["ok"], 3) if cpu is not None and p["ok"] else None,
        "client_cpu_seconds": p["client_cpu_seconds"], "resp_bytes_avg": p["resp_bytes_avg"],
        "lines_per_answer_sampled": p["lines_per_response_sampled"],
        "loaded_lines": rep["workload"]["loaded_lines"],
        "first_login_ms": rep.get("security", {}).get("first_login_ms"),
    }


# ----------------------------------------------------------------------------------------------
# Summary


def mean(xs: list) -> float | None:
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


# (figure key, run kind, label, digits, higher is better, is a target figure)
ROWS = [
    ("lines_per_sec", "ingest", "bulk ingest lines/s", 0, True, True),
    ("server_cpu_us_per_line", "ingest", "  server CPU µs/line", 2, False, False),
    ("client_cpu_us_per_line", "ingest", "  driver CPU µs/line", 2, False, False),
    ("latency_p99_ms", "ingest", "  bulk request p99 ms", 1, False, False),
    ("p95_ms", "search", "_search p95 ms", 2, False, True),
    ("p50_ms", "search", "  _search p50 ms", 2, False, False),
    ("service_p95_ms", "search", "  service p95 ms", 2, False, False),
    ("server_cpu_ms_per_answer", "search", "  server CPU ms/answer", 3, False, False),
]


def summarize(runs: list[dict]) -> list[dict]:
    out = []
    for key, kind, label, digits, higher_better, target in ROWS:
        if not any(r["kind"] == kind for r in runs):
            continue
        mine = [r for r in runs if r["kind"] == kind and r.get("figures")]
        plain = [r["figures"].get(key) for r in mine if r["mode"] == "plain"]
        secure = [r["figures"].get(key) for r in mine if r["mode"] == "secure"]
        pm, sm = mean(plain), mean(secure)
        ratio = sm / pm if pm and sm is not None else None
        cost = None if ratio is None else (1 - ratio if higher_better else ratio - 1)
        row = {"figure": key, "kind": kind, "label": label.strip(), "display": label, "digits": digits, "plain": plain, "secure": secure,
               "plain_mean": pm, "secure_mean": sm, "ratio_secure_plain": None if ratio is None else round(ratio, 4),
               "cost": None if cost is None else round(cost, 4), "target": target}
        if target:
            row["meets_target"] = cost is not None and cost <= TARGET_COST
        out.append(row)
    return out


def num(v, digits: int) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


def print_table(res: dict) -> None:
    rounds = res["config"]["rounds"]
    cfg = res["config"]
    print()
    what = {"both": "TLS + Basic auth", "tls": "TLS alone", "users": "Basic auth alone"}[cfg["secure_parts"]]
    print(f"logstore: {what} against plain HTTP — {res['machine']['binary']}")
    print(f"ingest: {cfg['ingest_lines']:,} lines, bodies of {cfg['docs']} documents, {cfg['conns']} connections;"
          f" _search: {cfg['read_rate']:g}/s for {cfg['read_seconds']:g} s, idle, 3000 jobs x {cfg['lines_per_stream']}"
          f" lines loaded, {cfg['workers']} client processes")
    pin = cfg.get("pin")
    print("CPUs: " + (f"server on {sorted(pin[0])}, drivers on {sorted(pin[1])}" if pin else "shared by the server and the drivers"))
    cols = [f"{m} {i}" for i in range(1, rounds + 1) for m in ("plain", "secure")]
    hdr = f"{'figure':<25}" + "".join(f"{c:>11}" for c in cols) + f"{'secure/plain':>14}{'cost':>9}  target"
    print(hdr)
    print("-" * (len(hdr) + 22))
    for row in res["summary"]:
        vals = []
        for i in range(rounds):
            for m in ("plain", "secure"):
                seq = row[m]
                vals.append(num(seq[i] if i < len(seq) else None, row["digits"]))
        ratio = "-" if row["ratio_secure_plain"] is None else f"{row['ratio_secure_plain']:.3f}"
        cost = "-" if row["cost"] is None else f"{100 * row['cost']:+.1f} %"
        verdict = ""
        if row["target"]:
            verdict = f"cost ≤ {100 * TARGET_COST:g} %: {'met' if row['meets_target'] else 'MISSED'}"
        print(f"{row['display']:<25}" + "".join(f"{v:>11}" for v in vals) + f"{ratio:>14}{cost:>9}  {verdict}")
    secure = {"both": "HTTPS (TLS, RSA 2048 certificate, keep-alive connections) + HTTP Basic on every request",
              "tls": "HTTPS only (TLS, RSA 2048 certificate, keep-alive connections), no users",
              "users": "HTTP Basic on every request, plain HTTP"}[cfg["secure_parts"]]
    print(f"secure = {secure}; secure/plain = ratio of the means of the runs;"
          " cost = lower lines/s or higher ms/CPU, in %")
    logins = [r["figures"].get("first_login_ms") for r in res["runs"] if r["kind"] == "search" and r["mode"] == "secure"
              and r.get("figures")]
    probes = [r["figures"].get("probe_ms") for r in res["runs"] if r["kind"] == "ingest" and r["mode"] == "secure"
              and r.get("figures")]
    firsts = []
    if probes:
        firsts.append(f"ingest user (a one-line bulk) {', '.join(num(x, 1) for x in probes)} ms")
    if logins:
        firsts.append(f"read user (GET /v1/stats) {', '.join(num(x, 1) for x in logins)} ms")
    if firsts:
        print("first request of each user, before the measurement (the server checks the password once, then "
              "remembers the header): " + "; ".join(firsts))
    loads = [f"{r['kind']} {r['mode']} {r['round']}: {r['load_average']:.2f}" for r in res["runs"] if r.get("load_average") is not None]
    if loads:
        print("load average (1 min) when each run started: " + ", ".join(loads))
    for r in res["runs"]:
        if not r["ok"]:
            print(f"  {r['kind']} {r['mode']} {r['round']}: {r.get('problem')}")
    print(f"verdict: {res['verdict']}")


# ----------------------------------------------------------------------------------------------
# Machine


def machine_info(binary: Path) -> dict:
    info: dict = {"cores": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version(),
                  "binary": str(binary)}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                info["os"] = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    for key, cmd in (("openssl", ["openssl", "version"]), ("logstore", [str(binary), "--version"])):
        try:
            info[key] = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            pass
    return info


# ----------------------------------------------------------------------------------------------
# Main


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--bin", default=DEFAULT_BIN, help="logstore binary (relative paths resolve against the repo root)")
    ap.add_argument("--python", default=sys.executable, help="Python for loadgen.py and readbench.py")
    ap.add_argument("--rounds", type=int, default=3, help="plain/secure pairs of each figure")
    ap.add_argument("--ingest-lines", type=int, default=1_000_000, help="lines per ingest run")
    ap.add_argument("--docs", type=int, default=2000, help="documents per bulk body")
    ap.add_argument("--conns", type=int, default=4, help="bulk connections")
    ap.add_argument("--read-rate", type=float, default=200, help="_search requests/s")
    ap.add_argument("--read-seconds", type=float, default=10, help="duration of the _search step")
    ap.add_argument("--lines-per-stream", type=int, default=100, help="lines loaded per job (3000 jobs) before the reads")
    ap.add_argument("--workers", type=int, default=4, help="_search client processes")
    ap.add_argument("--run-timeout", type=float, default=600, help="seconds one run may take before it is stopped")
    ap.add_argument("--figures", default="ingest,search", help="comma list of: ingest, search")
    ap.add_argument("--secure-parts", choices=("both", "tls", "users"), default="both",
                    help="what the secure runs add to plain HTTP: TLS and users, TLS only, or users only (over HTTP)")
    ap.add_argument("--pin", default="1:0" if (os.cpu_count() or 1) >= 2 else "none",
                    help="SERVER_CPUS:DRIVER_CPUS (comma lists, e.g. 1:0): the server and the drivers each on CPUs of "
                         "their own; none: all CPUs shared")
    ap.add_argument("--quick", action="store_true", help="a smoke test: 1 round, 20,000 lines, 2 s of _search at 50/s")
    ap.add_argument("--json", dest="json_path", help="write the results to this JSON file")
    a = ap.parse_args(argv)
    if a.quick:
        a.rounds, a.ingest_lines, a.read_rate, a.read_seconds, a.lines_per_stream = 1, 20_000, 50, 2, 5
    a.figure_list = [x for x in a.figures.split(",") if x]
    a.pin_sets = None
    if a.pin != "none":
        try:
            server_cpus, driver_cpus = ({int(c) for c in part.split(",")} for part in a.pin.split(":"))
        except ValueError:
            ap.error("--pin: SERVER_CPUS:DRIVER_CPUS, e.g. 1:0, or none")
        available = os.sched_getaffinity(0)
        if not server_cpus or not driver_cpus or not (server_cpus | driver_cpus) <= available or server_cpus & driver_cpus:
            ap.error(f"--pin: two disjoint sets of the CPUs available here ({sorted(available)}), or none")
        a.pin_sets = (server_cpus, driver_cpus)
    if not a.figure_list or any(x not in ("ingest", "search") for x in a.figure_list):
        ap.error("--figures: ingest, search")
    if not 1 <= a.rounds <= 5:
        ap.error("--rounds must be 1..5")
    if not 1 <= a.ingest_lines <= 100_000_000 or not 1 <= a.docs <= 100_000 or not 1 <= a.conns <= 64:
        ap.error("--ingest-lines 1..1e8, --docs 1..100000, --conns 1..64")
    if not 0 < a.read_rate <= 20000 or not 0 < a.read_seconds <= 600 or not 1 <= a.workers <= 64:
        ap.error("--read-rate (0, 20000], --read-seconds (0, 600], --workers 1..64")
    if not 1 <= a.lines_per_stream <= 100000 or not 10 <= a.run_timeout <= 3600:
        ap.error("--lines-per-stream 1..100000, --run-timeout 10..3600")
    return a


def main(argv: list[str]) -> int:
    a = parse_args(argv)
    binary = Path(a.bin)
    if not binary.is_absolute():
        binary = REPO_ROOT / binary
    if not os.access(binary, os.X_OK):
        print(f"error: {binary} not found; build it with `make release` (or pass --bin)", file=sys.stderr)
        return 2
    if shutil.which("openssl") is None:
        print("error: the openssl command is needed for the throwaway certificates", file=sys.stderr)
        return 2

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)

    res: dict = {"started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "argv": argv,
                 "machine": machine_info(binary),
                 "config": {"rounds": a.rounds, "ingest_lines": a.ingest_lines, "docs": a.docs, "conns": a.conns,
                            "read_rate": a.read_rate, "read_seconds": a.read_seconds,
                            "lines_per_stream": a.lines_per_stream, "workers": a.workers,
                            "figures": a.figure_list, "secure_parts": a.secure_parts, "target_cost": TARGET_COST,
                            "pin": [sorted(x) for x in a.pin_sets] if a.pin_sets else None},
                 "runs": [], "summary": [], "verdict": "incomplete"}
    tmp = Path(tempfile.mkdtemp(prefix="logstore-tlsbench-"))
    code = 1
    t_start = time.monotonic()
    try:
        pki = make_pki(tmp)
        users = add_users(binary, tmp)
        env_plain = clean_env()
        if a.pin_sets:  # read by the drivers when they start the server (loadgen.py's Server)
            env_plain["BENCH_SERVER_CPUS"] = ",".join(map(str, sorted(a.pin_sets[0])))
        env_secure = dict(env_plain, LOGSTORE_PASSWORD=users["passwords"][READ_USER],
                          LOGSTORE_INGEST_PASSWORD=users["passwords"][INGEST_USER])
        sec = security_args(pki, users, a.secure_parts)
        py = a.python
        plan = []
        for kind in a.figure_list:
            for rnd in range(1, a.rounds + 1):
                for mode in ("plain", "secure"):
                    plan.append((kind, rnd, mode))
        for n, (kind, rnd, mode) in enumerate(plan, 1):
            out = tmp / f"{kind}-{mode}-{rnd}.json"
            log = tmp / f"{kind}-{mode}-{rnd}.log"
            if kind == "ingest":
                args = [py, str(HERE / "loadgen.py"), "--bin", str(binary), "--total-lines", str(a.ingest_lines),
                        "--docs", str(a.docs), "--conns", str(a.conns), "--settle", "0", "--json", str(out)]
                good_codes = (0,)
            else:
                args = [py, str(HERE / "readbench.py"), "--bin", str(binary), "--no-ingest", "--kinds", "search",
                        "--rates", f"{a.read_rate:g}", "--seconds", f"{a.read_seconds:g}",
                        "--lines-per-stream", str(a.lines_per_stream), "--workers", str(a.workers), "--json", str(out)]
                good_codes = (0, 5)  # 5: readbench's own p95 target (2 ms) missed, not an error
            if mode == "secure":
                args += sec
            print(f"[{n}/{len(plan)}] {kind} {mode} {rnd} ...", end="", file=sys.stderr, flush=True)
            load_average = os.getloadavg()[0]
            rc, secs = run_child(args, env_secure if mode == "secure" else env_plain, log, a.run_timeout,
                                 a.pin_sets[1] if a.pin_sets else None)
            run: dict = {"kind": kind, "mode": mode, "round": rnd, "exit_code": rc, "seconds": round(secs, 1),
                         "ok": False, "load_average": round(load_average, 2)}
            try:
                report = json.loads(out.read_text())
                run["figures"] = ingest_figures(report) if kind == "ingest" else read_figures(report)
                run["report"] = report
            except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
                run["problem"] = f"no results ({e!r})"
            if rc not in good_codes:
                run["problem"] = f"exit code {rc}" + (" (timeout)" if rc == 124 else "")
            elif "figures" in run:
                f = run["figures"]
                if kind == "ingest" and (f["bad"] or f["stats_match"] is False):
                    run["problem"] = f"bad requests {f['bad']}, stored line count matches: {f['stats_match']}"
                elif kind == "search" and (f["errors"] or f["unsent"]):
                    run["problem"] = f"errors {f['errors']}, unsent {f['unsent']}"
                else:
                    run["ok"] = True
            res["runs"].append(run)
            if run["ok"]:
                f = run["figures"]
                figure = (f"{f['lines_per_sec']:,.0f} lines/s" if kind == "ingest"
                          else f"p95 {f['p95_ms']} ms, {f['achieved_rps']:g}/s")
                print(f" {secs:.1f} s: {figure}", file=sys.stderr, flush=True)
            else:
                print(f" FAILED: {run.get('problem')}\n{tail(log)}", file=sys.stderr, flush=True)
        res["summary"] = summarize(res["runs"])
        res["seconds"] = round(time.monotonic() - t_start, 1)
        failed = [r for r in res["runs"] if not r["ok"]]
        missed = [row["label"] for row in res["summary"] if row["target"] and not row["meets_target"]]
        if failed:
            res["verdict"] = f"{len(failed)} of {len(res['runs'])} runs failed; figures incomplete"
            code = 4
        elif missed:
            res["verdict"] = f"no errors; cost above {100 * TARGET_COST:g} %: {', '.join(missed)}"
            code = 5
        else:
            res["verdict"] = f"no errors; cost ≤ {100 * TARGET_COST:g} % on every figure measured"
            code = 0
    except (KeyboardInterrupt, Interrupted):
        print("\ninterrupted", file=sys.stderr)
        res["verdict"] = "interrupted"
        code = 130
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        print(f"error: {e}", file=sys.stderr)
        code = 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if res["runs"]:
        if not res["summary"]:
            res["summary"] = summarize(res["runs"])
        print_table(res)
    if a.json_path:
        with open(a.json_path, "w") as fh:
            json.dump(res, fh, indent=2)
            fh.write("\n")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
