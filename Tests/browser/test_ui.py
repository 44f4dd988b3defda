"""The web viewer in the real Chromium against a real server: workflow → job, the lines and their
order, following a live log, search against /v1/hits, login, path prefix, phone size.

Run: make test-browser (or LOGSTORE_BIN=.build/debug/logstore .venv/bin/python -m pytest -q Tests/browser)
"""

import gzip
import json
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from uitools import (JOB_A, JOB_B, JOB_INDEX, WF_INDEX, WF_NEW, SHOTS, binary, bulk, chromium, console_errors, get_json,
                     job_a_lines, job_doc, page_transfer_bytes, running_server, seed)

WAIT = 20  # seconds for a page to settle on a loaded machine (the live-line check has its own 2 s)


def wait(driver, condition, timeout=WAIT):
    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: condition(d))


def rows(driver, scope=".lv"):
    """The rendered rows of a log view once every visible row is loaded: [(number, text)]."""
    wait(driver, lambda d: d.execute_script(f"const r = document.querySelector('{scope} .rows'); return r && r.dataset.complete === '1' && r.querySelector('.r .n')"))
    return driver.execute_script(
        f"return [...document.querySelectorAll('{scope} .rows .r')].map(r => [Number(r.querySelector('.n').textContent), r.querySelector('.m').textContent])")


def press(driver, key):
    driver.execute_script("document.activeElement && document.activeElement.blur && document.activeElement.blur()")
    driver.find_element(By.TAG_NAME, "body").send_keys(key)


def test_workflow_to_job_lines_in_order(server, browser):
    browser.get(f"http://127.0.0.1:{server}/")
    assert "/ui/" in browser.current_url  # a browser asking for / is sent to the viewer
    first = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "table.workflows tbody td.id a"))
    assert first[0].text == WF_NEW  # most recent activity first
    first[0].click()
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "table.jobs tbody td.id a")) == 2)
    jobs = browser.execute_script(
        "return [...document.querySelectorAll('table.jobs tbody tr')].map(r => [r.cells[0].textContent.trim(), r.cells[2].textContent])")
    assert jobs == [[JOB_A, "300"], [JOB_B, "40"]]
    engine = rows(browser, ".engine")
    assert engine[0] == [1, "engine: publishing step 0 to MQ"]
    browser.find_element(By.LINK_TEXT, JOB_A).click()
    shown = rows(browser, ".logpage")
    expected = [text.replace("\x1b[31m", "").replace("\x1b[0m", "").replace("\x1b[1;32m", "") for _, text in job_a_lines()]
    assert len(shown) >= 20
    assert shown == [[i + 1, expected[i]] for i in range(len(shown))]  # numbered, in log order though sent out of order
    assert browser.find_elements(By.CSS_SELECTOR, ".logpage .r .m span.f1")  # the red ERROR of line 8
    press(browser, "G")
    wait(browser, lambda d: d.execute_script("const r = document.querySelector('.logpage .rows'); return r.dataset.complete === '1' && r.dataset.last === '299'"))
    end = rows(browser, ".logpage")
    assert end[-1] == [300, expected[299]]
    assert [n for n, _ in end] == list(range(end[0][0], 301))
    assert [t for _, t in end] == expected[end[0][0] - 1:]
    press(browser, "g")
    wait(browser, lambda d: rows(d, ".logpage")[0] == [1, expected[0]])
    total = page_transfer_bytes(browser)
    assert 0 < total <= 300_000, f"the page cost {total} bytes on the wire"


