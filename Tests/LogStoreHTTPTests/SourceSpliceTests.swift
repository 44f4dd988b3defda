import Testing

@testable import LogStoreHTTP

/// `_source` is built by splicing the stored fields object when it is safe to: these byte-level
/// checks run for every line of every `_search` answer.
@Suite("_source splicing")
struct SourceSpliceTests {
    @Test(arguments: [
        (#"{"kubernetes.labels.job-name":"reana-run-job-1","stream":"stdout"}"#, #""kubernetes.labels.job-name":"reana-run-job-1","stream":"stdout""#),
        (#"  {"a":1}  "#, #""a":1"#),
        (#"{"catalog":"x","logger":"y","timestamp":1}"#, #""catalog":"x","logger":"y","timestamp":1"#),
    ])
    func plainObjectsAreSplicedWithoutTheirBraces(_ fields: String, _ body: String) {
        let splice = HitWriter.splicableFields(fields)
        #expect(splice != nil)
        #expect((splice ?? nil).map { String(decoding: Array($0), as: UTF8.self) } == body)
    }

    @Test(arguments: ["", "{}", " {} "])
    func emptyObjectsAddNothing(_ fields: String) {
        let splice = HitWriter.splicableFields(fields)
        #expect(splice != nil && (splice ?? nil) == nil)
    }

    @Test(arguments: [#"{"log":"x"}"#, #"{"a":1,"@timestamp":"2024"}"#, "[1,2]", #""text""#])
    func ownLogOrTimestampOrNonObjectsAreRebuilt(_ fields: String) {
        #expect(HitWriter.splicableFields(fields) == nil)
    }

    @Test func byteSearchFindsNeedlesAtEveryPosition() {
        let text = Array(#"x"log""#.utf8)
        text.withUnsafeBytes { bytes in
            #expect(HitWriter.contains(bytes, "\"log\""))
            #expect(HitWriter.contains(UnsafeRawBufferPointer(rebasing: bytes[1...]), "\"log\""))
            #expect(!HitWriter.contains(UnsafeRawBufferPointer(rebasing: bytes[2...]), "\"log\""))
            #expect(!HitWriter.contains(UnsafeRawBufferPointer(rebasing: bytes[..<5]), "\"log\""))
        }
    }
}
