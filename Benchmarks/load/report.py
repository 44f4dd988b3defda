#!/usr/bin/env python3
"""The side-by-side table from a results file: `python3 Benchmarks/load/report.py FILE.json`.

Also `--markdown` for docs/BENCHMARKS.md. Every ratio is written so that > 1 means logstore is
better (PostgreSQL's figure / logstore's, or logstore's throughput / PostgreSQL's)."""

from __future__ import annotations

import json
import sys


def _g(d, *path):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def _ratio(better_is_lower: bool, ls, pg):
    if ls is None or pg is None or ls == 0 or pg == 0:
        return None
    return pg / ls if better_is_lower else ls / pg


def _fmt(v, unit=""):
    if v is None:
        return "–"
    if isinstance(v, float):
        if abs(v) >= 100:
            s = f"{v:,.0f}"
        elif abs(v) >= 10:
            s = f"{v:,.1f}"
        else:
            s = f"{v:,.2f}"
    else:
        s = f"{v:,}"
    return s + unit


def rows(rep: dict) -> list[tuple[str, str, str, str, str]]:
    """(figure, logstore, PostgreSQL, ratio, target verdict)"""
    L = rep["systems"].get("logstore", {})
    P = rep["systems"].get("postgres", {})
    T = rep.get("targets", {})
    out = []

    def add(name, ls, pg, lower_better, unit="", target=None, fmt=_fmt):
        r = _ratio(lower_better, ls, pg)
        verdict = ""
        if target is not None:
            verdict = "–" if r is None else (f"≥ {target:g}×: {'met' if r >= target else 'MISSED'}")
        out.append((name, fmt(ls, unit), fmt(pg, unit), "–" if r is None else f"{r:,.2f}×", verdict))

    raw = _g(rep, "workload", "raw_bulk_bytes")
    add("ingest, large bodies: lines/s", _g(L, "ingest", "lines_per_sec"), _g(P, "ingest", "lines_per_sec"),
        False, target=T.get("ingest"))
    add("  server CPU µs per line", _g(L, "ingest", "server_cpu_us_per_line"), _g(P, "ingest", "server_cpu_us_per_line"),
        True)
    add("  client CPU s (PG: the loader's parse + COPY)", _g(L, "ingest", "client_cpu_seconds"),
        _g(P, "ingest", "client_cpu_seconds"), True)
    add("ingest, per-second chunks: lines/s", _g(L, "ingest_small", "lines_per_sec"),
        _g(P, "ingest_small", "lines_per_sec"), False)
    mb = lambda v, unit="": _fmt(v / 1e6 if v is not None else None, " MB")
    add("stored: data dir compacted (du) vs PG table + indexes", L.get("stored_bytes_compacted"),
        P.get("stored_bytes"), True, target=T.get("stored"), fmt=mb)
    add("stored: data dir as written (du) vs PG table + indexes", L.get("stored_bytes"), P.get("stored_bytes"), True,
        fmt=mb)
    add("stored: data dir compacted (du) vs PG data dir (du, incl. WAL)", L.get("stored_bytes_compacted"), P.get("data_dir_bytes"),
        True, fmt=mb)
    if raw:
        out.append((f"  stored / raw bulk bytes ({mb(raw)}), logstore compacted / as written",
                    f"{(L.get('stored_bytes_compacted') or 0) / raw:.3f} / {L['stored_bytes'] / raw:.3f}"
                    if L.get("stored_bytes") else "–",
                    f"{P['stored_bytes'] / raw:.3f}" if P.get("stored_bytes") else "–", "", ""))
    add("memory idle after the ingest (settled): PSS", _g(L, "memory_idle", "Pss"), _g(P, "memory_idle", "Pss"), True,
        target=T.get("memory"), fmt=mb)
    add("  of which anonymous + shmem (no file pages)",
        _sum(_g(L, "memory_idle", "Pss_Anon"), _g(L, "memory_idle", "Pss_Shmem")),
        _sum(_g(P, "memory_idle", "Pss_Anon"), _g(P, "memory_idle", "Pss_Shmem")), True, fmt=mb)
    add("  of which file-backed (mmap, page cache)", _g(L, "memory_idle", "Pss_File"), _g(P, "memory_idle", "Pss_File"),
        True, fmt=mb)
    add("memory after the idle reads and searches: PSS", _g(L, "memory_after_reads", "Pss"),
        _g(P, "memory_after_reads", "Pss"), True, fmt=mb)
    add("  of which anonymous + shmem (no file pages)",
        _sum(_g(L, "memory_after_reads", "Pss_Anon"), _g(L, "memory_after_reads", "Pss_Shmem")),
        _sum(_g(P, "memory_after_reads", "Pss_Anon"), _g(P, "memory_after_reads", "Pss_Shmem")), True, fmt=mb)
    rates = sorted({k.split("@")[1] for s in (L, P) for k in (s.get("reads_idle") or {})}, key=float)
    for tag, key in (("idle", "reads_idle"), ("ingesting", "reads_ingest")):
        for rate in rates:
            for q in ("p50", "p95", "p99", "max"):
                ls = _g(L, key, f"search@{rate}", "latency_ms", q)
                pg = _g(P, key, f"sql@{rate}", "latency_ms", q)
                tgt = None
                if q == "p95" and rate == "200":
                    tgt = T.get("read200_idle" if tag == "idle" else "read200_ingest")
                add(f"job log {tag} {rate}/s {q} ms (ls _search vs PG)", ls, pg, True, target=tgt)
            add(f"  achieved req/s {tag} {rate}/s", _g(L, key, f"search@{rate}", "achieved_rps"),
                _g(P, key, f"sql@{rate}", "achieved_rps"), False)
            add(f"  logstore /v1/logs {tag} {rate}/s p95 ms", _g(L, key, f"logs@{rate}", "latency_ms", "p95"),
                _g(P, key, f"sql@{rate}", "latency_ms", "p95"), True)
            errs = [(_g(L, key, f"{k}@{rate}", "errors") or 0) + (_g(L, key, f"{k}@{rate}", "count_mismatches") or 0)
                    for k in ("search", "logs")]
            perr = (_g(P, key, f"sql@{rate}", "errors") or 0) + (_g(P, key, f"sql@{rate}", "count_mismatches") or 0)
            out.append((f"  errors + count mismatches {tag} {rate}/s", f"{errs[0]} / {errs[1]}", f"{perr}", "", ""))
            # The driver shares the machine's cores with the server it measures: its own CPU per
            # answer shows how much it takes from them.
            def per_answer(system, kind):
                step = _g(system, key, f"{kind}@{rate}") or {}
                ok, cpu = step.get("ok"), step.get("client_cpu_seconds")
                return f"{cpu * 1000 / ok:.2f}" if ok and cpu is not None else "–"
            out.append((f"  driver CPU ms per answer {tag} {rate}/s", f"{per_answer(L, 'search')} / {per_answer(L, 'logs')}",
                        per_answer(P, "sql"), "", ""))
            # The server's CPU over the step: per answer when idle (it includes the server's own
            # background passes, which weigh at 10/s); while ingesting, the cores busy during the
            # step beside the ingest's own share (measured alone for 2 s before the steps).
            def server_cpu(system, kind):
                step = _g(system, key, f"{kind}@{rate}") or {}
                ok, cpu = step.get("ok"), step.get("server_cpu_seconds")
                wall = step["step_ended"] - step["step_started"] if "step_started" in step else None
                if not ok or cpu is None or not wall:
                    return "–"
                if key == "reads_idle":
                    return f"{cpu * 1000 / ok:.2f}"
                alone = _g(system, "background_ingest", kind, "server_cpu_per_sec_alone")
                return f"{cpu / wall:.2f}" + ("" if alone is None else f" ({alone:.2f})")
            def lines(system, kind):
                v = _g(system, key, f"{kind}@{rate}", "lines_per_answer", "mean")
                return "–" if v is None else f"{v:,.0f}"
            out.append((f"  server CPU ms per answer {tag} {rate}/s" if key == "reads_idle" else
                        f"  server cores busy (ingest alone) {tag} {rate}/s",
                        f"{server_cpu(L, 'search')} / {server_cpu(L, 'logs')}", server_cpu(P, "sql"), "", ""))
            out.append((f"  lines per answer (mean) {tag} {rate}/s", f"{lines(L, 'search')} / {lines(L, 'logs')}",
                        lines(P, "sql"), "", ""))
    truth = _g(rep, "workload", "true_counts") or {}
    first = True
    for q, t in truth.items():
        ls_s = _g(L, "search", q, "newest100", "service_ms", "p50")
        pg_s = _g(P, "search", q, "newest100", "service_ms", "p50")
        ls_c = _g(L, "search", q, "count", "service_ms", "p50")
        pg_c = _g(P, "search", q, "count", "service_ms", "p50")
        pct = 100.0 * t / max(1, _g(rep, "workload", "lines") or 1)
        add(f"search '{q}' ({pct:.1f} %) newest 100, p50 ms", ls_s, pg_s, True,
            target=T.get("search10") if first else None)
        add(f"search '{q}' exact count, p50 ms", ls_c, pg_c, True, target=T.get("search10") if first else None)
        first = False
        lc = _g(L, "search", q, "count", "lines_per_answer", "max")
        pc = _g(P, "search", q, "count", "lines_per_answer", "max")
        out.append((f"  count (true {t:,})", _check(lc, t), _check(pc, t), "", ""))
    tail = L.get("tail")
    if tail is not None:
        if "skipped" in tail:
            out.append(("tail delivery latency", "skipped: " + tail["skipped"], "n/a", "", ""))
        else:
            out.append(("tail delivery latency p50 / p95 ms",
                        f"{_fmt(_g(tail, 'latency_ms', 'p50'))} / {_fmt(_g(tail, 'latency_ms', 'p95'))}", "n/a", "", ""))
    for name, s in (("logstore", L), ("postgres", P)):
        for kind, bg in (s.get("background_ingest") or {}).items():
            out.append((f"  background ingest during {name} {kind} reads: lines/s",
                        _fmt(bg.get("lines_per_sec")) if name == "logstore" else "",
                        _fmt(bg.get("lines_per_sec")) if name == "postgres" else "", "", ""))
    return out


