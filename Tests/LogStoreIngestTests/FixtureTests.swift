import LogStore
import LogStoreIngest
import Testing

/// The requests captured from real FluentBit v5.1.1 and REANA shapes (see Tests/Fixtures).
@Suite struct FixtureTests {
    static let escapingLine = "unicode: café ✓ tab\there quote\" backslash\\\\ end\n"
    static let messages = [
        "GET /api/v1/users 200 12ms\n", "POST /api/v1/orders 201 48ms\n", "level=warn msg=\"slow query\" dur=1.2s\n",
        "GET /healthz 200 1ms\n", escapingLine,
    ]
    static let jobs = [
        "web-7d9f8b6c5-x2x9k/web", "web-7d9f8b6c5-x2x9k/web", "db-0/db", "web-7d9f8b6c5-q8w7e/web",
        "web-7d9f8b6c5-q8w7e/web",
    ]
    // 2024-05-01T12:00:00Z
    static let base: Int64 = 1_714_564_800_000_000_000

    func documents(_ items: [BulkItem]) throws -> [IncomingLine] {
        try items.map { try $0.result.get() }
    }

    /// Checks the five documents every FluentBit capture carries.
    func checkApp(_ docs: [IncomingLine], timestamps: [Int64], timeKey: String, index: String) {
        #expect(docs.count == 5)
        #expect(docs.map(\.messageString) == Self.messages)
        #expect(docs.map(\.job) == Self.jobs)
        #expect(docs.allSatisfy { $0.workflow == "shop" })
        #expect(docs.map(\.timestamp) == timestamps)
        #expect(docs.allSatisfy { $0.index == index })
        for d in docs {
            let object = Fixtures.jsonObject(d.fields)
            #expect(object != nil, "fields must be a JSON object: \(d.otherFields)")
            #expect(object?["log"] == nil)
            #expect(object?[timeKey] == nil)
            #expect(object?["stream"] as? String != nil)
            #expect(object?["cluster"] as? String == "demo-cluster")
            let kubernetes = object?["kubernetes"] as? [String: Any]
            #expect(kubernetes?["namespace_name"] as? String == "shop")
            #expect((kubernetes?["labels"] as? [String: Any])?["app"] != nil)
        }
        #expect(docs.map { Timestamp.formatRFC3339($0.timestamp) }.count == 5)
    }

    static let msTimestamps: [Int64] = [
        base + 123_000_000, base + 1_250_000_000, base + 2_000_000_000, base + 3_999_000_000, base + 4_500_000_000,
    ]

    @Test func esDefault() throws {
        let items = BulkParser().parse(
            try Fixtures.bytes("fluentbit/es_default.body.raw"), defaultIndex: nil, arrivalTime: 0)
        #expect(items.allSatisfy { $0.op == .create && $0.document?.id == nil })
        let docs = try documents(items)
        checkApp(docs, timestamps: Self.msTimestamps, timeKey: "@timestamp", index: "fluent-bit")
        // The `time` key is not the timestamp used, so it stays in fields.
        #expect(Fixtures.jsonObject(docs[0].fields)?["time"] as? String == "2024-05-01T12:00:00.123456789Z")
        #expect(docs[4].messageString == "unicode: café ✓ tab\there quote\" backslash\\\\ end\n")
        #expect(Array(docs[4].messageString.utf8).filter { $0 == 0x5C }.count == 2)
    }

