"""Documents as they were sent, every field searchable: the real opensearch-py against logstore.

Logstash-shaped (`message`, `@timestamp`) and Vector-shaped (`message`, `timestamp`) documents
come back as sent; field queries (term, range, exists, query_string on dotted names, REANA's
Dask label query) answer what OpenSearch answers; `_mapping` and `_field_caps` describe them.

Run: LOGSTORE_BIN=.build/debug/logstore python -m pytest -q Tests/compat/test_fields.py
"""

import json
import urllib.request

import pytest
from opensearchpy import OpenSearch
from opensearchpy.exceptions import RequestError

from logstore_server import running_server

LOGSTASH = [
    {"@timestamp": "2024-09-24T11:00:00.000Z", "message": "Hello Jane", "host": {"name": "node-1"}, "level": "ERROR", "status": 500},
    {"@timestamp": "2024-09-24T11:00:01.000Z", "message": "Hello John", "host": {"name": "node-2"}, "level": "INFO", "status": 200},
    {"@timestamp": "2024-09-24T11:00:02.000Z", "message": "Jane left", "host": {"name": "node-1"}, "level": "INFO", "status": 302, "tags": ["x", "y"]},
]
VECTOR = [
    {"timestamp": "2024-09-24T11:00:03.123456Z", "message": "vector line", "service": "api", "ok": True, "n": None},
    {"timestamp": "2024-09-24T11:00:04Z", "message": "vector two", "service": "web", "latency": 1.25},
]
# REANA's Dask workers: FluentBit's kubernetes filter puts the cluster label under labels.
DASK = [
    {
        "@timestamp": f"2024-09-24T11:01:{i:02d}.000Z",
        "log": f"dask worker {i} started",
        "kubernetes": {
            "namespace_name": "default",
            "pod_name": f"reana-run-dask-abc-worker-{i % 2}",
            "container_name": "dask-worker",
            "labels": {"dask.org/cluster-name": "reana-run-dask-abc" if i < 6 else "reana-run-dask-other", "app": "dask"},
        },
    }
    for i in range(8)
]


def bulk(port, index, docs):
    lines = []
    for doc in docs:
        lines.append(json.dumps({"create": {"_index": index}}))
        lines.append(json.dumps(doc))
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/_bulk", data=("\n".join(lines) + "\n").encode(), method="POST",
        headers={"Content-Type": "application/x-ndjson"})
    with urllib.request.urlopen(req, timeout=60) as r:
        answer = json.loads(r.read())
        assert r.status == 200 and answer["errors"] is False, answer


@pytest.fixture(scope="module")
def es():
    with running_server("logstore-fields-") as (port, _):
        bulk(port, "logstash-2024.09.24", LOGSTASH)
        bulk(port, "vector", VECTOR)
        bulk(port, "fluentbit-job_log", DASK)
        yield OpenSearch(hosts=[f"127.0.0.1:{port}"], http_compress=True, use_ssl=False, verify_certs=False, timeout=30)


def sources(answer):
    return [h["_source"] for h in answer["hits"]["hits"]]


def messages(answer):
    return [h["_source"].get("message") or h["_source"].get("log") for h in answer["hits"]["hits"]]


def test_logstash_documents_come_back_as_sent(es):
    answer = es.search(index="logstash-*", body={"sort": ["@timestamp"], "size": 10})
    assert sources(answer) == LOGSTASH


def test_vector_documents_keep_their_timestamp_field(es):
    answer = es.search(index="vector", body={"sort": [{"@timestamp": "asc"}]})
    assert sources(answer) == VECTOR
    assert "@timestamp" not in answer["hits"]["hits"][0]["_source"]


def test_source_filter_on_message(es):
    answer = es.search(index="logstash-*", body={"sort": ["@timestamp"], "size": 1, "_source": ["message"]})
    assert sources(answer) == [{"message": "Hello Jane"}]


