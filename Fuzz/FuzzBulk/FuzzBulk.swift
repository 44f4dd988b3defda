import LogStoreIngest

/// FuzzBulk feeds libFuzzer's input to the bulk/NDJSON parser as a `/_bulk` body, through the
/// entry point the server uses (`parseBatch`) and the one the CLI uses (`parse`). It must
/// return for every input, with one item per action line.
let parser = BulkParser()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBulk(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let body = UnsafeBufferPointer(start: data, count: size)
    let batch = parser.parseBatch(body, defaultIndex: "fuzz", arrivalTime: 1_700_000_000_000_000_000)
    let items = parser.parse(body, defaultIndex: nil, arrivalTime: 0)
    if batch.items.count != items.count { fatalError("parseBatch gave \(batch.items.count) items, parse \(items.count)") }
    return 0
}
