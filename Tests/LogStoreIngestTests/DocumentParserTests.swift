import LogStore
import LogStoreIngest
import Testing

func parse(
    _ text: String, parser: DocumentParser = DocumentParser(), arrival: Int64 = 42
) throws(IngestError) -> IncomingLine {
    try parser.parse(Array(text.utf8), index: "idx", arrivalTime: arrival)
}

func parseError(_ bytes: [UInt8], parser: DocumentParser = DocumentParser()) -> IngestError? {
    do {
        _ = try parser.parse(bytes, index: "idx", arrivalTime: 0)
        return nil
    } catch {
        return error
    }
}

@Suite struct DocumentParserTests {
    @Test func reanaJobDocument() throws {
        let d = try parse(
            #"{"@timestamp":"2024-09-24T11:49:58.253Z","log":"0 Hello Jane Doe!\n","kubernetes.labels.job-name":"reana-run-job-a0","kubernetes.labels.user-uuid":"0000"}"#
        )
        #expect(d.index == "idx")
        #expect(d.job == "reana-run-job-a0")
        #expect(d.workflow == "")
        #expect(d.timestamp == 1_727_178_598_253_000_000)
        #expect(d.messageString == "0 Hello Jane Doe!\n")
        #expect(
            d.otherFields == #"{"kubernetes.labels.job-name":"reana-run-job-a0","kubernetes.labels.user-uuid":"0000"}"#
        )
        #expect(d.id == nil)
    }

    @Test func nestedLabelsGiveJobAndWorkflow() throws {
        let d = try parse(
            #"{"log":"x","kubernetes":{"labels":{"job-name":"j1","reana-run-job-workflow-uuid":"w1"},"namespace_name":"ns"}}"#
        )
        #expect(d.job == "j1")
        #expect(d.workflow == "w1")
        #expect(d.timestamp == 42)  // arrival time
        #expect(
            d.otherFields
                == #"{"kubernetes":{"labels":{"job-name":"j1","reana-run-job-workflow-uuid":"w1"},"namespace_name":"ns"}}"#
        )
        let batch = try parse(#"{"log":"x","kubernetes.labels.reana-run-batch-workflow-uuid":"wf"}"#)
        #expect(batch.workflow == "wf")
        #expect(batch.job == "")
        let plain = try parse(#"{"message":"m","job":"j","workflow":"w"}"#)
        #expect(plain.job == "j")
        #expect(plain.workflow == "w")
        #expect(plain.messageString == "m")
        #expect(plain.otherFields == #"{"job":"j","workflow":"w"}"#)
    }

    @Test func kubernetesFallback() throws {
        let d = try parse(#"{"log":"x","kubernetes":{"pod_name":"p","namespace_name":"ns","container_name":"c"}}"#)
        #expect(d.workflow == "ns")
        #expect(d.job == "p/c")
        let noContainer = try parse(#"{"log":"x","kubernetes":{"pod_name":"p","namespace_name":"ns"}}"#)
        #expect(noContainer.job == "p")
        // A job found means no fallback.
        let withJob = try parse(#"{"job":"j","kubernetes":{"pod_name":"p","namespace_name":"ns"}}"#)
        #expect(withJob.job == "j")
        #expect(withJob.workflow == "")
        var mapping = FieldMapping.reana
        mapping.kubernetes = nil
        let off = try parse(
            #"{"log":"x","kubernetes":{"pod_name":"p","namespace_name":"ns"}}"#,
            parser: DocumentParser(mapping: mapping))
        #expect(off.job == "" && off.workflow == "")
    }

    @Test func messageVariants() throws {
        #expect(try parse(#"{"msg":"a"}"#).messageString == "a")
        #expect(try parse(#"{"msg":"b","log":"a"}"#).messageString == "a")  // priority order, not document order
        #expect(try parse(#"{"msg":"b","log":"a"}"#).otherFields == #"{"msg":"b"}"#)
        #expect(try parse(#"{"log":{"a":[1, 2]}}"#).messageString == #"{"a":[1, 2]}"#)
        #expect(try parse(#"{"log":12.5}"#).messageString == "12.5")
        #expect(try parse(#"{"log":null,"msg":"m"}"#).messageString == "m")
        let none = try parse(#"{"stream":"stdout"}"#)
        #expect(none.message.isEmpty)
        #expect(none.otherFields == #"{"stream":"stdout"}"#)
        let only = try parse(#"{"log":"x","@timestamp":"2020-01-01T00:00:00Z"}"#)
        #expect(only.otherFields == "{}")
        #expect(try parse("{}").otherFields == "{}")
    }

    /// Members at message and timestamp paths that are not used stay in the fields, in place
    /// (the scanner leaves them out and puts them back), also next to each other.
    @Test func unusedCandidatesKeepTheirPlace() throws {
        let d = try parse(#"{"a":1,"log":null,"message":"m","time":"bad","date":"2024-05-01T12:00:00Z","z":2}"#)
        #expect(d.messageString == "m")
        #expect(d.timestamp == 1_714_564_800_000_000_000)
        #expect(d.otherFields == #"{"a":1,"log":null,"time":"bad","z":2}"#)
        let adjacent = try parse(#"{ "msg" : "b" , "short_message":"c","log":"a","time" :"x","@timestamp":"2024-05-01T12:00:00Z"}"#)
        #expect(adjacent.otherFields == #"{"msg":"b","short_message":"c","time":"x"}"#)
        let first = try parse(#"{"log":null,"time":"x","date":"y","timestamp":5}"#)
        #expect(first.otherFields == #"{"log":null,"time":"x","date":"y"}"#)
    }

    @Test func timestampVariants() throws {
        let t = try parse(#"{"time":"2024-05-01T12:00:00.123456789Z","date":1714564800.5,"log":"x"}"#)
        #expect(t.timestamp == 1_714_564_800_500_000_000)  // date has priority over time
        #expect(t.otherFields == #"{"time":"2024-05-01T12:00:00.123456789Z"}"#)
        // An unparsable candidate is skipped and kept in fields; the next one is used.
        let skip = try parse(#"{"@timestamp":"soon","time":"2024-05-01T12:00:00Z"}"#)
        #expect(skip.timestamp == 1_714_564_800_000_000_000)
        #expect(skip.otherFields == #"{"@timestamp":"soon"}"#)
        #expect(parseError(Array(#"{"@timestamp":"soon","log":"x"}"#.utf8)) == .badTimestamp(#""soon""#))
        #expect(try parse(#"{"timestamp":1714564800123}"#).timestamp == 1_714_564_800_123_000_000)
        #expect(try parse(#"{"@timestamp":"2024-05-01T12:00:00\u002e5Z"}"#).timestamp == 1_714_564_800_500_000_000)
    }

    @Test func rejectsNonObjectsAndGarbage() {
        #expect(parseError(Array("[1]".utf8)) == .notAnObject)
        #expect(parseError(Array("\"x\"".utf8)) == .notAnObject)
        #expect(
            parseError(Array(#"{"log":"x"} {"#.utf8))
                == .malformedJSON(offset: 12, reason: "unexpected data after the document"))
        if case .malformedJSON = parseError(Array(#"{"log":"x""#.utf8)) {} else { Issue.record("truncated") }
        #expect(parseError(Array(#"{"log":"caf"#.utf8) + [0xE9] + Array(#""}"#.utf8)) == .invalidUTF8(offset: 11))
    }

    @Test func messageLengthLimit() throws {
        let big = String(repeating: "a", count: 2 << 20)
        let e = parseError(Array(("{\"log\":\"" + big + "\"}").utf8))
        #expect(e == .lineTooLong(limit: 1 << 20))
        #expect(e?.description.contains("1048576") == true)
        // Escaped and non-string messages are measured after decoding / as text.
        let escaped = String(repeating: "\\n", count: (1 << 20) / 2 + 10)
        #expect(parseError(Array(("{\"log\":\"" + escaped + "\"}").utf8)) == nil)
        let small = DocumentParser(maxMessageBytes: 4)
        #expect(parseError(Array(#"{"log":"abcd"}"#.utf8), parser: small) == nil)
        #expect(parseError(Array(#"{"log":"abcde"}"#.utf8), parser: small) == .lineTooLong(limit: 4))
        #expect(parseError(Array(#"{"log":[1,2,3]}"#.utf8), parser: small) == .lineTooLong(limit: 4))
    }

    @Test func customMapping() throws {
        let mapping = try FieldMapping(
            config: "message=text;timestamp=ts;job=meta.job;workflow=meta.run;kubernetes=off")
        let parser = DocumentParser(mapping: mapping)
        let d = try parse(
            #"{"ts":"2024-05-01T12:00:00Z","text":"hello","meta":{"job":"j","run":"r"},"log":"kept"}"#, parser: parser)
        #expect(d.messageString == "hello")
        #expect(d.job == "j" && d.workflow == "r")
        #expect(d.timestamp == 1_714_564_800_000_000_000)
        #expect(d.otherFields == #"{"meta":{"job":"j","run":"r"},"log":"kept"}"#)
    }

    @Test func fieldsKeepRawBytes() throws {
        let d = try parse(#"{ "log" : "x" , "a" : { "b" : [ 1 , 2 ] } , "c\u00e9" : "\u00e9" }"#)
        #expect(d.otherFields == #"{"a":{ "b" : [ 1 , 2 ] },"c\u00e9":"\u00e9"}"#)
        let object = Fixtures.jsonObject(d.fields)
        #expect(object?["cé"] as? String == "é")
    }
}
