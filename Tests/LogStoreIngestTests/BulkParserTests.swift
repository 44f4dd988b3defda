import LogStore
import LogStoreIngest
import Testing

func bulk(_ text: String, defaultIndex: String? = "dflt") -> [BulkItem] {
    BulkParser().parse(Array(text.utf8), defaultIndex: defaultIndex, arrivalTime: 7)
}

extension BulkItem {
    var document: IncomingLine? { try? result.get() }
    var error: IngestError? {
        if case .failure(let e) = result { return e }
        return nil
    }
}

@Suite struct BulkParserTests {
    @Test func operationsAndIndexes() {
        let items = bulk(
            """
            {"create":{"_index":"a","_type":"_doc","_id":"x1"}}
            {"log":"one"}
            {"index":{}}
            {"log":"two"}
            {"update":{"_index":"a","_id":"x1"}}
            {"doc":{"log":"changed"}}
            {"delete":{"_index":"a","_id":"x1"}}
            {"create":{"_index":"b"}}
            {"log":"three"}
            """)
        #expect(items.map(\.op) == [.create, .index, .update, .delete, .create])
        #expect(items[0].document?.index == "a")
        #expect(items[0].document?.id == "x1")
        #expect(items[0].line == 2)
        #expect(items[1].document?.index == "dflt")
        #expect(items[1].document?.messageString == "two")
        #expect(items[2].error == .unsupportedOperation("update"))
        #expect(items[2].error?.description == "update is not supported")
        #expect(items[3].error == .unsupportedOperation("delete"))
        #expect(items[4].document?.index == "b")
        #expect(items[4].document?.messageString == "three")
        #expect(items[4].line == 9)
    }

    @Test func blankLinesCRLFAndNoFinalNewline() {
        let text =
            "\r\n{\"create\":{\"_index\":\"a\"}}\r\n\r\n  \n{\"log\":\"x\"}\r\n\n{\"create\":{}}\r\n{\"log\":\"y\"}"
        let items = bulk(text)
        #expect(items.count == 2)
        #expect(items.compactMap(\.document).map(\.messageString) == ["x", "y"])
        #expect(items[0].line == 5)
        #expect(bulk("").isEmpty)
        #expect(bulk("\n\n").isEmpty)
    }

    @Test func oneBadDocumentDoesNotSpoilTheRest() {
        let items = bulk(
            """
            {"create":{}}
            {"log":"ok1"}
            {"create":{}}
            {"log":"broken
            {"create":{}}
            [1,2]
            {"create":{}}
            {"log":"ok2"}
            """)
        #expect(items.count == 4)
        #expect(items[0].document?.messageString == "ok1")
        if case .malformedJSON = items[1].error {
        } else {
            Issue.record("expected malformedJSON, got \(items[1].result)")
        }
        #expect(items[1].line == 4)
        #expect(items[2].error == .notAnObject)
        #expect(items[3].document?.messageString == "ok2")
    }

    @Test func malformedActionSkipsItsDocument() {
        let items = bulk(
            """
            {"create":{"_index":"a"}
            {"log":"lost"}
            {"frobnicate":{}}
            {"log":"lost too"}
            {"create":"a"}
            {"log":"lost three"}
            {"create":{},"index":{}}
            {"log":"lost four"}
            {"create":{"_index":5}}
            {"log":"lost five"}
            {"create":{}}
            {"log":"kept"}
            {"create":{}}
            """)
        #expect(items.count == 7)
        for item in items[0..<5] {
            if case .badAction = item.error {} else { Issue.record("expected badAction, got \(item.result)") }
        }
        #expect(items[1].error == .badAction("unknown operation \"frobnicate\""))
        #expect(items[5].document?.messageString == "kept")
        #expect(items[6].error == .badAction("create action has no document line"))
    }

    @Test func missingIndex() {
        let items = bulk("{\"create\":{}}\n{\"log\":\"x\"}\n", defaultIndex: nil)
        if case .badAction = items.first?.error {} else { Issue.record("expected badAction") }
    }

    @Test func arrivalTimeAndIds() {
        let items = bulk("{\"index\":{\"_id\":123}}\n{\"log\":\"x\"}\n")
        #expect(items.first?.document?.timestamp == 7)
        #expect(items.first?.document?.id == "123")
    }
}
