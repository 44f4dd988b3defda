"""Aggregations, _msearch, scroll and point in time driven by the real opensearch-py client,
and Grafana's and Dashboards' request bodies (Tests/Fixtures/clients) replayed.

Run: LOGSTORE_BIN=.build/debug/logstore python -m pytest -q Tests/compat/test_aggregations.py
"""

import calendar
import collections
import json
import os
import random
import threading
import time
import urllib.request

import pytest
from opensearchpy import OpenSearch, helpers
from opensearchpy.exceptions import NotFoundError, RequestError

from logstore_server import running_server

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "Fixtures", "clients")
INDEX = "logs-agg"


@pytest.fixture(scope="module")
def server():
    with running_server("logstore-aggs-") as (port, _):
        yield port


def client(port):
    return OpenSearch(hosts=[f"127.0.0.1:{port}"], http_compress=True, use_ssl=False, timeout=60)


def iso(ms):
    secs, rem = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{rem:03d}Z"


def bulk(port, docs, index=INDEX, chunk=5000):
    for start in range(0, len(docs), chunk):
        lines = []
        for doc in docs[start : start + chunk]:
            lines.append(json.dumps({"create": {"_index": index}}))
            lines.append(json.dumps(doc))
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/_bulk", data=("\n".join(lines) + "\n").encode(), method="POST",
            headers={"Content-Type": "application/x-ndjson"},
        )
        with urllib.request.urlopen(req, timeout=120) as r:
            answer = json.loads(r.read())
            assert answer["errors"] is False, str(answer)[:500]


def to_ms(text):
    return calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")) * 1000 + int(text[20:23])


def now_ms():
    return int(time.time() * 1000)