    @Test func esGzip() throws {
        let raw = try Fixtures.bytes("fluentbit/es_gzip.body.raw")
        let decoded = try ContentDecoder.decode(raw, encoding: "gzip", maxOutput: 10 << 20)
        #expect(decoded == (try Fixtures.bytes("fluentbit/es_gzip.body.decoded")))
        let docs = try documents(BulkParser().parse(decoded, defaultIndex: nil, arrivalTime: 0))
        checkApp(docs, timestamps: Self.msTimestamps, timeKey: "@timestamp", index: "fluent-bit")
        #expect(throws: IngestError.tooLarge(limit: 1000)) {
            try ContentDecoder.decode(raw, encoding: "gzip", maxOutput: 1000)
        }
    }

    @Test func osSuppressTypeName() throws {
        let items = BulkParser().parse(
            try Fixtures.bytes("fluentbit/os_suppress_type_name.body.raw"), defaultIndex: nil, arrivalTime: 0)
        checkApp(try documents(items), timestamps: Self.msTimestamps, timeKey: "@timestamp", index: "fluent-bit")
    }

    @Test func esLogstashGenerateID() throws {
        let items = BulkParser().parse(
            try Fixtures.bytes("fluentbit/es_logstash_genid.body.raw"), defaultIndex: "ignored", arrivalTime: 0)
        let docs = try documents(items)
        #expect(docs.count == 5)
        #expect(docs.map(\.messageString) == Self.messages)
        #expect(docs.map(\.job) == Self.jobs)
        #expect(docs.allSatisfy { $0.index == "k8s-2024.05.01" })
        #expect(docs[0].id == "ebed6a84-eec9-dae6-1615-aebba2655cf3")
        #expect(docs[4].id == "ddc65cdc-542e-900e-0971-39cb620abeca")
        #expect(Set(docs.compactMap(\.id)).count == 5)
        #expect(
            docs.map(\.timestamp) == [
                Self.base + 123_456_789, Self.base + 1_250_000_000, Self.base + 2_000_001_000,
                Self.base + 3_999_999_999,
                Self.base + 4_500_000_000,
            ])
        #expect(Timestamp.formatRFC3339(docs[0].timestamp) == "2024-05-01T12:00:00.123456789Z")
        let fields = Fixtures.jsonObject(docs[0].fields)
        #expect(fields?["flb-key"] as? String == "kube.shop.web")
        #expect(fields?["@timestamp"] == nil && fields?["log"] == nil)
    }

    @Test func esDuplicateTimestamp() throws {
        let items = BulkParser().parse(
            try Fixtures.bytes("fluentbit/es_dup_timestamp.body.raw"), defaultIndex: nil, arrivalTime: 0)
        #expect(items.count == 1)
        #expect(items[0].op == .index)
        let d = try items[0].result.get()
        #expect(d.timestamp == 1_577_836_800_000_000_000)
        #expect(d.messageString == "record already has @timestamp")
        #expect(d.otherFields == #"{"k.with.dot":1}"#)
        #expect(d.job == "" && d.workflow == "")
    }

    static let floatTimestamps: [Int64] = [
        base + 123_457_000, base + 1_250_000_000, base + 2_000_001_000, base + 4_000_000_000, base + 4_500_000_000,
    ]

    func httpDocs(_ name: String, _ format: LineFormat) throws -> [IncomingLine] {
        let body = try Fixtures.bytes("fluentbit/\(name).body.raw")
        #expect(LineFormat.detect(body) == format)
        return try LineFormatParser().parse(body, format: format, index: "http", arrivalTime: 0).map { try $0.get() }
    }

    @Test func httpJSON() throws {
        checkApp(try httpDocs("http_json", .json), timestamps: Self.floatTimestamps, timeKey: "date", index: "http")
    }

    @Test func httpJSONLines() throws {
        checkApp(
            try httpDocs("http_json_lines", .jsonLines), timestamps: Self.floatTimestamps, timeKey: "date",
            index: "http")
    }

    @Test func httpJSONStream() throws {
        checkApp(
            try httpDocs("http_json_stream", .jsonStream), timestamps: Self.floatTimestamps, timeKey: "date",
            index: "http")
    }

    @Test func httpJSONLinesISO8601Gzip() throws {
        let raw = try Fixtures.bytes("fluentbit/http_json_lines_iso8601_gzip.body.raw")
        let body = try ContentDecoder.decode(raw, encoding: "gzip", maxOutput: 1 << 20)
        #expect(body == (try Fixtures.bytes("fluentbit/http_json_lines_iso8601_gzip.body.decoded")))
        let docs = try LineFormatParser().parse(body, format: .jsonLines, index: "http", arrivalTime: 0).map {
            try $0.get()
        }
        checkApp(
            docs,
            timestamps: [
                Self.base + 123_456_000, Self.base + 1_250_000_000, Self.base + 2_000_001_000,
                Self.base + 3_999_999_000,
                Self.base + 4_500_000_000,
            ], timeKey: "@timestamp", index: "http")
    }

    @Test func httpMsgpack() throws {
        let body = try Fixtures.bytes("fluentbit/http_msgpack.body.raw")
        #expect(LineFormat.detect(contentType: "application/msgpack", body: body) == .msgpack)
        let docs = try LineFormatParser().parse(body, format: .msgpack, index: "http", arrivalTime: 0).map {
            try $0.get()
        }
        // The record's own `time` key is a mapped timestamp, so it wins over the event time.
        checkApp(
            docs,
            timestamps: [
                Self.base + 123_456_789, Self.base + 1_250_000_000, Self.base + 2_000_001_000,
                Self.base + 3_999_999_999,
                Self.base + 4_500_000_000,
            ], timeKey: "time", index: "http")
        // Truncated input: the complete events survive, then one error.
        let cut = LineFormatParser().parse(
            Array(body.prefix(body.count - 10)), format: .msgpack, index: "h", arrivalTime: 0)
        #expect(cut.count == 5)
        #expect(cut.prefix(4).allSatisfy { (try? $0.get()) != nil })
        if case .failure(.malformedMessagePack) = cut[4] {} else { Issue.record("expected malformedMessagePack") }
    }

    @Test func reanaJobLog() throws {
        let items = BulkParser().parse(
            try Fixtures.bytes("reana/bulk_job_log.body.raw"), defaultIndex: nil, arrivalTime: 0)
        let docs = try documents(items)
        #expect(docs.count == 10)
        #expect(docs.allSatisfy { $0.index == "fluentbit-job_log" })
        #expect(docs.allSatisfy { $0.job == "reana-run-job-a02532f6-5bee-49e5-8939-866d79befb86" })
        #expect(docs.allSatisfy { $0.workflow == "" })  // REANA's job documents carry no workflow id
        #expect(Timestamp.formatRFC3339(docs[1].timestamp) == "2024-09-24T11:49:58.253Z")
        #expect(docs[1].messageString == "0 Hello Jane Doe!\n")
        #expect(docs[7].messageString == "Traceback (most recent call last):\n")
        #expect(docs[8].messageString == "  File \"/code/helloworld.py\", line 42, in <module>\n")
        #expect(docs[9].messageString == "MemoryError: unable to allocate 1.2 GiB café ✓\n")
        #expect(zip(docs, docs.dropFirst()).allSatisfy { $0.timestamp < $1.timestamp })
        for d in docs {
            let f = Fixtures.jsonObject(d.fields)
            #expect(f?.keys.sorted() == ["kubernetes.labels.job-name", "kubernetes.labels.user-uuid"])
        }
    }

    @Test func reanaWorkflowLog() throws {
        let items = BulkParser().parse(
            try Fixtures.bytes("reana/bulk_workflow_log.body.raw"), defaultIndex: nil, arrivalTime: 0)
        let docs = try documents(items)
        #expect(docs.count == 3)
        #expect(docs.allSatisfy { $0.index == "fluentbit-workflow_log" })
        #expect(docs.allSatisfy { $0.workflow == "0fdc9f92-0f93-44d1-a3ec-d884e3e5e58c" && $0.job == "" })
        #expect(docs[0].timestamp == 1_727_178_596_100_000_000)
        #expect(
            docs[0].messageString.hasPrefix("2024-09-24 11:49:56,979 | root | MainThread | INFO | Publishing step:0"))
    }
}
