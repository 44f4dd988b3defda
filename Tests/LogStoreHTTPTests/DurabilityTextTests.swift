import LogStore
import LogStoreHTTP
import Testing

@Suite("--durability values")
struct DurabilityTextTests {
    @Test func acceptedValues() {
        #expect(DurabilityText.parse("fsync") == .fsync)
        #expect(DurabilityText.parse("FSYNC") == .fsync)
        #expect(DurabilityText.parse("written") == .written(syncEvery: .milliseconds(100)))
        #expect(DurabilityText.parse("written:250ms") == .written(syncEvery: .milliseconds(250)))
        #expect(DurabilityText.parse("written:1s") == .written(syncEvery: .seconds(1)))
        #expect(DurabilityText.parse("written:1ms") == .written(syncEvery: .milliseconds(1)))
        #expect(DurabilityText.parse("written:60s") == .written(syncEvery: .seconds(60)))
    }

    @Test(arguments: ["", "sync", "none", "written:", "written:0ms", "written:61s", "written:10x", "written:-5ms", "fsync:10ms"])
    func refusedValues(text: String) {
        #expect(DurabilityText.parse(text) == nil)
    }

    @Test func description() {
        #expect(Durability.fsync.description == "fsync")
        #expect(Durability.written(syncEvery: .milliseconds(100)).description == "written:100ms")
    }
}
