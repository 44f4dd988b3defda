"""logstore with TLS and users, driven by the real opensearch-py built exactly as REANA builds it.

Certificates are made here with openssl; users with `logstore user add`. Every server listens
on 127.0.0.1.

Run: LOGSTORE_BIN=.build/debug/logstore python -m pytest -q Tests/compat/test_secure.py
"""

import json
import os
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import tempfile
import time
import urllib.request
import uuid

import pytest
from opensearchpy import OpenSearch
from opensearchpy.exceptions import AuthenticationException, AuthorizationException, NotFoundError

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures")
JOB_INDEX = "fluentbit-job_log"
WF_INDEX = "fluentbit-workflow_log"
PREFIX = "/opensearch"
BASE_MS = 1_725_281_520_000  # 2024-09-02T12:52:00Z
USERS = {
    # name: (roles, index patterns, password)
    "reana": (["read"], [], "reana-read-pw"),
    "fluentbit": (["ingest"], ["fluentbit-*"], "fb-ingest-pw"),
    "root": (["admin"], [], "admin-pw"),
    # The users of the captured FluentBit requests (their Authorization headers).
    "elastic": (["ingest"], [], "changeme"),
    "u1": (["ingest"], [], "p1"),
}


def binary():
    path = os.environ.get("LOGSTORE_BIN", ".build/debug/logstore")
    if not os.path.exists(path):
        pytest.skip(f"no logstore binary at {path} (set LOGSTORE_BIN)")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_cert(directory, name, ca_key, ca_crt, cn, san=None, client=False):
    key, csr, crt = (os.path.join(directory, f"{name}.{ext}") for ext in ("key", "csr", "crt"))
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={cn}")
    ext = os.path.join(directory, f"{name}.ext")
    with open(ext, "w") as f:
        f.write("extendedKeyUsage=clientAuth\n" if client else f"subjectAltName={san}\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial", "-days", "2", "-out", crt, "-extfile", ext)
    return crt, key


@pytest.fixture(scope="module")
def pki():
    """A CA, two server certificates for 127.0.0.1/localhost (the second for the reload) and a client certificate."""
    directory = tempfile.mkdtemp(prefix="logstore-pki-")
    ca_key, ca_crt = os.path.join(directory, "ca.key"), os.path.join(directory, "ca.crt")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca_crt, "-days", "2", "-subj", "/CN=logstore test CA")
    san = "IP:127.0.0.1,DNS:localhost"
    certs = {
        "ca": ca_crt,
        "server": make_cert(directory, "server", ca_key, ca_crt, "logstore-one", san),
        "server2": make_cert(directory, "server2", ca_key, ca_crt, "logstore-two", san),
        "client": make_cert(directory, "client", ca_key, ca_crt, "fluentbit-client", client=True),
        "dir": directory,
    }
    yield certs
    shutil.rmtree(directory, ignore_errors=True)


def add_users(users_file):
    for name, (roles, indices, password) in USERS.items():
        args = [binary(), "user", "add", name, "--users", users_file]
        for role in roles:
            args += ["--role", role]
        for index in indices:
            args += ["--index", index]
        if name == "reana":
            # The secret on standard input, as an operator would pipe it.
            subprocess.run(args, input=password + "\n", text=True, check=True, capture_output=True)
        else:
            subprocess.run(args + ["--password", password], check=True, capture_output=True)