def _sum(a, b):
    return None if a is None and b is None else (a or 0) + (b or 0)


def _check(got, truth):
    if got is None:
        return "–"
    return f"{got:,} {'ok' if got == truth else 'WRONG'}"


def table(rep: dict, markdown: bool = False) -> str:
    rs = rows(rep)
    hdr = ("figure", "logstore", "PostgreSQL", "ratio (>1: logstore better)", "target")
    if markdown:
        lines = ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
        lines += ["| " + " | ".join(r) + " |" for r in rs]
        return "\n".join(lines)
    w = [max(len(str(r[i])) for r in rs + [hdr]) for i in range(len(hdr))]
    line = lambda r: "  ".join(str(c).ljust(w[i]) if i == 0 else str(c).rjust(w[i]) for i, c in enumerate(r))
    wk = rep.get("workload", {})
    head = [f"logstore vs PostgreSQL — {wk.get('lines', 0):,} lines ({wk.get('job_streams')} jobs + "
            f"{wk.get('engine_streams')} engines), corpus {wk.get('corpus')}, run {rep.get('started')}, "
            f"{rep.get('seconds')} s",
            line(hdr), "-" * (sum(w) + 2 * (len(w) - 1))]
    return "\n".join(head + [line(r) for r in rs])


if __name__ == "__main__":
    args = [x for x in sys.argv[1:] if not x.startswith("--")]
    if not args:
        print("usage: report.py [--markdown] RESULTS.json", file=sys.stderr)
        sys.exit(2)
    with open(args[0]) as f:
        print(table(json.load(f), markdown="--markdown" in sys.argv))