@pytest.mark.parametrize(
    "query,expected",
    [
        ({"term": {"level": "ERROR"}}, ["Hello Jane"]),
        ({"term": {"level.keyword": "INFO"}}, ["Hello John", "Jane left"]),
        ({"range": {"status": {"gte": 300}}}, ["Hello Jane", "Jane left"]),
        ({"exists": {"field": "tags"}}, ["Jane left"]),
        ({"query_string": {"query": "host.name:node-1"}}, ["Hello Jane", "Jane left"]),
        ({"query_string": {"query": "Hello Jane"}}, ["Hello Jane", "Hello John", "Jane left"]),
        ({"query_string": {"query": "Hello Jane", "default_operator": "AND"}}, ["Hello Jane"]),
        ({"query_string": {"query": "status:>=300 AND level:INFO"}}, ["Jane left"]),
        ({"simple_query_string": {"query": "john", "fields": ["message"]}}, ["Hello John"]),
        ({"range": {"@timestamp": {"gte": "2024-09-24T11:00:00Z||+1s/s", "lt": "2024-09-24T11:00:02Z"}}}, ["Hello John"]),
    ],
)
def test_field_queries(es, query, expected):
    answer = es.search(index="logstash-*", body={"query": query, "sort": ["@timestamp"], "track_total_hits": True})
    assert messages(answer) == expected
    assert answer["hits"]["total"]["value"] == len(expected)


def test_reana_dask_query(es):
    # REANA's query for the logs of a Dask cluster (reana-workflow-controller).
    query = {
        "query": {"bool": {"must": [{"match": {"kubernetes.labels.dask.org/cluster-name.keyword": "reana-run-dask-abc"}}]}},
        "sort": [{"@timestamp": {"order": "asc"}}],
        "size": 100,
    }
    answer = es.search(index="fluentbit-*", body=query)
    assert [s["log"] for s in sources(answer)] == [f"dask worker {i} started" for i in range(6)]


def test_query_string_dotted_and_escaped_names(es):
    answer = es.search(index="fluentbit-job_log", body={"query": {"query_string": {"query": "kubernetes.namespace_name:default"}}})
    assert answer["hits"]["total"]["value"] == 8
    escaped = "kubernetes.labels.dask.org\\/cluster-name.keyword:reana-run-dask-other"
    answer = es.search(index="fluentbit-job_log", body={"query": {"query_string": {"query": escaped}}})
    assert answer["hits"]["total"]["value"] == 2


def test_unsupported_query_is_a_400_naming_it(es):
    with pytest.raises(RequestError) as error:
        es.search(index="vector", body={"query": {"fuzzy": {"service": "ap"}}})
    assert "fuzzy" in str(error.value.info)


def test_mapping(es):
    mapping = es.indices.get_mapping(index="logstash-2024.09.24")
    properties = mapping["logstash-2024.09.24"]["mappings"]["properties"]
    assert properties["level"]["type"] == "text"
    assert properties["level"]["fields"]["keyword"]["type"] == "keyword"
    assert properties["status"]["type"] == "long"
    assert properties["@timestamp"]["type"] == "date"
    assert properties["host"]["properties"]["name"]["type"] == "text"
    assert properties["message"]["type"] == "text"


def test_field_caps(es):
    caps = es.field_caps(index="vector", fields="*")
    fields = caps["fields"]
    assert caps["indices"] == ["vector"]
    assert fields["service"]["text"]["searchable"] is True
    assert fields["service.keyword"]["keyword"]["aggregatable"] is True
    assert fields["timestamp"]["date"]["type"] == "date"
    assert fields["ok"]["boolean"]["type"] == "boolean"
    assert fields["latency"]["float"]["type"] == "float"
    assert "n" not in fields  # only nulls: no value, no field
    caps = es.field_caps(index="logstash-*,vector", fields="host.*,status")
    assert set(caps["fields"]) == {"host.name", "host.name.keyword", "status"}


