import LogStore
import LogStoreIngest
import Testing

func lines(_ text: String, _ format: LineFormat) -> [Result<IncomingLine, IngestError>] {
    LineFormatParser().parse(Array(text.utf8), format: format, index: "i", arrivalTime: 1)
}

extension Result where Success == IncomingLine, Failure == IngestError {
    var message: String? { (try? get())?.messageString }
    var failure: IngestError? {
        if case .failure(let e) = self { return e }
        return nil
    }
}

@Suite struct LineFormatTests {
    @Test func jsonArray() {
        #expect(lines(#"[{"log":"a"},{"log":"b"}]"#, .json).map(\.message) == ["a", "b"])
        #expect(lines(" [ ] ", .json).isEmpty)
        #expect(lines("", .json).isEmpty)
        #expect(lines(#" [ {"log":"a"} , 5 , {"log":"b"} ] "#, .json).map(\.message) == ["a", nil, "b"])
        #expect(lines(#"[{"log":"a"},5]"#, .json)[1].failure == .notAnObject)
        let broken = lines(#"[{"log":"a"},{"log":}]"#, .json)
        #expect(broken.count == 2)
        if case .malformedJSON(let offset, _) = broken[1].failure { #expect(offset == 20) } else { Issue.record("x") }
        #expect(lines(#"[{"log":"a"}"#, .json).last?.failure != nil)
        #expect(lines(#"[{"log":"a"}] x"#, .json).last?.failure != nil)
        #expect(lines(#"{"log":"a"}"#, .json).map(\.message) == ["a"])
    }

    @Test func jsonLines() {
        let r = lines("{\"log\":\"a\"}\r\n\n{\"log\":\n{\"log\":\"c\"}", .jsonLines)
        #expect(r.count == 3)
        #expect(r[0].message == "a")
        #expect(r[1].failure != nil)
        #expect(r[2].message == "c")
    }

    @Test func jsonStream() {
        #expect(lines(#"{"log":"a"}{"log":"b"} {"log":"c"}"#, .jsonStream).map(\.message) == ["a", "b", "c"])
        let r = lines(#"{"log":"a"}{"log":"b"]{"log":"c"}"#, .jsonStream)
        #expect(r.count == 2)
        #expect(r[1].failure != nil)
    }

    @Test func detect() {
        #expect(LineFormat.detect(Array(" [{}]".utf8)) == .json)
        #expect(LineFormat.detect(Array("{}\n{}\n".utf8)) == .jsonLines)
        #expect(LineFormat.detect(Array("{}{}".utf8)) == .jsonStream)
        #expect(LineFormat.detect(Array("{\"a\":\"}{\"}".utf8)) == .jsonLines)
    }
}