def test_follow_shows_a_new_line_within_2_s(server, browser):
    params = urllib.parse.urlencode({"index": JOB_INDEX, "workflow": WF_NEW, "job": JOB_B})
    browser.get(f"http://127.0.0.1:{server}/ui/#/log?{params}")
    rows(browser, ".logpage")
    press(browser, "f")
    wait(browser, lambda d: "on" in d.find_element(By.CSS_SELECTOR, "[data-act=follow]").get_attribute("class"))
    time.sleep(0.5)  # the long poll is parked
    marker = f"live line {time.time_ns()}"
    bulk(server, [job_doc(int(time.time() * 1000), JOB_B, WF_NEW, marker)])
    stored = time.monotonic()
    wait(browser, lambda d: any(t == marker for _, t in rows(d, ".logpage")), timeout=2.0)
    seen = time.monotonic() - stored
    last = rows(browser, ".logpage")[-1]
    assert last[1] == marker and last[0] == get_json(server, f"/v1/streams?{params}")["streams"][0]["lines"]
    assert seen < 2.0


def test_search_count_and_histogram_equal_hits(server, browser):
    browser.get(f"http://127.0.0.1:{server}/ui/#/search?q=hello&range=all")
    wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".search .count").get_attribute("data-total"))
    shown = int(browser.find_element(By.CSS_SELECTOR, ".search .count").get_attribute("data-total"))
    page = browser.find_element(By.CSS_SELECTOR, ".page.search")
    query = urllib.parse.urlencode({"q": "hello", "from": page.get_attribute("data-from"), "to": page.get_attribute("data-to"),
                                    "step": page.get_attribute("data-step")}, quote_via=urllib.parse.quote)
    hits = get_json(server, f"/v1/hits?{query}")
    bars = browser.execute_script("return [...document.querySelectorAll('.histo rect.bar')].reduce((n, r) => n + Number(r.dataset.count), 0)")
    assert shown == hits["total"] == bars == 35
    results = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "ol.results a.hit"))
    lsns = browser.execute_script("return [...document.querySelectorAll('ol.results li')].map(l => Number(l.dataset.lsn))")
    assert len(results) == 35 and lsns == sorted(lsns, reverse=True)  # most recently stored first
    marks = browser.execute_script("return [...document.querySelectorAll('ol.results .hit')].map(h => [...h.querySelectorAll('mark')].map(m => m.textContent))")
    assert all(m == ["hello"] for m in marks)
    text = browser.execute_script("return document.querySelector('ol.results .hit .m').textContent")
    results[0].click()
    selected = wait(browser, lambda d: d.execute_script("return document.querySelector('.logpage .r.sel .m')?.textContent"))
    assert selected == text  # opened at that line, in context
    assert len(rows(browser, ".logpage")) > 5


def test_histogram_drag_zooms(server, browser):
    browser.get(f"http://127.0.0.1:{server}/ui/#/search?q=step&range=all")
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".histo svg"))
    before = browser.find_element(By.CSS_SELECTOR, ".page.search").get_attribute("data-from")
    svg = browser.find_element(By.CSS_SELECTOR, ".histo svg")
    from selenium.webdriver.common.action_chains import ActionChains
    ActionChains(browser).move_to_element_with_offset(svg, svg.size["width"] // 2 - 40, 0).click_and_hold() \
        .move_by_offset(60, 0).release().perform()
    wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".page.search").get_attribute("data-from") != before)
    page = browser.find_element(By.CSS_SELECTOR, ".page.search")
    assert int(page.get_attribute("data-from")) > int(before)
    assert "from=" in browser.current_url


