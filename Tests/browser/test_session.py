"""The web viewer's session cookie and CSRF token over plain HTTP (no browser): what the login
sets, what the cookie allows, and what ends a session.

Run: LOGSTORE_BIN=.build/debug/logstore .venv/bin/python -m pytest -q Tests/browser/test_session.py
"""

import base64
import json
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from uitools import binary, running_server

UI = {"X-Logstore-UI": "1"}


def call(port, path, method="GET", headers=None, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                     headers={**({"Content-Type": "application/json"} if data else {}), **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


@pytest.fixture(scope="module")
def secured():
    directory = tempfile.mkdtemp(prefix="logstore-ui-session-")
    users = os.path.join(directory, "users.json")
    for name, role, password in [("viewer", "read", "pw-viewer-1"), ("root", "admin", "pw-root-1"), ("ops", "admin", "pw-ops-1")]:
        subprocess.run([binary(), "user", "add", name, "--role", role, "--users", users, "--password", password], check=True, capture_output=True)
    with running_server(prefix="logstore-ui-session-", extra_args=["--users", users]) as (port, _):
        yield port, users


def login(port, user, password):
    status, headers, body = call(port, "/ui/login", "POST", UI, {"user": user, "password": password})
    assert status == 200, body
    cookie = headers["Set-Cookie"]
    token = cookie.split(";")[0]
    return token, json.loads(body), cookie


def test_login_cookie_and_what_it_allows(secured):
    port, _ = secured
    assert json.loads(call(port, "/ui/session")[2]) == {"login": True, "user": None}
    status, headers, _ = call(port, "/v1/workflows")
    assert status == 401 and headers["WWW-Authenticate"] == 'Basic realm="logstore"'
    status, headers, _ = call(port, "/v1/workflows", headers=UI)
    assert status == 401 and headers["WWW-Authenticate"] is None  # the viewer shows its own form
    assert call(port, "/ui/login", "POST", UI, {"user": "viewer", "password": "wrong"})[0] == 401
    assert call(port, "/ui/login", "POST", {}, {"user": "viewer", "password": "pw-viewer-1"})[0] == 403  # no X-Logstore-UI
    assert call(port, "/ui/login", "POST", UI, {"name": "viewer"})[0] == 400
    token, answer, cookie = login(port, "viewer", "pw-viewer-1")
    assert answer["user"] == "viewer" and answer["roles"] == ["read"] and len(answer["csrf"]) >= 40
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Max-Age=43200" in cookie and "Path=/" in cookie
    session = json.loads(call(port, "/ui/session", headers={"Cookie": token})[2])
    assert session["user"] == "viewer" and session["csrf"] == answer["csrf"]
    assert call(port, "/v1/workflows", headers={"Cookie": token})[0] == 200  # read role through the cookie
    status, _, body = call(port, "/v1/admin/compact", "POST", {"Cookie": token, "X-CSRF-Token": answer["csrf"]})
    assert status == 403 and b"no permissions for [admin]" in body  # roles still apply
    assert call(port, "/v1/workflows", headers={"Cookie": "logstore_session=forged"})[0] == 401
    # Unsafe requests with the cookie need the CSRF token.
    assert call(port, "/ui/logout", "POST", {"Cookie": token})[0] == 403
    assert call(port, "/ui/logout", "POST", {"Cookie": token, "X-CSRF-Token": "x" * len(answer["csrf"])})[0] == 403
    status, headers, _ = call(port, "/ui/logout", "POST", {"Cookie": token, "X-CSRF-Token": answer["csrf"]})
    assert status == 200 and "Max-Age=0" in headers["Set-Cookie"]
    assert call(port, "/v1/workflows", headers={"Cookie": token})[0] == 401  # signed out


def test_a_password_change_ends_the_session(secured):
    port, users = secured
    token, _, _ = login(port, "root", "pw-root-1")
    assert call(port, "/v1/workflows", headers={"Cookie": token})[0] == 200
    subprocess.run([binary(), "user", "passwd", "root", "--users", users, "--password", "pw-root-2"], check=True, capture_output=True)
    deadline = time.monotonic() + 20  # the server reloads the users file within seconds
    while call(port, "/v1/workflows", headers={"Cookie": token})[0] == 200:
        assert time.monotonic() < deadline, "the session outlived the password change"
        time.sleep(0.2)
    assert call(port, "/v1/workflows", headers={"Cookie": token})[0] == 401
    login(port, "root", "pw-root-2")


def test_cross_site_unsafe_requests_are_refused(secured):
    port, _ = secured
    basic = {"Authorization": "Basic " + base64.b64encode(b"ops:pw-ops-1").decode()}
    status, _, body = call(port, "/v1/admin/compact?dry_run=true", "POST", {**basic, "Sec-Fetch-Site": "cross-site"})
    assert status == 403 and b"cross-site" in body
    assert call(port, "/v1/admin/compact?dry_run=true", "POST", {**basic, "Sec-Fetch-Site": "same-origin"})[0] == 200