def test_ids_query_and_term_on_id(es):
    docs = [{"@timestamp": f"2024-09-24T12:00:0{i}.000Z", "message": f"id doc {i}", "level": "ERROR" if i % 2 else "INFO"} for i in range(4)]
    body = []
    for i, doc in enumerate(docs):
        body.append({"create": {"_index": "with-ids", "_id": f"k-{i}"}} if i < 3 else {"create": {"_index": "with-ids"}})
        body.append(doc)
    answer = es.bulk(body=body)
    assert answer["errors"] is False, answer
    everything = es.search(index="with-ids", body={"sort": ["@timestamp"]})
    generated = everything["hits"]["hits"][3]["_id"]
    assert [h["_id"] for h in everything["hits"]["hits"][:3]] == ["k-0", "k-1", "k-2"]

    def ids(query):
        answer = es.search(index="with-ids", body={"query": query, "sort": ["@timestamp"]})
        return [h["_id"] for h in answer["hits"]["hits"]]

    assert ids({"ids": {"values": ["k-2", "k-0", "nope", generated]}}) == ["k-0", "k-2", generated]
    assert ids({"term": {"_id": "k-1"}}) == ["k-1"]
    assert ids({"terms": {"_id": ["k-1", "k-2"]}}) == ["k-1", "k-2"]
    assert ids({"bool": {"filter": [{"ids": {"values": ["k-0", "k-1"]}}, {"term": {"level": "ERROR"}}]}}) == ["k-1"]
    assert ids({"bool": {"must_not": [{"ids": {"values": ["k-0", generated]}}]}}) == ["k-1", "k-2"]
    assert ids({"ids": {"values": ["nope"]}}) == []
    assert es.count(index="with-ids", body={"query": {"ids": {"values": ["k-0", "k-1"]}}})["count"] == 2


def test_sort_on_fields_with_search_after_and_pit(es):
    docs = [
        {"@timestamp": f"2024-09-25T08:00:{i:02d}.000Z", "message": f"sort doc {i}", "status": [500, 200, 404, 201][i % 4],
         "svc": {"name": ["api", "db", "web"][i % 3]}, "when": f"2024-09-{20 + i % 5:02d}T00:00:00Z", "ok": i % 2 == 0}
        for i in range(12)
    ]
    docs[5].pop("status")
    body = []
    for i, doc in enumerate(docs):
        body.append({"create": {"_index": "sorting", "_id": f"s-{i}"}})
        body.append(doc)
    assert es.bulk(body=body)["errors"] is False

    def model(i):
        d = docs[i]
        return (d["svc"]["name"], -d.get("status", -10**9), i)

    expected = sorted(range(12), key=model)
    sort = [{"svc.name.keyword": "asc"}, {"status": {"order": "desc", "missing": "_last", "unmapped_type": "long"}}]
    answer = es.search(index="sorting", body={"sort": sort, "size": 12})
    assert [h["_id"] for h in answer["hits"]["hits"]] == [f"s-{i}" for i in expected]
    assert answer["hits"]["total"] == {"value": 12, "relation": "eq"}
    first = answer["hits"]["hits"][0]
    assert first["_id"] == "s-0" and first["sort"][:2] == ["api", 500]
    assert answer["hits"]["hits"][-1]["_id"] == "s-5" and answer["hits"]["hits"][-1]["sort"][1] is None  # missing: last
    # search_after with a point in time walks the same order, three at a time.
    pit = es.transport.perform_request("POST", "/sorting/_search/point_in_time", params={"keep_alive": "1m"})["pit_id"]
    es.bulk(body=[{"create": {"_index": "sorting"}}, {"@timestamp": "2024-09-25T08:01:00Z", "message": "late", "svc": {"name": "aaa"}}])
    walked, after = [], None
    for _ in range(10):
        body = {"pit": {"id": pit}, "sort": sort, "size": 3}
        if after:
            body["search_after"] = after
        page = es.search(body=body)
        hits = page["hits"]["hits"]
        if not hits:
            break
        walked += [h["_id"] for h in hits]
        after = hits[-1]["sort"]
    assert walked == [f"s-{i}" for i in expected]
    # Dates sort as instants (epoch ms), booleans as 0/1, descending.
    answer = es.search(index="sorting", body={"query": {"term": {"ok": True}}, "sort": [{"when": "desc"}, "_doc"], "size": 3})
    whens = [h["sort"][0] for h in answer["hits"]["hits"]]
    assert whens == sorted(whens, reverse=True) and isinstance(whens[0], int)
    answer = es.search(index="sorting", body={"sort": [{"ok": "desc"}], "size": 1}, params={"track_total_hits": "false"})
    assert answer["hits"]["hits"][0]["sort"][0] == 1 and "total" not in answer["hits"]
    with pytest.raises(RequestError) as error:
        es.search(index="sorting", body={"sort": [{"status": {"missing": 7}}]})
    assert "missing" in str(error.value)