def test_login_with_a_user():
    directory = tempfile.mkdtemp(prefix="logstore-ui-users-")
    users = os.path.join(directory, "users.json")
    subprocess.run([binary(), "user", "add", "viewer", "--role", "read", "--users", users, "--password", "viewer-pw-1"], check=True, capture_output=True)
    with running_server(prefix="logstore-ui-login-", extra_args=["--users", users]) as (port, _):
        seed_as_root = False
        try:
            bulk(port, [job_doc(int(time.time() * 1000), "job-x", "wf-x", "hello")])
        except urllib.error.HTTPError as e:
            seed_as_root = e.code == 401
        assert seed_as_root  # the server really asks for a login
        driver = chromium()
        try:
            driver.get(f"http://127.0.0.1:{port}/ui/")
            form = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "form.login"))[0]
            form.find_element(By.NAME, "user").send_keys("viewer")
            form.find_element(By.NAME, "password").send_keys("wrong")
            form.find_element(By.CSS_SELECTOR, "button").click()
            wait(driver, lambda d: "wrong user name or password" in d.find_element(By.CSS_SELECTOR, ".login .error").text)
            expected = console_errors(driver)  # the refused login's 401, logged by the browser
            assert all("401" in e["message"] for e in expected)
            form.find_element(By.NAME, "password").clear()
            form.find_element(By.NAME, "password").send_keys("viewer-pw-1")
            form.find_element(By.CSS_SELECTOR, "button").click()
            wait(driver, lambda d: "viewer" in d.find_element(By.ID, "who").text)
            wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "table.workflows tbody td"))
            assert "logstore_session" not in driver.execute_script("return document.cookie")  # HttpOnly
            cookie = driver.get_cookie("logstore_session")
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
            # An unsafe request with the cookie but without the CSRF token is refused.
            status = driver.execute_async_script(
                "const done = arguments[0]; fetch('../ui/logout', {method: 'POST', credentials: 'same-origin'}).then(r => done(r.status))")
            assert status == 403
            refused = console_errors(driver)
            assert all("403" in e["message"] for e in refused)
            driver.find_element(By.ID, "logout").click()
            wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "form.login"))
            os.makedirs(SHOTS, exist_ok=True)
            driver.save_screenshot(os.path.join(SHOTS, "test_login_with_a_user.png"))
            status = driver.execute_async_script(
                "const done = arguments[0]; fetch('../v1/workflows', {headers: {'X-Logstore-UI': '1'}}).then(r => done([r.status, r.headers.get('WWW-Authenticate')]))")
            assert status == [401, None]  # signed out; no browser prompt for the viewer's own requests
            assert all("401" in e["message"] for e in console_errors(driver))
        finally:
            driver.quit()


def test_under_a_path_prefix():
    with running_server(prefix="logstore-ui-prefix-", extra_args=["--path-prefix", "/logs"]) as (port, _):
        seed(port, prefix="/logs")
        driver = chromium()
        try:
            driver.get(f"http://127.0.0.1:{port}/logs")
            wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "table.workflows tbody td.id a"))
            assert urllib.parse.urlparse(driver.current_url).path == "/logs/ui/"
            driver.find_element(By.LINK_TEXT, WF_NEW).click()
            driver.find_element(By.LINK_TEXT, JOB_B).click() if wait(driver, lambda d: d.find_elements(By.LINK_TEXT, JOB_B)) else None
            assert rows(driver, ".logpage")[0] == [1, "job b says hello 0"]
            resources = driver.execute_script("return performance.getEntriesByType('resource').map(e => new URL(e.name).pathname)")
            assert resources and all(p.startswith("/logs/") for p in resources)
            os.makedirs(SHOTS, exist_ok=True)
            driver.save_screenshot(os.path.join(SHOTS, "test_under_a_path_prefix.png"))
            assert not console_errors(driver)
        finally:
            driver.quit()


def test_phone_size_and_themes(server):
    driver = chromium(390, 844)
    try:
        driver.get(f"http://127.0.0.1:{server}/ui/#/workflow?id={WF_NEW}")
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "table.jobs tbody td.id a"))
        assert driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
        theme = driver.execute_script("return document.documentElement.dataset.theme")
        driver.find_element(By.ID, "theme").click()
        assert driver.execute_script("return document.documentElement.dataset.theme") == {"dark": "light", "light": "dark"}[theme]
        driver.find_element(By.LINK_TEXT, JOB_A).click()
        assert rows(driver, ".logpage")[0][0] == 1
        assert driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
        os.makedirs(SHOTS, exist_ok=True)
        driver.save_screenshot(os.path.join(SHOTS, "test_phone_size_and_themes.png"))
        assert not console_errors(driver)
    finally:
        driver.quit()


