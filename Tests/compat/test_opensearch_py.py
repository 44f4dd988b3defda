"""logstore's OpenSearch read API driven by the real opensearch-py client, the way REANA uses it.

Run: LOGSTORE_BIN=.build/debug/logstore python -m pytest -q Tests/compat
"""

import json
import time
import urllib.request
import uuid

import pytest
from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError, RequestError

from logstore_server import running_server

JOB_INDEX = "fluentbit-job_log"
WF_INDEX = "fluentbit-workflow_log"
BASE_MS = 1_725_281_520_000  # 2024-09-02T12:52:00Z


@pytest.fixture(scope="session")
def server():
    with running_server("logstore-compat-") as (port, _):
        yield port


def client(port):
    # REANA's construction without TLS and users (Tests/compat/test_secure.py has those).
    return OpenSearch(hosts=[f"127.0.0.1:{port}"], http_compress=True, use_ssl=False, verify_certs=False, timeout=30)


def iso(ms):
    secs, rem = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{rem:03d}Z"


def bulk(port, docs, index=JOB_INDEX, chunk=2000):
    """POSTs docs to /_bulk like FluentBit's es output (create actions, ndjson)."""
    for start in range(0, len(docs), chunk):
        lines = []
        for doc in docs[start : start + chunk]:
            lines.append(json.dumps({"create": {"_index": index}}))
            lines.append(json.dumps(doc))
        body = ("\n".join(lines) + "\n").encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/_bulk", data=body, method="POST", headers={"Content-Type": "application/x-ndjson"}
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            answer = json.loads(r.read())
            assert r.status == 200 and answer["errors"] is False, answer


def job_doc(job, ms, text):
    return {"@timestamp": iso(ms), "log": text, "stream": "stdout", "kubernetes.labels.job-name": job}


def new_job():
    return f"reana-run-job-{uuid.uuid4()}"


def reana_job_search(port, job, size=5000):
    """What reana-workflow-controller does for one job."""
    return client(port).search(
        index=JOB_INDEX,
        body={"query": {"match": {"kubernetes.labels.job-name.keyword": job}}, "sort": [{"@timestamp": {"order": "asc"}}]},
        size=size,
    )


def logs(response):
    return [hit["_source"]["log"] for hit in response["hits"]["hits"]]


# MARK: REANA's reads


def test_job_logs_in_timestamp_order(server):
    job = new_job()
    # Ingested out of timestamp order; another job's lines interleaved.
    order = [3, 0, 4, 1, 2]
    bulk(server, [job_doc(job, BASE_MS + i * 10, f"line {i}\n") for i in order] + [job_doc(new_job(), BASE_MS + 5, "other\n")])
    response = reana_job_search(server, job)
    assert logs(response) == [f"line {i}\n" for i in range(5)]
    assert response["hits"]["total"] == {"value": 5, "relation": "eq"}
    for hit in response["hits"]["hits"]:
        assert isinstance(hit["_source"]["log"], str)
        assert hit["_index"] == JOB_INDEX
        assert isinstance(hit["_source"]["@timestamp"], str)
    # REANA joins the lines.
    assert "\n".join(logs(response)).startswith("line 0\n")


def test_same_timestamp_keeps_arrival_order(server):
    job = new_job()
    bulk(server, [job_doc(job, BASE_MS, f"tie {i}\n") for i in range(20)])
    assert logs(reana_job_search(server, job)) == [f"tie {i}\n" for i in range(20)]


def test_earliest_5000_of_more(server):
    job = new_job()
    n = 6000
    # Newest first, so the store receives them in reverse order.
    bulk(server, [job_doc(job, BASE_MS + i, f"l{i}\n") for i in reversed(range(n))])
    response = reana_job_search(server, job)
    assert logs(response) == [f"l{i}\n" for i in range(5000)]
    assert response["hits"]["total"]["value"] == n


def test_workflow_logs(server):
    wf = str(uuid.uuid4())
    docs = [
        {"@timestamp": iso(BASE_MS + i), "log": f"wf {i}\n", "kubernetes.labels.reana-run-batch-workflow-uuid": wf}
        for i in range(3)
    ]
    bulk(server, docs, index=WF_INDEX)
    response = client(server).search(
        index=WF_INDEX,
        body={
            "query": {"match": {"kubernetes.labels.reana-run-batch-workflow-uuid.keyword": wf}},
            "sort": [{"@timestamp": {"order": "asc"}}],
        },
        size=5000,
    )
    assert logs(response) == ["wf 0\n", "wf 1\n", "wf 2\n"]


def test_unknown_job_gives_no_hits(server):
    bulk(server, [job_doc(new_job(), BASE_MS, "x\n")])
    response = reana_job_search(server, "reana-run-job-does-not-exist")
    assert response["hits"]["hits"] == []
    assert response["hits"]["total"]["value"] == 0


# MARK: DSL


@pytest.fixture(scope="session")
def hello_job(server):
    job = new_job()
    texts = ["Hello Jane Doe", "Hello Joe Bloggs", "error: disk full", "Goodbye Jane", "hello again"]
    bulk(server, [job_doc(job, BASE_MS + 1000 * i, t) for i, t in enumerate(texts)])
    return job


def job_filter(job):
    return {"match": {"kubernetes.labels.job-name.keyword": job}}


def test_match_phrase(server, hello_job):
    body = {"query": {"bool": {"filter": [job_filter(hello_job), {"match_phrase": {"log": "hello jane"}}]}}}
    assert logs(client(server).search(index=JOB_INDEX, body=body)) == ["Hello Jane Doe"]


