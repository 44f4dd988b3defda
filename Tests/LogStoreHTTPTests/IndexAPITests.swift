import Foundation
import LogStore
import Testing

/// `_id`s, `_doc`, index management, `_cat` and `_cluster` over a real server.
@Suite("Index and document API")
struct IndexAPITests {
    func send(_ client: RawClient, _ method: String, _ path: String, _ body: String = "") async throws -> RawResponse {
        let headers: [(String, String)] = body.isEmpty ? [] : [("Content-Type", "application/x-ndjson")]
        return try await client.exchange(request(method, path, headers: headers, body: Array(body.utf8)))
    }

    func bulk(_ lines: [String]) -> String { lines.joined(separator: "\n") + "\n" }

    @Test func clientIDsConflictsReplacementAndGetDoc() async throws {
        let server = try await TestServer.start()
        let client = try RawClient(port: server.port)
        let doc = { (m: String) in #"{"@timestamp":"2024-09-24T11:49:58.253Z","log":"\#(m)","job":"j"}"# }
        var r = try await send(client, "POST", "/_bulk", bulk([#"{"create":{"_index":"docs","_id":"ls-1"}}"#, doc("first"), #"{"index":{"_index":"docs"}}"#, doc("plain")]))
        #expect(r.status == 200 && r.json?["errors"] as? Bool == false)
        let item = (r.json?["items"] as? [[String: [String: Any]]])?.first?["create"]
        #expect(item?["_id"] as? String == "ls-1" && item?["status"] as? Int == 201 && item?["result"] as? String == "created")
        // Hits carry the client's `_id`.
        r = try await send(client, "GET", "/docs/_search?q=first")
        let hit = ((r.json?["hits"] as? [String: Any])?["hits"] as? [[String: Any]])?.first
        #expect(hit?["_id"] as? String == "ls-1")
        // create again: 409 with OpenSearch's error type; index: replaced, visible at once.
        r = try await send(client, "POST", "/_bulk", bulk([#"{"create":{"_index":"docs","_id":"ls-1"}}"#, doc("again")]))
        let conflict = (r.json?["items"] as? [[String: [String: Any]]])?.first?["create"]
        #expect(r.json?["errors"] as? Bool == true && conflict?["status"] as? Int == 409)
        #expect((conflict?["error"] as? [String: Any])?["type"] as? String == "version_conflict_engine_exception")
        r = try await send(client, "POST", "/_bulk", bulk([#"{"index":{"_index":"docs","_id":"ls-1"}}"#, doc("second")]))
        let updated = (r.json?["items"] as? [[String: [String: Any]]])?.first?["index"]
        #expect(updated?["status"] as? Int == 200 && updated?["result"] as? String == "updated")
        r = try await send(client, "GET", "/docs/_doc/ls-1")
        #expect(r.status == 200 && r.json?["found"] as? Bool == true)
        #expect((r.json?["_source"] as? [String: Any])?["log"] as? String == "second")
        r = try await send(client, "GET", "/docs/_search?q=first")
        #expect(((r.json?["hits"] as? [String: Any])?["total"] as? [String: Any])?["value"] as? Int == 0)
        r = try await send(client, "GET", "/docs/_count")
        #expect(r.json?["count"] as? Int == 2)
        // Not found shapes.
        r = try await send(client, "GET", "/docs/_doc/nope")
        #expect(r.status == 404 && r.json?["found"] as? Bool == false && r.json?["_id"] as? String == "nope")
        r = try await send(client, "HEAD", "/docs/_doc/ls-1")
        #expect(r.status == 200)
        // One document without an id: a generated one, found again.
        r = try await send(client, "POST", "/docs/_doc", doc("generated"))
        let generated = try #require(r.json?["_id"] as? String)
        #expect(r.status == 201 && generated.count == GeneratedID.count && generated != "1")
        r = try await send(client, "GET", "/docs/_doc/\(generated)")
        #expect((r.json?["_source"] as? [String: Any])?["log"] as? String == "generated")
        r = try await send(client, "GET", "/docs/_search?q=generated")
        #expect((((r.json?["hits"] as? [String: Any])?["hits"] as? [[String: Any]])?.first?["_id"] as? String) == generated)
        r = try await send(client, "DELETE", "/docs/_doc/ls-1")
        #expect(r.status == 400)
        r = try await send(client, "GET", "/nosuch/_doc/ls-1")
        #expect(r.status == 404 && (r.json?["error"] as? [String: Any])?["type"] as? String == "index_not_found_exception")
        await server.stop()
    }

    @Test func indexManagementCatAndHealth() async throws {
        let server = try await TestServer.start()
        let client = try RawClient(port: server.port)
        var r = try await send(client, "PUT", "/made")
        #expect(r.status == 200 && r.json?["acknowledged"] as? Bool == true && r.json?["index"] as? String == "made")
        r = try await send(client, "PUT", "/made")
        #expect(r.status == 400 && (r.json?["error"] as? [String: Any])?["type"] as? String == "resource_already_exists_exception")
        r = try await send(client, "HEAD", "/made")
        #expect(r.status == 200)
        let doc = #"{"@timestamp":"2024-09-24T11:49:58.253Z","log":"x","job":"j"}"#
        r = try await send(client, "POST", "/_bulk", bulk([#"{"create":{"_index":"logs-a"}}"#, doc, #"{"create":{"_index":"logs-b"}}"#, doc, #"{"create":{"_index":"logs-b"}}"#, doc]))
        #expect(r.status == 200)
        r = try await send(client, "GET", "/_cat/indices?format=json&s=index")
        let rows = (try? JSONSerialization.jsonObject(with: Data(r.body))) as? [[String: String]]
        #expect(rows?.map { $0["index"] ?? "" } == ["logs-a", "logs-b", "made"])
        #expect(rows?.map { $0["docs.count"] ?? "" } == ["1", "2", "0"])
        #expect(rows?.allSatisfy { $0["health"] == "green" } == true)
        r = try await send(client, "GET", "/_cat/indices?v&h=index,docs.count&s=docs.count:desc")
        #expect(r.text.split(separator: "\n").map { $0.split(separator: " ").map(String.init) } == [["index", "docs.count"], ["logs-b", "2"], ["logs-a", "1"], ["made", "0"]])
        r = try await send(client, "GET", "/_cat/indices?h=nope")
        #expect(r.status == 400)
        r = try await send(client, "GET", "/_cluster/health")
        #expect(r.json?["status"] as? String == "green" && r.json?["active_primary_shards"] as? Int == 3)
        r = try await send(client, "GET", "/_cluster/health/logs-*")
        #expect(r.json?["active_shards"] as? Int == 2)
        r = try await send(client, "GET", "/_cat/health?format=json")
        #expect(((try? JSONSerialization.jsonObject(with: Data(r.body))) as? [[String: String]])?.first?["status"] == "green")
        // DELETE: a pattern, hidden at once; a missing concrete name is a 404.
        r = try await send(client, "DELETE", "/logs-*")
        #expect(r.status == 200 && r.json?["acknowledged"] as? Bool == true)
        r = try await send(client, "GET", "/logs-b/_search")
        #expect(r.status == 404)
        r = try await send(client, "GET", "/_count")
        #expect(r.json?["count"] as? Int == 0)
        r = try await send(client, "DELETE", "/logs-a")
        #expect(r.status == 404 && (r.json?["error"] as? [String: Any])?["type"] as? String == "index_not_found_exception")
        r = try await send(client, "DELETE", "/made")
        #expect(r.status == 200)
        r = try await send(client, "HEAD", "/made")
        #expect(r.status == 404)
        // The bulk route is not taken for an index named `_bulk`.
        r = try await send(client, "PUT", "/_bulk", bulk([#"{"create":{"_index":"after"}}"#, doc]))
        #expect(r.status == 200 && r.json?["errors"] as? Bool == false)
        await server.stop()
    }
}