def test_files_types_etags_gzip_and_root(server):
    def fetch(path, headers=None):
        request = urllib.request.Request(f"http://127.0.0.1:{server}{path}", headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(urllib.request.Request(f"http://127.0.0.1:{server}/", headers={"Accept": "text/html,application/xhtml+xml"}))
        raise AssertionError("no redirect")
    except urllib.error.HTTPError as e:
        assert e.code == 302 and e.headers["Location"] == "ui/"
    status, _, body = fetch("/")  # API clients still get the cluster info
    assert status == 200 and json.loads(body)["version"]["distribution"] == "opensearch"
    for name, kind in [("", "text/html"), ("app.js", "text/javascript"), ("style.css", "text/css"), ("favicon.svg", "image/svg+xml")]:
        status, headers, plain = fetch(f"/ui/{name}")
        assert status == 200 and headers["Content-Type"].startswith(kind) and headers["Cache-Control"] == "no-cache"
        status, zipped_headers, zipped = fetch(f"/ui/{name}", {"Accept-Encoding": "gzip"})
        if zipped_headers["Content-Encoding"] == "gzip":
            assert gzip.decompress(zipped) == plain and len(zipped) < len(plain)
        status, _, body = fetch(f"/ui/{name}", {"If-None-Match": headers["ETag"]})
        assert status == 304 and body == b""
    status, headers, _ = fetch("/ui/")
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert fetch("/ui/nope.js")[0] == 404
    try:
        opener.open(f"http://127.0.0.1:{server}/ui")
        raise AssertionError("no redirect")
    except urllib.error.HTTPError as e:
        assert e.code == 302 and e.headers["Location"] == "ui/"
    # A cross-site page cannot post to the server.
    request = urllib.request.Request(f"http://127.0.0.1:{server}/_bulk", data=b"{}\n", method="POST",
                                     headers={"Content-Type": "application/x-ndjson", "Sec-Fetch-Site": "cross-site"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 403


def test_workflows_endpoint(server):
    answer = get_json(server, "/v1/workflows")
    names = [w["workflow"] for w in answer["workflows"]]
    assert names[0] == WF_NEW and set(names) == {WF_NEW, "9b7d4c11-0000-4000-8000-000000000002", ""}
    new = answer["workflows"][0]
    streams = get_json(server, f"/v1/streams?workflow={WF_NEW}")["streams"]
    assert (new["jobs"], new["streams"], new["lines"]) == (2, 3, sum(s["lines"] for s in streams))
    assert new["lines"] >= 352
    assert get_json(server, "/v1/workflows?filter=LOOSE")["workflows"][0]["workflow"] == ""
    assert get_json(server, "/v1/workflows?filter=nothing-like-this") ["total"] == 0
    with pytest.raises(urllib.error.HTTPError) as bad:
        get_json(server, "/v1/workflows?limit=0")
    assert bad.value.code == 400


def test_follow_reconnects_without_gaps(server, browser):
    """Offline for a while (Chromium's network emulation): lines stored meanwhile appear once each, in order."""
    params = urllib.parse.urlencode({"index": JOB_INDEX, "workflow": WF_NEW, "job": JOB_B}, quote_via=urllib.parse.quote)
    browser.get(f"http://127.0.0.1:{server}/ui/#/log?{params}&follow=1")
    wait(browser, lambda d: "on" in d.find_element(By.CSS_SELECTOR, "[data-act=follow]").get_attribute("class"))
    rows(browser, ".logpage")
    browser.execute_cdp_cmd("Network.enable", {})
    offline = {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
    browser.execute_cdp_cmd("Network.emulateNetworkConditions", offline)
    time.sleep(0.5)
    base = int(time.time() * 1000)
    markers = [f"while offline {i} {time.time_ns()}" for i in range(3)]
    for i, marker in enumerate(markers):
        bulk(server, [job_doc(base + i, JOB_B, WF_NEW, marker)])
    wait(browser, lambda d: "reconnecting" in d.find_element(By.CSS_SELECTOR, ".logpage .status").text)  # its requests fail
    time.sleep(1.0)
    browser.execute_cdp_cmd("Network.emulateNetworkConditions", {**offline, "offline": False})
    wait(browser, lambda d: rows(d, ".logpage")[-1][1] == markers[-1])
    shown = rows(browser, ".logpage")
    texts = [t for _, t in shown]
    assert texts[-3:] == markers and all(texts.count(m) == 1 for m in markers)
    total = get_json(server, f"/v1/streams?{params}")["streams"][0]["lines"]
    assert [n for n, _ in shown][-3:] == [total - 2, total - 1, total]
    browser.get_log("browser")  # the failed requests while offline are expected console entries


def test_slash_goes_to_search(server, browser):
    browser.get(f"http://127.0.0.1:{server}/ui/#/workflows")
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "table.workflows tbody td.id a"))
    press(browser, "/")
    assert browser.execute_script("return document.activeElement.matches('input.filter')")  # the page's own box
    params = urllib.parse.urlencode({"index": JOB_INDEX, "workflow": WF_NEW, "job": JOB_A}, quote_via=urllib.parse.quote)
    browser.get(f"http://127.0.0.1:{server}/ui/#/log?{params}")
    rows(browser, ".logpage")
    press(browser, "/")
    wait(browser, lambda d: d.execute_script("return document.activeElement.matches('.search input.q')"))
    browser.switch_to.active_element.send_keys('"connection refused"\n')
    wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".search .count").get_attribute("data-total") == "6")


