"""The log view on a 1,000,000-line job, timed in Chromium with the Performance API.

Stores one job of LINES lines (default 1,000,000) in a fresh server (LOGSTORE_BIN, the release
binary under `make bench-ui`), opens the job's log and reports, for each of ROUNDS page loads:
- first lines: from the navigation's start to the first rendered rows with their text
  (the `logstore:first-lines` performance mark);
- to the end: from pressing `G` to the last line rendered;
- to the middle: from dropping the scrollbar at 50 % to those rows rendered (found by time).
Targets: first lines and to the end ≤ 1 s. Exit status 5 when a target is missed.
"""

import json
import os
import statistics
import sys
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from uitools import JOB_INDEX, bulk, chromium, get_json, iso, running_server

LINES = int(os.environ.get("LINES", "1000000"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
JOB = "reana-run-job-million"
WORKFLOW = "bench-0000-4000-8000-000000000001"


def fill(port):
    start = int(time.time() * 1000) - LINES * 10
    batch = 50_000
    t0 = time.monotonic()
    for first in range(0, LINES, batch):
        docs = [{"@timestamp": iso(start + i * 10), "log": f"line {i} of the million-line job: step {i % 97} processed chunk {i % 13} ok\n",
                 "kubernetes.labels.job-name": JOB, "kubernetes.labels.reana-run-job-workflow-uuid": WORKFLOW}
                for i in range(first, min(LINES, first + batch))]
        bulk(port, docs)
    return time.monotonic() - t0


def wait(driver, script, timeout=60):
    return WebDriverWait(driver, timeout, poll_frequency=0.02).until(lambda d: d.execute_script(script))


def main():
    with running_server(prefix="logstore-bench-ui-") as (port, _):
        seconds = fill(port)
        stream = get_json(port, f"/v1/streams?job={JOB}")["streams"][0]
        assert stream["lines"] == LINES, stream
        print(f"stored {LINES:,} lines in {seconds:.1f} s")
        url = f"http://127.0.0.1:{port}/ui/#/log?index={JOB_INDEX}&workflow={WORKFLOW}&job={JOB}"
        driver = chromium()
        results = {"first": [], "end": [], "middle": []}
        try:
            for _ in range(ROUNDS):
                driver.get("about:blank")
                driver.get(url)
                first = wait(driver, "const m = performance.getEntriesByName('logstore:first-lines')[0]; return m && m.startTime")
                assert driver.execute_script("return document.querySelector('.rows').dataset.first") == "0"
                driver.execute_script("""
                  window.addEventListener('logstore:rendered', (e) => {
                    const d = e.detail;
                    if (window.__t1 === null && window.__want === 'end' && d.last === d.total - 1) window.__t1 = performance.now();
                    if (window.__t1 === null && window.__want === 'middle' && d.first > d.total * 0.4 && d.first < d.total * 0.6) window.__t1 = performance.now();
                  });""")
                driver.execute_script("window.__t1 = null; window.__want = 'end'; window.__t0 = performance.now();")
                driver.find_element(By.TAG_NAME, "body").send_keys("G")
                end = wait(driver, "return window.__t1 && (window.__t1 - window.__t0)")
                last = driver.execute_script("return [...document.querySelectorAll('.rows .r .n')].pop().textContent")
                assert last == str(LINES), last
                driver.execute_script("""
                  window.__t1 = null; window.__want = 'middle'; window.__t0 = performance.now();
                  const s = document.querySelector('.scroller'); s.scrollTop = (s.scrollHeight - s.clientHeight) / 2;""")
                middle = wait(driver, "return window.__t1 && (window.__t1 - window.__t0)")
                results["first"].append(first)
                results["end"].append(end)
                results["middle"].append(middle)
        finally:
            driver.quit()
    print(f"{'measure':<28}{'median ms':>10}{'max ms':>10}{'target':>10}")
    missed = False
    for name, label, target in [("first", "first lines after navigation", 1000), ("end", "scroll to the end (G)", 1000),
                                ("middle", "scrollbar to the middle", None)]:
        values = results[name]
        print(f"{label:<28}{statistics.median(values):>10.0f}{max(values):>10.0f}{(str(target) if target else '-'):>10}")
        missed |= bool(target and statistics.median(values) > target)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".build", "bench-ui.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump({"lines": LINES, **results}, f)
    return 5 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
