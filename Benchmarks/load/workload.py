#!/usr/bin/env python3
"""The REANA-like reference workload, seeded and reproducible (`make bench-load`).

60 workflows x 50 jobs x 1000 lines (one line per second per job, like a REANA deployment's
3000 job pods) plus 60 workflow-engine streams, message text from the loghub samples (or loadgen's
synthetic lines without them), documents byte for byte as REANA's FluentBit sends them
(loadgen.doc / make_streams: the same labels, escaping and action lines).

Bodies come in two shapes:
  big    one node's FluentBit buffer: the lines of the streams on that node (43 nodes, as in
         the REANA production cluster it models) in time order, cut into --docs (2000) documents per body
  small  per-second chunks: for each second of event time, one body per node holding the
         per-stream chunks of that second of every stream on the node (FluentBit's Flush 1 s)

Search words get their true counts (lines containing the token; phrases: the tokens
consecutively), computed from the text the generator emits, with logstore's tokenizer rule
(docs/QUERY.md: maximal runs of letters/marks/digits, lowercased).

Standard library only; imports loadgen for the corpus, the streams and the document shape.
`python3 Benchmarks/load/workload.py --summary` prints the workload and the true counts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import loadgen as lg  # noqa: E402

NODES = 43                      # the REANA production cluster this workload models
JOB_RE = re.compile(rb'"kubernetes\.labels\.job-name":"([^"]+)"')
WF_RE = re.compile(rb'"kubernetes\.labels\.reana-run-(?:job|batch)-workflow-uuid":"([^"]+)"')
# logstore's tokens (docs/QUERY.md): maximal runs of letters, marks, digits; lowercased
TOKEN_RE = re.compile(r"[^\W_]+")

# Search words: (query, kind). Frequencies in the 20,000 loghub sample lines: error 9.3 %,
# failed 5.2 %, exception 0.8 %, rare words below; the phrase 4.96 % ("authentication failure").
DEFAULT_WORDS = ["error", "failed", "exception", "interrupted"]
DEFAULT_PHRASES = ["authentication failure", "connection closed"]


@dataclass
class Stream:
    index: bytes          # action line
    suffix: bytes         # loadgen's doc suffix (labels)
    name: str             # job name, or the workflow uuid for engine streams
    workflow: str
    kind: str             # "job" | "engine"
    offset_ms: int        # sub-second offset of this stream's lines
    corpus_start: int     # index of its first line in the corpus
    node: int
    lines: int = 0


@dataclass
class Workload:
    seed: int
    base: dt.datetime
    corpus: list[bytes]             # JSON-escaped message texts
    corpus_text: list[str]          # the same, unescaped (for the true counts)
    corpus_source: str
    streams: list[Stream]
    lines_per_job: int
    lines_per_engine: int
    docs_per_body: int
    nodes: int = NODES
    second_prefix: dict[int, bytes] = field(default_factory=dict)

    @property
    def jobs(self) -> list[Stream]:
        return [s for s in self.streams if s.kind == "job"]

    @property
    def engines(self) -> list[Stream]:
        return [s for s in self.streams if s.kind == "engine"]

    def total_lines(self, first_second: int = 0, seconds: int | None = None) -> int:
        return sum(self._n(s, first_second, seconds) for s in self.streams)

    def _n(self, s: Stream, first: int, seconds: int | None) -> int:
        end = s.lines if seconds is None else min(s.lines, first + seconds)
        return max(0, end - first)

    # -- timestamps ----------------------------------------------------------------------------

    def ts(self, second: int, offset_ms: int) -> bytes:
        p = self.second_prefix.get(second)
        if p is None:
            p = (self.base + dt.timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%S").encode()
            self.second_prefix[second] = p
        return b"%s.%03dZ" % (p, offset_ms)

    def doc(self, s: Stream, k: int) -> bytes:
        """Line k of stream s (k seconds after the base time)."""
        return b"".join(self.doc_parts(s, k, self.ts(k, 0)[:-5]))

    def doc_parts(self, s: Stream, k: int, second: bytes) -> tuple[bytes, ...]:
        msg = self.corpus[(s.corpus_start + k) % len(self.corpus)]
        return (s.index, b'{"@timestamp":"', second, b".%03dZ" % s.offset_ms, b'","log":"', msg, s.suffix)

    # -- bodies --------------------------------------------------------------------------------

    def node_streams(self, node: int) -> list[Stream]:
        return sorted((s for s in self.streams if s.node == node), key=lambda s: s.offset_ms)

    def big_bodies(self, first_second: int = 0, seconds: int | None = None,
                   lines_per_stream: int | None = None, nodes: list[int] | None = None) -> list[tuple[int, bytes, int]]:
        """[(node, body, docs)]: each node's lines of seconds [first, first+seconds) in time
        order, cut into docs_per_body documents. lines_per_stream: a continuation's length
        (streams longer than the base load; default each stream's own count)."""
        out = []
        for node in (range(self.nodes) if nodes is None else nodes):
            parts: list[bytes] = []
            streams = self.node_streams(node)
            last = max((lines_per_stream or s.lines) for s in streams) if streams else 0
            end = last if seconds is None else min(last, first_second + seconds)
            ndocs = 0
            for k in range(first_second, end):
                second = self.ts(k, 0)[:-5]
                for s in streams:
                    if k < (lines_per_stream or s.lines):
                        parts.extend(self.doc_parts(s, k, second))
                        ndocs += 1
                        if ndocs == self.docs_per_body:
                            out.append((node, b"".join(parts), ndocs))
                            parts = []
                            ndocs = 0
            if parts:
                out.append((node, b"".join(parts), ndocs))
        return interleave(out)

    def small_bodies(self, first_second: int, seconds: int) -> list[tuple[int, bytes, int]]:
        """[(node, body, docs)] in time order: per second, per node, the per-stream chunks
        (one line per job stream per second) of that node's streams."""
        out = []
        nodes = [self.node_streams(n) for n in range(self.nodes)]
        for k in range(first_second, first_second + seconds):
            for node, streams in enumerate(nodes):
                parts = [self.doc(s, k) for s in streams]
                if parts:
                    out.append((node, b"".join(parts), len(parts)))
        return out

    # -- true counts ---------------------------------------------------------------------------

    def true_counts(self, queries: list[str], lines_per_stream: int | None = None) -> dict[str, int]:
        """Lines of the base load (each stream's first `lines` lines) matching each query: a
        word (one token) or a phrase (consecutive tokens)."""
        n = len(self.corpus_text)
        toks = [TOKEN_RE.findall(t.lower()) for t in self.corpus_text]
        out = {}
        for q in queries:
            qt = TOKEN_RE.findall(q.lower())
            m = len(qt)
            hit = [0] * n
            for i, tl in enumerate(toks):
                if m == 1:
                    hit[i] = 1 if qt[0] in tl else 0
                else:
                    hit[i] = 1 if any(tl[j:j + m] == qt for j in range(len(tl) - m + 1)) else 0
            # prefix sums over the cyclic corpus: a stream's window [start, start+L)
            cum = [0] * (n + 1)
            for i in range(n):
                cum[i + 1] = cum[i] + hit[i]
            total = 0
            for s in self.streams:
                L = lines_per_stream or s.lines
                full, rest = divmod(L, n)
                c = full * cum[n]
                a = s.corpus_start
                b = a + rest
                if b <= n:
                    c += cum[b] - cum[a]
                else:
                    c += cum[n] - cum[a] + cum[b - n]
                total += c
            out[q] = total
        return out


def interleave(bodies: list[tuple[int, bytes, int]]) -> list[tuple[int, bytes, int]]:
    """Round-robin over the nodes, each node's bodies in order (all nodes send at once)."""
    per: dict[int, list] = {}
    for b in bodies:
        per.setdefault(b[0], []).append(b)
    out = []
    queues = list(per.values())
    i = 0
    while queues:
        nxt = []
        for q in queues:
            if i < len(q):
                out.append(q[i])
                if i + 1 < len(q):
                    nxt.append(q)
        queues = nxt
        i += 1
    return out


def find_corpus() -> Path:
    """$LOGSTORE_CORPUS, else ../shared/corpus/loghub from the repository root or, in a git
    worktree, from any directory above it."""
    env = os.environ.get("LOGSTORE_CORPUS")
    if env:
        return Path(env)
    for d in [lg.REPO_ROOT, *lg.REPO_ROOT.parents]:
        c = d.parent / "shared" / "corpus" / "loghub"
        if c.is_dir():
            return c
    return lg.REPO_ROOT / lg.DEFAULT_CORPUS


def build(seed: int = 1, workflows: int = 60, jobs: int = 50, lines_per_job: int = 1000,
          lines_per_engine: int | None = None, docs: int = 2000, corpus_dir: Path | None = None,
          base: dt.datetime | None = None, nodes: int = NODES) -> Workload:
    if corpus_dir is None:
        corpus_dir = find_corpus()
    corpus, source = lg.load_corpus(corpus_dir.resolve() if corpus_dir.exists() else None)
    text = [json.loads(b'"' + c + b'"') + "\n" for c in corpus]   # FluentBit's log ends in \n
    job_suffixes, wf_suffixes = lg.make_streams(workflows, jobs, seed)
    rng = random.Random(seed * 7777 + 1)
    if base is None:
        now = dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0, tzinfo=None)
        base = now - dt.timedelta(hours=3)
    streams: list[Stream] = []
    lpe = lines_per_job if lines_per_engine is None else lines_per_engine
    for i, suf in enumerate(job_suffixes):
        name = JOB_RE.search(suf).group(1).decode()
        wf = WF_RE.search(suf).group(1).decode()
        streams.append(Stream(lg.ACTION_JOB, suf, name, wf, "job", rng.randrange(1000),
                              rng.randrange(len(corpus)), i % nodes, lines_per_job))
    for j, suf in enumerate(wf_suffixes):
        wf = WF_RE.search(suf).group(1).decode()
        streams.append(Stream(lg.ACTION_WF, suf, wf, wf, "engine", rng.randrange(1000),
                              rng.randrange(len(corpus)), (len(job_suffixes) + j) % nodes, lpe))
    return Workload(seed, base, corpus, text, source, streams, lines_per_job, lpe, docs, nodes)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lines-per-job", type=int, default=1000)
    ap.add_argument("--corpus")
    ap.add_argument("--summary", action="store_true", help="print the workload and the true counts")
    ap.add_argument("--write", help="write the big bodies as one NDJSON file (for `logstore import` or curl)")
    a = ap.parse_args(argv)
    w = build(seed=a.seed, lines_per_job=a.lines_per_job, corpus_dir=Path(a.corpus) if a.corpus else None)
    counts = w.true_counts(DEFAULT_WORDS + DEFAULT_PHRASES)
    print(json.dumps({"corpus": w.corpus_source, "streams": len(w.streams), "jobs": len(w.jobs),
                      "engines": len(w.engines), "lines": w.total_lines(), "base": w.base.isoformat() + "Z",
                      "true_counts": counts}, indent=2))
    if a.write:
        with open(a.write, "wb") as f:
            for _, body, _ in w.big_bodies():
                f.write(body)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