def test_jump_to_a_time_and_a_shared_line_link(server, browser):
    params = urllib.parse.urlencode({"index": JOB_INDEX, "workflow": WF_NEW, "job": JOB_A}, quote_via=urllib.parse.quote)
    browser.get(f"http://127.0.0.1:{server}/ui/#/log?{params}")
    rows(browser, ".logpage")
    lines = job_a_lines()
    browser.execute_script("""
      const d = new Date(arguments[0]), p = (n) => String(n).padStart(2, '0');
      const input = document.querySelector('.jump input');
      input.value = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
      input.form.requestSubmit();""", lines[150][0])
    wait(browser, lambda d: rows(d, ".logpage")[0] == [151, lines[150][1]])
    # A line's number is its link: the URL then opens the log at that line.
    browser.execute_script("[...document.querySelectorAll('.logpage .r .n')].find(a => a.textContent === '160').click()")
    wait(browser, lambda d: "at=" in d.current_url)
    link = browser.current_url
    browser.get("about:blank")
    browser.get(link)
    selected = wait(browser, lambda d: d.execute_script("const r = document.querySelector('.logpage .r.sel'); return r && [r.querySelector('.n').textContent, r.querySelector('.m').textContent]"))
    assert selected == ["160", lines[159][1]]


def test_download_as_text(server, browser):
    directory = tempfile.mkdtemp(prefix="logstore-ui-download-")
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": directory})
    params = urllib.parse.urlencode({"index": JOB_INDEX, "workflow": WF_NEW, "job": JOB_A}, quote_via=urllib.parse.quote)
    browser.get(f"http://127.0.0.1:{server}/ui/#/log?{params}")
    rows(browser, ".logpage")
    browser.find_element(By.CSS_SELECTOR, "[data-act=download]").click()
    path = os.path.join(directory, JOB_A + ".log")
    wait(browser, lambda d: os.path.exists(path) and os.path.getsize(path) > 0)
    with open(path, encoding="utf-8") as f:
        assert f.read() == "".join(text + "\n" for _, text in job_a_lines())  # every line, in log order, as stored
