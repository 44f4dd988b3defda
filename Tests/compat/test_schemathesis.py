"""docs/openapi.yaml against the real server: schemathesis sends generated requests to every
operation of the native API; no answer may be a 5xx, and every answer must match the schema
(status code, content type, body). A bounded run (SCHEMATHESIS_MAX_EXAMPLES per operation,
default 25) against a server of its own on 127.0.0.1 with a temporary data directory; lines
stored before the run must be intact after it.

`/v1/tail` is left out: a long poll holds each request up to `wait` (25 s by default), and
its bounds are covered by the Swift suite (TailTests, HostileClientTests).

Run: LOGSTORE_BIN=.build/debug/logstore python -m pytest -q Tests/compat/test_schemathesis.py
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

from logstore_server import running_server

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA = os.path.join(ROOT, "docs", "openapi.yaml")
KNOWN_JOB = "reana-run-job-schemathesis-known"


def _schemathesis():
    path = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    return path if os.path.exists(path) else shutil.which("schemathesis")


@pytest.fixture(scope="module")
def server():
    with running_server("logstore-schemathesis-") as started:
        yield started


def _known_lines(port):
    url = f"http://127.0.0.1:{port}/v1/logs?job={KNOWN_JOB}&format=text"
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


def test_openapi_schema_holds(server):
    port, proc = server
    exe = _schemathesis()
    if exe is None:
        pytest.skip("schemathesis is not installed (make venv)")
    # Stamped now: the run calls /v1/admin/compact with any retention and disk cap, and those
    # drop whole past days, never the current one.
    now_ms = int(time.time() * 1000)
    body = "".join(
        json.dumps({"create": {"_index": "fluentbit-job_log"}}) + "\n"
        + json.dumps({"@timestamp": now_ms + i, "log": f"known line {i}", "kubernetes.labels.job-name": KNOWN_JOB}) + "\n"
        for i in range(3)
    ).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/_bulk", data=body, headers={"Content-Type": "application/x-ndjson"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200
    expected = "known line 0\nknown line 1\nknown line 2\n"
    assert _known_lines(port) == expected

    max_examples = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25")
    work_dir = tempfile.mkdtemp(prefix="logstore-schemathesis-run-")
    run = subprocess.run(
        [
            exe, "run", SCHEMA,
            "--url", f"http://127.0.0.1:{port}",
            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--max-examples", max_examples,
            "--exclude-path", "/v1/tail",
            "--request-timeout", "30",
            "--seed", os.environ.get("SCHEMATHESIS_SEED", "24"),
            "--generation-database", ":memory:",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=work_dir,  # schemathesis keeps a cache directory where it runs
    )
    shutil.rmtree(work_dir, ignore_errors=True)
    report = run.stdout[-6000:] + run.stderr[-2000:]
    assert proc.poll() is None, f"the server died during the run:\n{report}"
    assert run.returncode == 0, report
    assert _known_lines(port) == expected