class Server:
    def __init__(self, args, port, ca=None, client_cert=None):
        self.port = port
        self.data_dir = tempfile.mkdtemp(prefix="logstore-secure-")
        self.proc = subprocess.Popen(
            [binary(), "serve", "--data-dir", self.data_dir, "--listen", f"127.0.0.1:{port}", "--log-level", "warning", "--min-free-disk", "0", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        context = ssl.create_default_context(cafile=ca) if ca else None
        if context and client_cert:
            context.load_cert_chain(*client_cert)
        scheme = "https" if ca else "http"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{scheme}://127.0.0.1:{port}/health", timeout=2, context=context) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"logstore exited: {self.proc.stderr.read().decode(errors='replace')}")
            if time.monotonic() > deadline:
                raise RuntimeError("logstore did not answer /health within 60 s")
            time.sleep(0.1)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        shutil.rmtree(self.data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def users_file():
    directory = tempfile.mkdtemp(prefix="logstore-users-")
    path = os.path.join(directory, "users.json")
    add_users(path)
    yield path
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def secure(pki, users_file):
    """A server with TLS, users and REANA's URL prefix; the certificate files are copies the reload test replaces."""
    cert, key = os.path.join(pki["dir"], "live.crt"), os.path.join(pki["dir"], "live.key")
    shutil.copy(pki["server"][0], cert)
    shutil.copy(pki["server"][1], key)
    server = Server(["--tls-cert", cert, "--tls-key", key, "--users", users_file, "--path-prefix", PREFIX], free_port(), ca=pki["ca"])
    server.cert, server.key = cert, key
    yield server
    server.stop()


def reana_client(port, ca, user=None, password=None):
    """Exactly reana-workflow-controller's construction (opensearch.py)."""
    return OpenSearch(
        hosts=f"127.0.0.1:{port}",
        http_compress=True,
        http_auth=(user, password) if user else None,
        use_ssl=True,
        ca_certs=ca,
        url_prefix=PREFIX,
        verify_certs=True,
    )


def as_user(server, pki, name):
    return reana_client(server.port, pki["ca"], name, USERS[name][2])


def bulk_body(docs, index):
    lines = []
    for doc in docs:
        lines.append(json.dumps({"create": {"_index": index}}))
        lines.append(json.dumps(doc))
    return "\n".join(lines) + "\n"


def iso(ms):
    secs, rem = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{rem:03d}Z"


def logs(response):
    return [hit["_source"]["log"] for hit in response["hits"]["hits"]]


def test_users_file_is_owner_only(users_file):
    assert stat.S_IMODE(os.stat(users_file).st_mode) == 0o600
    listed = subprocess.run([binary(), "user", "list", "--users", users_file], check=True, capture_output=True, text=True).stdout
    assert "fluentbit roles=ingest indices=fluentbit-*" in listed
    assert "changeme" not in open(users_file).read()


def test_reana_job_and_workflow_logs_over_tls(secure, pki):
    job, wf = f"reana-run-job-{uuid.uuid4()}", str(uuid.uuid4())
    docs = [{"@timestamp": iso(BASE_MS + i * 10), "log": f"line {i}\n", "kubernetes.labels.job-name": job} for i in (3, 0, 2, 1)]
    wf_docs = [{"@timestamp": iso(BASE_MS + i), "log": f"wf {i}\n", "kubernetes.labels.reana-run-batch-workflow-uuid": wf} for i in range(3)]
    fluentbit = as_user(secure, pki, "fluentbit")
    for body, index in ((docs, JOB_INDEX), (wf_docs, WF_INDEX)):
        answer = fluentbit.bulk(body=bulk_body(body, index))
        assert answer["errors"] is False, answer
    reana = as_user(secure, pki, "reana")
    # reana-workflow-controller's job and workflow queries.
    job_logs = reana.search(
        index=JOB_INDEX,
        body={"query": {"match": {"kubernetes.labels.job-name.keyword": job}}, "sort": [{"@timestamp": {"order": "asc"}}]},
        size=5000,
    )
    assert logs(job_logs) == [f"line {i}\n" for i in range(4)]
    wf_logs = reana.search(
        index=WF_INDEX,
        body={"query": {"match": {"kubernetes.labels.reana-run-batch-workflow-uuid.keyword": wf}}, "sort": [{"@timestamp": {"order": "asc"}}]},
        size=5000,
    )
    assert logs(wf_logs) == ["wf 0\n", "wf 1\n", "wf 2\n"]


def test_no_credentials_is_401(secure, pki):
    with pytest.raises(AuthenticationException) as error:
        reana_client(secure.port, pki["ca"]).search(index=JOB_INDEX, body={"query": {"match_all": {}}})
    assert error.value.status_code == 401
    assert error.value.error == "security_exception"


def test_wrong_password_is_401(secure, pki):
    with pytest.raises(AuthenticationException) as error:
        reana_client(secure.port, pki["ca"], "reana", "not-the-password").search(index=JOB_INDEX, body={"query": {"match_all": {}}})
    assert error.value.status_code == 401


def test_read_user_on_bulk_is_403(secure, pki):
    with pytest.raises(AuthorizationException) as error:
        as_user(secure, pki, "reana").bulk(body=bulk_body([{"log": "x", "@timestamp": iso(BASE_MS)}], JOB_INDEX))
    assert error.value.status_code == 403
    assert "ingest" in str(error.value.info)


def test_ingest_user_on_search_is_403(secure, pki):
    with pytest.raises(AuthorizationException) as error:
        as_user(secure, pki, "fluentbit").search(index=JOB_INDEX, body={"query": {"match_all": {}}})
    assert error.value.status_code == 403
    assert "read" in str(error.value.info)


def test_ingest_user_limited_to_fluentbit_indices_gets_a_per_item_403(secure, pki):
    marker = str(uuid.uuid4())
    doc = {"@timestamp": iso(BASE_MS), "log": marker, "kubernetes.labels.job-name": "job-x"}
    body = bulk_body([doc], "other") + bulk_body([doc], JOB_INDEX)
    answer = as_user(secure, pki, "fluentbit").bulk(body=body)
    assert answer["errors"] is True
    statuses = [item["create"]["status"] for item in answer["items"]]
    assert statuses == [403, 201]
    assert answer["items"][0]["create"]["_index"] == "other"
    assert answer["items"][0]["create"]["error"]["type"] == "security_exception"
    root = as_user(secure, pki, "root")
    # Nothing reached index "other": it does not exist.
    with pytest.raises(NotFoundError):
        root.count(index="other")
    assert root.count(index=JOB_INDEX, body={"query": {"match_phrase": {"log": marker}}})["count"] == 1


def test_plain_http_to_the_tls_port_fails_cleanly(secure, pki):
    started = time.monotonic()
    with pytest.raises((OSError, urllib.error.URLError, ConnectionError)):
        with urllib.request.urlopen(f"http://127.0.0.1:{secure.port}/health", timeout=10) as r:
            r.read()
    assert time.monotonic() - started < 10
    # The server goes on serving TLS.
    assert as_user(secure, pki, "reana").count(index=JOB_INDEX)["count"] >= 0


def raw_tls_exchange(port, ca, data):
    """Sends `data` byte for byte over TLS and returns (status, body) of the one answer."""
    context = ssl.create_default_context(cafile=ca)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        with context.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
            tls.sendall(data)
            received = b""
            while b"\r\n\r\n" not in received:
                received += tls.recv(65536)
            head, rest = received.split(b"\r\n\r\n", 1)
            length = int([line.split(b":", 1)[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")][0])
            while len(rest) < length:
                rest += tls.recv(65536)
            return int(head.split(b" ")[1]), json.loads(rest[:length])


def captured(name, without_authorization=False):
    with open(os.path.join(FIXTURES, "fluentbit", name + ".headers.txt"), "rb") as f:
        head = f.read()
    with open(os.path.join(FIXTURES, "fluentbit", name + ".body.raw"), "rb") as f:
        body = f.read()
    lines = [line for line in head.split(b"\r\n") if line]
    if without_authorization:
        lines = [line for line in lines if not line.lower().startswith(b"authorization:")]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def test_captured_fluentbit_requests_replayed_over_tls(secure, pki):
    # es output with HTTP_User elastic / HTTP_Passwd changeme, and the http output with u1/p1.
    status, answer = raw_tls_exchange(secure.port, pki["ca"], captured("es_logstash_genid"))
    assert status == 200 and answer["errors"] is False, answer
    status, answer = raw_tls_exchange(secure.port, pki["ca"], captured("http_json_lines_iso8601_gzip"))
    assert status == 200 and answer["stored"] > 0, answer
    # The same requests without their Authorization header are refused.
    status, answer = raw_tls_exchange(secure.port, pki["ca"], captured("es_logstash_genid", without_authorization=True))
    assert status == 401 and answer["error"]["type"] == "security_exception"


def test_large_bulk_bodies_over_one_tls_connection_arrive_whole(secure, pki):
    # Bodies of many TLS records each, one after the other on one keep-alive connection and
    # written in uneven pieces, so the server decrypts them over many reads: every line is
    # stored once, with its own text.
    import base64
    import http.client
    import random

    context = ssl.create_default_context(cafile=pki["ca"])
    conn = http.client.HTTPSConnection("127.0.0.1", secure.port, timeout=60, context=context)
    token = base64.b64encode(f"fluentbit:{USERS['fluentbit'][2]}".encode()).decode()
    rng = random.Random(7)
    expected = {}
    try:
        for n in range(3):
            marker = f"big-{uuid.uuid4()}"
            docs = [{"@timestamp": iso(BASE_MS + i), "log": f"{marker} {i} " + "x" * rng.randrange(0, 900),
                     "kubernetes.labels.job-name": marker} for i in range(4000)]
            expected[marker] = [doc["log"] for doc in docs]
            body = bulk_body(docs, JOB_INDEX).encode()
            assert len(body) > 1_500_000
            conn.putrequest("POST", PREFIX + "/_bulk")
            for name, value in (("Content-Type", "application/x-ndjson"), ("Content-Length", str(len(body))),
                                ("Authorization", f"Basic {token}")):
                conn.putheader(name, value)
            conn.endheaders()
            sent = 0
            while sent < len(body):
                piece = rng.choice((1, 700, 16_384, 16_385, 65_536, 200_000))
                conn.send(body[sent:sent + piece])
                sent += piece
            response = conn.getresponse()
            answer = json.loads(response.read())
            assert response.status == 200 and answer["errors"] is False
            assert len(answer["items"]) == 4000
    finally:
        conn.close()
    reana = as_user(secure, pki, "reana")
    for marker, texts in expected.items():
        found = reana.search(index=JOB_INDEX, body={"query": {"match": {"kubernetes.labels.job-name.keyword": marker}},
                                                    "sort": [{"@timestamp": {"order": "asc"}}]}, size=5000)
        assert logs(found) == texts


def test_failed_logins_are_counted_in_metrics(secure, pki):
    context = ssl.create_default_context(cafile=pki["ca"])
    request = urllib.request.Request(f"https://127.0.0.1:{secure.port}{PREFIX}/metrics")
    request.add_header("Authorization", "Basic " + __import__("base64").b64encode(b"root:admin-pw").decode())
    with urllib.request.urlopen(request, context=context, timeout=10) as r:
        text = r.read().decode()
    failed = [line for line in text.splitlines() if line.startswith("logstore_auth_failed_logins_total")]
    assert failed and float(failed[0].split()[-1]) >= 1


def served_certificate_cn(port, ca):
    context = ssl.create_default_context(cafile=ca)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with context.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
            subject = dict(x[0] for x in tls.getpeercert()["subject"])
            return subject["commonName"], tls.version()


def test_tls_certificate_reloads_on_sighup_without_restart(secure, pki):
    cn, version = served_certificate_cn(secure.port, pki["ca"])
    assert cn == "logstore-one"
    assert version in ("TLSv1.2", "TLSv1.3")
    shutil.copy(pki["server2"][0], secure.cert)
    shutil.copy(pki["server2"][1], secure.key)
    secure.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while served_certificate_cn(secure.port, pki["ca"])[0] != "logstore-two":
        assert time.monotonic() < deadline, "the new certificate was not served within 10 s"
        time.sleep(0.1)
    assert secure.proc.poll() is None
    assert as_user(secure, pki, "reana").count(index=JOB_INDEX)["count"] >= 1


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls_below_1_2_is_refused(secure, pki):
    context = ssl.create_default_context(cafile=pki["ca"])
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", secure.port), timeout=10) as sock:
        with context.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
            assert tls.version() == "TLSv1.2"
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    try:
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.set_ciphers("ALL:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        pytest.skip("this Python's OpenSSL cannot offer TLS 1.1")
    with pytest.raises((ssl.SSLError, OSError)):
        with socket.create_connection(("127.0.0.1", secure.port), timeout=10) as sock:
            with old.wrap_socket(sock, server_hostname="127.0.0.1"):
                pass


def test_client_certificates_required_with_a_client_ca(pki, users_file):
    port = free_port()
    cert, key = pki["server"]
    server = Server(["--tls-cert", cert, "--tls-key", key, "--tls-client-ca", pki["ca"], "--users", users_file], port, ca=pki["ca"], client_cert=pki["client"])
    try:
        client = OpenSearch(
            hosts=f"127.0.0.1:{port}", http_compress=True, http_auth=("root", USERS["root"][2]), use_ssl=True, ca_certs=pki["ca"],
            verify_certs=True, client_cert=pki["client"][0], client_key=pki["client"][1],
        )
        assert "version" in client.info()
        context = ssl.create_default_context(cafile=pki["ca"])
        with pytest.raises((ssl.SSLError, OSError)):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                with context.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
                    tls.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                    if not tls.recv(100):
                        raise ConnectionError("closed without an answer")
    finally:
        server.stop()


def test_non_loopback_without_users_is_refused():
    data_dir = tempfile.mkdtemp(prefix="logstore-refuse-")
    try:
        result = subprocess.run(
            [binary(), "serve", "--data-dir", data_dir, "--listen", f"0.0.0.0:{free_port()}", "--min-free-disk", "0"],
            capture_output=True, text=True, timeout=60,
        )
        assert result.returncode != 0
        assert "without users" in result.stderr and "logstore user add" in result.stderr and "--allow-anonymous" in result.stderr
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