def documents(n, index_tag, base, seed):
    rng = random.Random(seed)
    levels = ["INFO", "WARN", "ERROR"]
    return [
        {
            "@timestamp": iso(base + rng.randrange(3_600_000)),
            "log": f"{index_tag} line {i} " + rng.choice(["error disk", "ok", "retry error", "fine"]),
            "level": rng.choice(levels),
            "n": rng.randrange(100),
            "seq": i,
            "tag": index_tag,
        }
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def loaded(server):
    base = (now_ms() - 2 * 3_600_000) // 60_000 * 60_000
    docs = documents(3000, "a", base, 1)
    bulk(server, docs)
    return server, base, docs


def test_terms_date_histogram_metrics(loaded):
    port, base, docs = loaded
    es = client(port)
    answer = es.search(
        index=INDEX,
        body={
            "size": 0,
            "query": {"match": {"log": "error"}},
            "aggs": {
                "levels": {
                    "terms": {"field": "level.keyword", "order": {"_key": "asc"}},
                    "aggs": {
                        "per_10m": {"date_histogram": {"field": "@timestamp", "fixed_interval": "10m", "min_doc_count": 1},
                                    "aggs": {"n_avg": {"avg": {"field": "n"}}, "n_max": {"max": {"field": "n"}}}}
                    },
                }
            },
        },
    )
    matching = [d for d in docs if "error" in d["log"].split()]
    assert answer["hits"]["total"]["value"] == len(matching)
    by_level = collections.defaultdict(list)
    for d in matching:
        by_level[d["level"]].append(d)
    buckets = answer["aggregations"]["levels"]["buckets"]
    assert [b["key"] for b in buckets] == sorted(by_level)
    for b in buckets:
        mine = by_level[b["key"]]
        assert b["doc_count"] == len(mine)
        windows = collections.defaultdict(list)
        for d in mine:
            ms = to_ms(d["@timestamp"])
            windows[ms // 600_000 * 600_000].append(d["n"])
        got = b["per_10m"]["buckets"]
        assert [g["key"] for g in got] == sorted(windows)
        for g in got:
            values = windows[g["key"]]
            assert g["doc_count"] == len(values)
            assert abs(g["n_avg"]["value"] - sum(values) / len(values)) < 1e-9
            assert g["n_max"]["value"] == max(values)
            assert g["key_as_string"].endswith("Z")


def test_msearch_items_answer_on_their_own(loaded):
    port, _, docs = loaded
    es = client(port)
    answer = es.msearch(
        body=[
            {"index": INDEX},
            {"size": 0, "aggs": {"c": {"value_count": {"field": "seq"}}}},
            {"index": INDEX},
            {"size": 1, "script_fields": {"x": {"script": "doc['n'].value * 2"}}},
            {"index": "no-such-index"},
            {"query": {"match_all": {}}},
            {},
            {"size": 2, "query": {"match": {"log": "disk"}}},
        ]
    )
    r = answer["responses"]
    assert len(r) == 4
    assert r[0]["status"] == 200 and r[0]["aggregations"]["c"]["value"] == len(docs)
    assert r[1]["status"] == 400 and "script_fields" in r[1]["error"]["reason"]
    assert r[2]["status"] == 404 and r[2]["error"]["type"] == "index_not_found_exception"
    assert r[3]["status"] == 200 and len(r[3]["hits"]["hits"]) == 2


def test_scan_exports_every_document_once(server):
    base = (now_ms() - 3_600_000) // 1000 * 1000
    n = 20_000
    bulk(server, [{"@timestamp": iso(base + i * 7 % 3_000_000), "log": f"export {i}", "seq": i} for i in range(n)], index="export")
    es = client(server)
    seen = collections.Counter(hit["_source"]["seq"] for hit in helpers.scan(es, index="export", query={"query": {"match_all": {}}}, size=1000, scroll="2m"))
    assert len(seen) == n and set(seen.values()) == {1}
    # The scroll was cleared by helpers.scan: no context is left behind.
    with pytest.raises(NotFoundError):
        es.clear_scroll(scroll_id="scroll-unknown")


def test_pit_search_after_sees_exactly_the_snapshot(server):
    base = (now_ms() - 3_600_000) // 1000 * 1000
    first = [{"@timestamp": iso(base + i * 100), "log": f"pit {i}", "seq": i} for i in range(5000)]
    bulk(server, first, index="pit-test")
    es = client(server)
    pit = es.transport.perform_request("POST", "/pit-test/_search/point_in_time", params={"keep_alive": "2m"})
    pit_id = pit["pit_id"]
    stop = threading.Event()

    def ingest():
        k = 5000
        while not stop.is_set() and k < 20000:
            bulk(server, [{"@timestamp": iso(base + (k + j) * 100 % 3_000_000), "log": f"pit {k + j}", "seq": k + j} for j in range(500)], index="pit-test")
            k += 500

    writer = threading.Thread(target=ingest)
    writer.start()
    try:
        seen = []
        after = None
        for _ in range(1000):
            body = {"size": 700, "pit": {"id": pit_id, "keep_alive": "2m"}, "sort": [{"@timestamp": "asc"}], "track_total_hits": False}
            if after:
                body["search_after"] = after
            page = es.search(body=body)
            hits = page["hits"]["hits"]
            if not hits:
                break
            assert page["pit_id"] == pit_id
            seen += [h["_source"]["seq"] for h in hits]
            after = hits[-1]["sort"]
            time.sleep(0.01)
    finally:
        stop.set()
        writer.join()
    assert sorted(seen) == list(range(5000))
    closed = es.transport.perform_request("DELETE", "/_search/point_in_time", body={"pit_id": [pit_id]})
    assert closed["pits"][0]["successful"] is True
    with pytest.raises(NotFoundError):
        es.search(body={"pit": {"id": pit_id}})


def test_contexts_are_bounded(server):
    es = client(server)
    bulk(server, [{"@timestamp": iso(now_ms() - 1000), "log": "bound"}], index="bounded")
    opened = []
    with pytest.raises(Exception) as refused:
        for _ in range(10_000):
            opened.append(es.transport.perform_request("POST", "/bounded/_search/point_in_time", params={"keep_alive": "1m"})["pit_id"])
    assert getattr(refused.value, "status_code", None) == 429
    assert 0 < len(opened) < 10_000
    es.transport.perform_request("DELETE", "/_search/point_in_time/_all")
    es.transport.perform_request("POST", "/bounded/_search/point_in_time", params={"keep_alive": "1m"})
    es.transport.perform_request("DELETE", "/_search/point_in_time/_all")


def fill(text, base):
    end = base + 3_600_000
    return (
        text.replace('"$timeFrom"', str(base)).replace('"$timeTo"', str(end)).replace("$timeFrom", str(base))
        .replace("$timeTo", str(end)).replace("${__interval_ms}", "60000").replace("$isoFrom", iso(base)).replace("$isoTo", iso(end))
    )


def msearch_fixture(port, name, base):
    with open(os.path.join(FIXTURES, name)) as f:
        body = fill(f.read(), base).replace('"index":"logs-*"', f'"index":"{INDEX}"')
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/_msearch?max_concurrent_shard_requests=5", data=body.encode(), method="POST",
        headers={"Content-Type": "application/x-ndjson"},
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        answer = json.loads(r.read())
    assert len(answer["responses"]) == 1, answer
    item = answer["responses"][0]
    assert item["status"] == 200, item
    return item


def test_grafana_logs_query(loaded):
    port, base, docs = loaded
    item = msearch_fixture(port, "grafana_logs.ndjson", base)
    matching = [d for d in docs if "error" in d["log"].split()]
    hits = item["hits"]["hits"]
    assert len(hits) == min(500, len(matching))
    stamps = [h["sort"][0] for h in hits]
    assert stamps == sorted(stamps, reverse=True)
    assert all("@HIGHLIGHT@error@/HIGHLIGHT@" in h["highlight"]["log"][0] for h in hits)
    buckets = item["aggregations"]["2"]["buckets"]
    assert buckets[0]["key"] == base and buckets[-1]["key"] == base + 3_600_000
    assert sum(b["doc_count"] for b in buckets) == len(matching)
    assert all(b["key_as_string"] == str(b["key"]) for b in buckets)


def test_grafana_count_histogram_and_terms(loaded):
    port, base, docs = loaded
    item = msearch_fixture(port, "grafana_count_histogram.ndjson", base)
    per_minute = collections.Counter()
    for d in docs:
        per_minute[to_ms(d["@timestamp"]) // 60_000 * 60_000] += 1
    buckets = item["aggregations"]["2"]["buckets"]
    assert len(buckets) == 61
    assert {b["key"]: b["doc_count"] for b in buckets if b["doc_count"]} == dict(per_minute)
    terms = msearch_fixture(port, "grafana_terms_variable.ndjson", base)["aggregations"]["1"]["buckets"]
    assert [(b["key"], b["doc_count"]) for b in terms] == sorted(collections.Counter(d["level"] for d in docs).items())
    nested = msearch_fixture(port, "grafana_terms_histogram_avg.ndjson", base)["aggregations"]["3"]["buckets"]
    assert [b["key"] for b in nested] == sorted({d["level"] for d in docs}, reverse=True)
    for b in nested:
        values = [d["n"] for d in docs if d["level"] == b["key"]]
        inner = [x for x in b["2"]["buckets"] if x["doc_count"]]
        assert sum(x["doc_count"] for x in inner) == len(values)
        assert max(x["4"]["value"] for x in inner) == max(values)


def test_grafana_backend_logs_query(loaded):
    port, base, docs = loaded
    with open(os.path.join(FIXTURES, "grafana_logs_backend.json")) as f:
        body = json.loads(fill(f.read(), base))
    answer = client(port).search(index=INDEX, body=body)
    assert len(answer["hits"]["hits"]) == 500
    assert answer["hits"]["total"]["value"] == len(docs)


def test_dashboards_discover(loaded):
    port, base, docs = loaded
    with open(os.path.join(FIXTURES, "dashboards_discover.json")) as f:
        body = json.loads(fill(f.read(), base))
    answer = client(port).search(index=INDEX, body=body)
    assert answer["hits"]["total"]["value"] == len(docs)
    buckets = answer["aggregations"]["2"]["buckets"]
    assert sum(b["doc_count"] for b in buckets) == len(docs)
    assert all(b["key"] % 30_000 == 0 and b["doc_count"] >= 1 for b in buckets)
    assert buckets[0]["key_as_string"][-6:] in ("+01:00", "+02:00")


def test_unsupported_aggregation_is_named(loaded):
    port, _, _ = loaded
    with pytest.raises(RequestError) as e:
        client(port).search(index=INDEX, body={"size": 0, "aggs": {"m": {"moving_avg": {"buckets_path": "x"}}}})
    assert "moving_avg" in str(e.value)


def test_contexts_expire(server):
    es = client(server)
    bulk(server, [{"@timestamp": iso(now_ms() - 1000), "log": "expiring"}], index="expiring")
    pit = es.transport.perform_request("POST", "/expiring/_search/point_in_time", params={"keep_alive": "1s"})["pit_id"]
    page = es.search(index="expiring", body={"query": {"match_all": {}}}, scroll="1s", size=1)
    assert page["hits"]["hits"] and page["_scroll_id"]
    time.sleep(3)
    with pytest.raises(NotFoundError) as e:
        es.search(body={"pit": {"id": pit}})
    assert "search_context_missing_exception" in str(e.value)
    with pytest.raises(NotFoundError):
        es.scroll(body={"scroll_id": page["_scroll_id"], "scroll": "1m"})
