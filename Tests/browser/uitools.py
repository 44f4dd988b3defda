"""What the browser tests, the benchmark and the screenshot script share: a real `logstore serve`
with REANA-like logs, and the real Chromium (Debian's chromium + chromium-driver) under selenium."""

import json
import os
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compat"))
from logstore_server import binary, running_server  # noqa: E402,F401

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402

JOB_INDEX = "fluentbit-job_log"
WF_INDEX = "fluentbit-workflow_log"
SHOTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".build", "browser")


def bulk(port, docs, index=JOB_INDEX, prefix="", headers=None):
    """Stores documents through /_bulk and checks that every one was stored."""
    body = "".join(json.dumps({"create": {"_index": index}}) + "\n" + json.dumps(d) + "\n" for d in docs).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{prefix}/_bulk", data=body, method="POST",
        headers={"Content-Type": "application/x-ndjson", **(headers or {})})
    with urllib.request.urlopen(request, timeout=60) as r:
        answer = json.load(r)
    assert not answer["errors"], answer
    return answer


def get_json(port, path, prefix="", headers=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{prefix}{path}", headers=headers or {})
    with urllib.request.urlopen(request, timeout=60) as r:
        return json.load(r)


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{int(ms % 1000):03d}Z"


def job_doc(ms, job, workflow, text):
    return {"@timestamp": iso(ms), "log": text + "\n", "kubernetes.labels.job-name": job,
            "kubernetes.labels.reana-run-job-workflow-uuid": workflow}


def engine_doc(ms, workflow, text):
    return {"@timestamp": iso(ms), "log": text + "\n", "kubernetes.labels.reana-run-batch-workflow-uuid": workflow}


# Two workflows (the newer first on the workflows page), two jobs in the newer one, an engine log,
# and a job without a workflow id.
NOW_MS = int(time.time() * 1000)
WF_NEW = "3f1c2a9e-0000-4000-8000-000000000001"
WF_OLD = "9b7d4c11-0000-4000-8000-000000000002"
JOB_A = "reana-run-job-aaaa0001"
JOB_B = "reana-run-job-bbbb0002"
JOB_OLD = "reana-run-job-old00003"
JOB_LOOSE = "reana-run-job-loose004"


def job_a_lines():
    """JOB_A's lines in log order: (ms, text). 300 lines a second apart, some coloured, one error."""
    start = NOW_MS - 3_600_000
    lines = []
    for i in range(300):
        text = f"step {i:03d} processing names.txt chunk {i % 7}"
        if i % 50 == 7:
            text = f"\x1b[31mERROR\x1b[0m step {i:03d} connection refused by db-{i % 3}"
        elif i % 25 == 3:
            text = f"\x1b[1;32mOK\x1b[0m step {i:03d} checkpoint written"
        lines.append((start + i * 1000, text))
    return lines


def seed(port, prefix=""):
    """Stores the demo data; JOB_A's lines are sent out of order (FluentBit does) in 3 requests."""
    a = job_a_lines()
    docs = [job_doc(ms, JOB_A, WF_NEW, text) for ms, text in a]
    for part in (docs[200:], docs[:100], docs[100:200]):
        bulk(port, part, prefix=prefix)
    bulk(port, [job_doc(NOW_MS - 3_000_000 + i * 500, JOB_B, WF_NEW, f"job b says {'hello' if i % 4 == 0 else 'working'} {i}") for i in range(40)], prefix=prefix)
    bulk(port, [engine_doc(NOW_MS - 3_700_000 + i * 60_000, WF_NEW, f"engine: publishing step {i} to MQ") for i in range(12)], index=WF_INDEX, prefix=prefix)
    bulk(port, [job_doc(NOW_MS - 86_400_000 * 2 + i * 1000, JOB_OLD, WF_OLD, f"old job line {i} hello") for i in range(25)], prefix=prefix)
    bulk(port, [{"@timestamp": iso(NOW_MS - 7_200_000 + i * 1000), "log": f"loose job line {i}\n", "kubernetes.labels.job-name": JOB_LOOSE} for i in range(5)], prefix=prefix)


def chromium(width=1280, height=720):
    """Headless Chromium at the given window size, with the browser's console log kept."""
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", f"--window-size={width},{height}",
                 "--force-device-scale-factor=1", "--no-first-run", "--disable-extensions", "--lang=en-US"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")))


def page_transfer_bytes(driver):
    """Bytes the page cost on the wire: the document and every resource it loaded (Resource Timing)."""
    return driver.execute_script(
        "return performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))"
        ".reduce((n, e) => n + (e.transferSize || 0), 0)")


def console_errors(driver):
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
