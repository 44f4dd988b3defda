import Foundation
import LogStore
import Testing
import TestSupport

/// `ids` queries and `term`/`terms` on `_id` over a real server: documents in two indices, some
/// with client `_id`s (one shared by both indices, some replaced by `index`), the rest with
/// generated ones; random id sets (known, unknown, the generated id of a line that has a client
/// id) alone and inside `bool` with a field test must give the hits and `hits.total` that a
/// brute-force evaluation over the current documents gives.
@Suite("ids queries against a brute-force model")
struct IDQueryPropertyTests {
    struct Doc {
        var index: String
        var id: String?
        var message: String
        var level: String
    }

    static func line(_ d: Doc, time: Int) -> String {
        String(format: #"{"@timestamp":"2024-09-24T10:%02d:%02d.000Z","message":"%@","level":"%@"}"#, time / 60 % 60, time % 60, d.message, d.level)
    }

    @Test func randomIDQueriesMatchTheModel() async throws {
        var storageOptions = StorageOptions()
        storageOptions.sealLines = 16
        let server = try await TestServer.start(storageOptions: storageOptions)
        let client = try RawClient(port: server.port)
        var r = SeededRandom(seed: 0x1D5_0F_1D5)
        let levels = ["INFO", "WARN", "ERROR"]
        var docs: [Doc] = []
        for i in 0..<160 {
            let index = i % 2 == 0 ? "ida" : "idb"
            let id: String? = Int.random(in: 0..<2, using: &r) == 0 ? "c-\(i / 2)" : nil
            docs.append(Doc(index: index, id: id, message: "doc-\(i)", level: levels[Int.random(in: 0..<3, using: &r)]))
        }
        var body = ""
        for (i, d) in docs.enumerated() {
            let meta = d.id.map { #"{"create":{"_index":"\#(d.index)","_id":"\#($0)"}}"# } ?? #"{"create":{"_index":"\#(d.index)"}}"#
            body += meta + "\n" + Self.line(d, time: i) + "\n"
        }
        var response = try await client.exchange(
            request("POST", "/_bulk", headers: [("Content-Type", "application/x-ndjson")], body: Array(body.utf8)))
        #expect(response.status == 200 && response.json?["errors"] as? Bool == false, "\(response.text)")
        // Replace some client-id documents: the new content answers to the id, the old is gone.
        body = ""
        for k in docs.indices where docs[k].id != nil && Int.random(in: 0..<4, using: &r) == 0 {
            docs[k].message = "re-\(k)"
            docs[k].level = levels[Int.random(in: 0..<3, using: &r)]
            body += #"{"index":{"_index":"\#(docs[k].index)","_id":"\#(docs[k].id!)"}}"# + "\n" + Self.line(docs[k], time: k) + "\n"
        }
        response = try await client.exchange(
            request("POST", "/_bulk", headers: [("Content-Type", "application/x-ndjson")], body: Array(body.utf8)))
        #expect(response.status == 200 && response.json?["errors"] as? Bool == false, "\(response.text)")

        // Learn the generated ids from the hits.
        response = try await DocumentFieldsTests.search(client, "/id*/_search", #"{"size":1000,"sort":["@timestamp"]}"#)
        var generated: [String: Int] = [:]
        let byMessage = Dictionary(uniqueKeysWithValues: docs.indices.map { (docs[$0].message, $0) })
        for hit in OpenSearchTests.hits(response.json ?? [:]) {
            let message = (hit["_source"] as? [String: Any])?["message"] as? String ?? ""
            guard let k = byMessage[message], let id = hit["_id"] as? String else {
                Issue.record("unknown hit \(hit)")
                continue
            }
            if let own = docs[k].id { #expect(id == own) } else { generated[id] = k }
        }
        #expect(generated.count == docs.filter { $0.id == nil }.count)
        // Generated ids of neighbouring LSNs: lines with a client id must not answer to them.
        var neighbours: [String] = []
        for id in generated.keys {
            guard let lsn = GeneratedID.lsn(id) else { continue }
            for n in [lsn - 1, lsn + 1] where generated[GeneratedID.string(n)] == nil { neighbours.append(GeneratedID.string(n)) }
        }
        #expect(!neighbours.isEmpty)
        let clientIDs = Array(Set(docs.compactMap(\.id))).sorted()
        let generatedIDs = generated.keys.sorted()

        func pick() -> [String] {
            (0..<Int.random(in: 0...6, using: &r)).map { _ in
                switch Int.random(in: 0..<5, using: &r) {
                case 0, 1: return clientIDs.randomElement(using: &r)!
                case 2: return generatedIDs.randomElement(using: &r)!
                case 3: return neighbours.randomElement(using: &r)!
                default: return "unknown-\(Int.random(in: 0..<9, using: &r))"
                }
            }
        }
        func idClause(_ ids: [String]) -> [String: Any] {
            switch Int.random(in: 0..<3, using: &r) {
            case 0: return ["ids": ["values": ids]]
            case 1 where ids.count == 1: return ["term": ["_id": ids[0]]]
            default: return ["terms": ["_id": ids]]
            }
        }
        func idOf(_ k: Int) -> String? { docs[k].id ?? generated.first { $0.value == k }?.key }
        let ids = docs.indices.map(idOf)
        var selective = 0
        for round in 0..<300 {
            let a = pick()
            let b = pick()
            let level = levels[Int.random(in: 0..<3, using: &r)]
            let index = ["id*", "ida", "idb"][Int.random(in: 0..<3, using: &r)]
            let query: [String: Any]
            let model: (Int) -> Bool
            switch Int.random(in: 0..<4, using: &r) {
            case 0:
                query = idClause(a)
                model = { ids[$0].map(a.contains) ?? false }
            case 1:
                query = ["bool": ["must": [idClause(a)], "must_not": [idClause(b)]]]
                model = { (ids[$0].map(a.contains) ?? false) && !(ids[$0].map(b.contains) ?? false) }
            case 2:
                query = ["bool": ["filter": [idClause(a), ["term": ["level": level]]]]]
                model = { (ids[$0].map(a.contains) ?? false) && docs[$0].level == level }
            default:
                query = ["bool": ["should": [idClause(a), ["term": ["level": level]]], "must_not": [idClause(b)]]]
                model = { ((ids[$0].map(a.contains) ?? false) || docs[$0].level == level) && !(ids[$0].map(b.contains) ?? false) }
            }
            let request: [String: Any] = ["query": query, "size": 1000, "sort": ["@timestamp"], "track_total_hits": true]
            let text = String(decoding: try JSONSerialization.data(withJSONObject: request), as: UTF8.self)
            let response = try await DocumentFieldsTests.search(client, "/\(index)/_search", text)
            guard response.status == 200 else {
                Issue.record("round \(round): \(text) → \(response.status) \(response.text)")
                continue
            }
            // Log order: by time, then by LSN; the time of line k is k (a replacement keeps it).
            let expected = docs.indices.filter { (index == "id*" || docs[$0].index == index) && model($0) }
            let got = OpenSearchTests.hits(response.json ?? [:]).map { (($0["_source"] as? [String: Any])?["message"] as? String ?? "", $0["_id"] as? String) }
            #expect(got.map(\.0) == expected.map { docs[$0].message }, "round \(round): \(text)")
            #expect(got.map(\.1) == expected.map { ids[$0] }, "round \(round): \(text)")
            #expect(OpenSearchTests.total(response.json ?? [:]) == expected.count, "round \(round): \(text)")
            if !expected.isEmpty && expected.count < docs.count / 2 { selective += 1 }
            if round % 10 == 0 {
                let count = try await DocumentFieldsTests.search(
                    client, "/\(index)/_count", String(decoding: try JSONSerialization.data(withJSONObject: ["query": query]), as: UTF8.self))
                #expect(count.json?["count"] as? Int == expected.count, "round \(round): _count \(text)")
            }
        }
        #expect(selective > 100, "\(selective) of 300 rounds had a selective answer")
        // Where an LSN set cannot be evaluated, `_id` is refused, not answered wrong.
        response = try await DocumentFieldsTests.search(
            client, "/id*/_search", #"{"size":0,"aggs":{"f":{"filter":{"ids":{"values":["c-1"]}}}}}"#)
        #expect(response.status == 400, "\(response.text)")
        response = try await DocumentFieldsTests.search(client, "/id*/_search", #"{"query":{"ids":{"values":"c-1"}}}"#)
        #expect(response.status == 400, "\(response.text)")
        await server.stop()
    }
}