def test_bool(server, hello_job):
    body = {
        "query": {
            "bool": {
                "must": [job_filter(hello_job), {"match": {"log": "hello"}}],
                "must_not": [{"match": {"log": "jane"}}],
            }
        }
    }
    assert logs(client(server).search(index=JOB_INDEX, body=body)) == ["Hello Joe Bloggs", "hello again"]
    should = {"query": {"bool": {"filter": job_filter(hello_job), "should": [{"match": {"log": "disk"}}, {"match": {"log": "goodbye"}}], "minimum_should_match": 1}}}
    assert logs(client(server).search(index=JOB_INDEX, body=should)) == ["error: disk full", "Goodbye Jane"]


def test_range(server, hello_job):
    body = {
        "query": {
            "bool": {
                "filter": [
                    job_filter(hello_job),
                    {"range": {"@timestamp": {"gte": iso(BASE_MS + 1000), "lt": BASE_MS + 3000}}},
                ]
            }
        }
    }
    response = client(server).search(index=JOB_INDEX, body=body)
    assert logs(response) == ["Hello Joe Bloggs", "error: disk full"]
    assert response["hits"]["total"]["value"] == 2


def test_query_string_and_desc(server, hello_job):
    body = {
        "query": {"bool": {"filter": [job_filter(hello_job), {"query_string": {"query": "hello OR goodbye"}}]}},
        "sort": [{"@timestamp": "desc"}],
    }
    assert logs(client(server).search(index="fluentbit-*", body=body)) == ["hello again", "Goodbye Jane", "Hello Joe Bloggs", "Hello Jane Doe"]


def test_count(server, hello_job):
    c = client(server)
    assert c.count(index=JOB_INDEX, body={"query": job_filter(hello_job)})["count"] == 5
    body = {"query": {"bool": {"must": [job_filter(hello_job), {"match": {"log": "hello"}}]}}}
    assert c.count(index=JOB_INDEX, body=body)["count"] == 3


def test_search_after_paging_12000(server):
    job = new_job()
    n = 12_000
    # Several lines per millisecond, ingested in shuffled blocks.
    docs = [job_doc(job, BASE_MS + i // 3, f"p{i}\n") for i in range(n)]
    blocks = [docs[i : i + 1000] for i in range(0, n, 1000)]
    arrival = [d for b in reversed(blocks) for d in b]
    bulk(server, arrival)
    c = client(server)
    seen = []
    after = None
    for _ in range(100):  # bounded: 12 pages expected
        body = {"query": job_filter(job), "sort": [{"@timestamp": {"order": "asc"}}], "size": 1000}
        if after is not None:
            body["search_after"] = after
        hits = c.search(index=JOB_INDEX, body=body)["hits"]["hits"]
        if not hits:
            break
        seen.extend(h["_source"]["log"] for h in hits)
        after = hits[-1]["sort"]
    assert len(seen) == n
    assert len(set(seen)) == n
    # Log order: by @timestamp, ties in arrival order (a stable sort of the arrival order).
    assert seen == [d["log"] for d in sorted(arrival, key=lambda d: d["@timestamp"])]
    # hits.total: OpenSearch's default track_total_hits (10,000), or exact on request.
    assert c.search(index=JOB_INDEX, body={"query": job_filter(job)}, size=1)["hits"]["total"] == {"value": 10000, "relation": "gte"}
    exact = c.search(index=JOB_INDEX, body={"query": job_filter(job), "track_total_hits": True}, size=1)
    assert exact["hits"]["total"] == {"value": n, "relation": "eq"}
    texty = {"query": {"bool": {"filter": [job_filter(job), {"match": {"log": "p11999"}}]}}, "track_total_hits": True}
    assert c.search(index=JOB_INDEX, body=texty)["hits"]["total"]["value"] == 1
    assert c.count(index=JOB_INDEX, body={"query": job_filter(job)})["count"] == n


def test_info_and_exists(server, hello_job):
    c = client(server)
    info = c.info()
    assert info["version"]["distribution"] == "opensearch"
    assert info["version"]["number"].startswith("2.")
    assert c.ping()
    assert c.indices.exists(index=JOB_INDEX)
    assert c.indices.exists(index="fluentbit-*")
    assert not c.indices.exists(index="no-such-index")


# MARK: Errors


@pytest.mark.parametrize(
    "body,needle",
    [
        ({"query": {"fuzzy": {"log": "x"}}}, "fuzzy"),
        ({"query": {"match": {"host.*": "x"}}}, "host.*"),
        ({"query": {"range": {"job": {"gte": "a"}}}}, "range"),
        ({"query": {"query_string": {"query": 'hello "world'}}}, "position"),
        ({"aggs": {"n": {"moving_avg": {"buckets_path": "x"}}}}, "moving_avg"),
    ],
)
def test_errors(server, hello_job, body, needle):
    with pytest.raises(RequestError) as info:
        client(server).search(index=JOB_INDEX, body=body)
    assert info.value.status_code == 400
    assert needle in json.dumps(info.value.info)


def test_result_window(server, hello_job):
    with pytest.raises(RequestError) as info:
        client(server).search(index=JOB_INDEX, body={"from": 6000}, size=5000)
    assert info.value.status_code == 400


def test_missing_index(server):
    with pytest.raises(NotFoundError):
        client(server).search(index="no-such-index", body={"query": {"match_all": {}}})
