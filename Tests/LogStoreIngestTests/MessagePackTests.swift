import LogStore
import LogStoreIngest
import Testing

@Suite struct MessagePackTests {
    func parse(_ bytes: [UInt8]) -> [Result<IncomingLine, IngestError>] {
        LineFormatParser().parse(bytes, format: .msgpack, index: "m", arrivalTime: 99)
    }

    func str(_ s: String) -> [UInt8] {
        let u = Array(s.utf8)
        precondition(u.count < 32)
        return [0xA0 | UInt8(u.count)] + u
    }

    @Test func legacyAndModernEvents() throws {
        // [EventTime(1714564800, 5), {"log":"a\\"\n", "n":-3, "f":1.5, "b":true, "z":nil, "a":[1,"x"], 7:"seven"}]
        let eventTime: [UInt8] = [0xD7, 0x00, 0x66, 0x32, 0x2E, 0xC0, 0, 0, 0, 5]
        let record: [UInt8] =
            [0x87] + str("log") + str("a\"\n") + str("n") + [0xFD] + str("f") + [0xCB, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0]
            + str("b") + [0xC3] + str("z") + [0xC0] + str("a") + [0x92, 0x01] + str("x") + [0x07] + str("seven")
        let legacy = [0x92] + eventTime + record
        let modern = [0x92, 0x92] + eventTime + [0x80] + record
        let integerTime = [0x92, 0xCE, 0x66, 0x32, 0x2E, 0xC0] + record
        let results = parse(legacy + modern + integerTime)
        #expect(results.count == 3)
        for (k, r) in results.enumerated() {
            let d = try r.get()
            #expect(d.messageString == "a\"\n")
            #expect(d.timestamp == 1_714_564_800_000_000_000 + (k < 2 ? 5 : 0))
            #expect(d.otherFields == #"{"n":-3,"f":1.5,"b":true,"z":null,"a":[1,"x"],"7":"seven"}"#)
            #expect(Fixtures.jsonObject(d.fields) != nil)
        }
    }

    @Test func errors() {
        #expect(parse([]).isEmpty)
        if case .failure(.malformedMessagePack(0, _)) = parse([0xC1]).first {} else { Issue.record("bad type") }
        if case .failure(.malformedMessagePack) = parse([0x92, 0x01, 0x01]).first {
        } else {
            Issue.record("record not a map")
        }
        // invalid UTF-8 in a string
        let bad = [0x92, 0x01, 0x81] + str("log") + [0xA2, 0xC3, 0x28]
        if case .failure(.invalidUTF8) = parse(bad).first {} else { Issue.record("invalid UTF-8: \(parse(bad))") }
    }
}
