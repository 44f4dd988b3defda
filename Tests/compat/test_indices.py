"""Client `_id`s, `GET _doc`, index management, `_cat` and `_cluster` through the real opensearch-py.

Run: LOGSTORE_BIN=.build/debug/logstore python -m pytest -q Tests/compat/test_indices.py
"""

import uuid

import pytest
from opensearchpy import OpenSearch, helpers
from opensearchpy.exceptions import ConflictError, NotFoundError

from logstore_server import running_server


@pytest.fixture(scope="module")
def client():
    with running_server("logstore-indices-") as (port, _):
        yield OpenSearch(hosts=[f"127.0.0.1:{port}"], use_ssl=False, timeout=30)


def name(prefix="idx"):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def doc(text, ts="2024-09-24T11:49:58.253Z"):
    return {"@timestamp": ts, "log": text, "kubernetes": {"labels": {"job-name": "j"}}}


def test_client_id_kept_and_get_doc(client):
    index = name()
    created = client.index(index=index, id="ls-1", body=doc("hello one"), op_type="create")
    assert created["_id"] == "ls-1" and created["result"] == "created"
    hits = client.search(index=index, body={"query": {"match": {"log": "hello"}}})["hits"]["hits"]
    assert [h["_id"] for h in hits] == ["ls-1"]
    got = client.get(index=index, id="ls-1")
    assert got["found"] is True and got["_id"] == "ls-1" and got["_source"]["log"] == "hello one"
    assert client.exists(index=index, id="ls-1")
    assert not client.exists(index=index, id="missing")
    with pytest.raises(NotFoundError):
        client.get(index=index, id="missing")


def test_create_of_existing_id_is_409(client):
    index = name()
    client.index(index=index, id="a", body=doc("first"), op_type="create")
    with pytest.raises(ConflictError) as raised:
        client.index(index=index, id="a", body=doc("second"), op_type="create")
    assert raised.value.error == "version_conflict_engine_exception"
    ok, errors = helpers.bulk(client, [{"_op_type": "create", "_index": index, "_id": "a", "_source": doc("third")},
                                       {"_op_type": "create", "_index": index, "_id": "b", "_source": doc("b")}],
                              raise_on_error=False)
    assert ok == 1 and errors[0]["create"]["status"] == 409
    assert client.count(index=index)["count"] == 2
    assert client.get(index=index, id="a")["_source"]["log"] == "first"


def test_index_replaces_at_once(client):
    index = name()
    client.index(index=index, id="r", body=doc("old words"))
    answer = client.index(index=index, id="r", body=doc("new words"))
    assert answer["result"] == "updated"
    assert client.get(index=index, id="r")["_source"]["log"] == "new words"
    assert client.search(index=index, body={"query": {"match": {"log": "old"}}})["hits"]["total"]["value"] == 0
    hits = client.search(index=index, body={"query": {"match": {"log": "words"}}})["hits"]["hits"]
    assert [(h["_id"], h["_source"]["log"]) for h in hits] == [("r", "new words")]
    assert client.count(index=index)["count"] == 1


def test_cat_indices_and_delete(client):
    a, b = name("cat"), name("cat")
    helpers.bulk(client, [{"_index": a, "_source": doc(f"a {i}")} for i in range(3)] + [{"_index": b, "_source": doc("b")}])
    rows = {r["index"]: r for r in client.cat.indices(format="json")}
    assert rows[a]["docs.count"] == "3" and rows[b]["docs.count"] == "1" and rows[a]["health"] == "green"
    text = client.cat.indices(index=a, v=True, h="index,docs.count")
    assert text.split() == ["index", "docs.count", a, "3"]
    assert client.indices.exists(index=a)
    assert client.indices.delete(index=a)["acknowledged"] is True
    assert not client.indices.exists(index=a)
    with pytest.raises(NotFoundError):
        client.search(index=a)
    with pytest.raises(NotFoundError):
        client.indices.delete(index=a)
    assert client.count(index=b)["count"] == 1
    # The index starts afresh.
    client.index(index=a, body=doc("again"), params={"refresh": "true"})
    assert client.count(index=a)["count"] == 1


def test_create_index_and_health(client):
    index = name("made")
    assert client.indices.create(index=index)["acknowledged"] is True
    assert client.indices.exists(index=index)
    health = client.cluster.health()
    assert health["status"] == "green" and health["number_of_nodes"] == 1
    assert client.cluster.health(index=index)["active_primary_shards"] == 1
    assert client.cat.health(format="json")[0]["status"] == "green"
