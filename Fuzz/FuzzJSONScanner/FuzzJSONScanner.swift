import LogStoreIngest

/// FuzzJSONScanner feeds libFuzzer's input to the byte-level JSON scanner: validating one
/// value, scanning one document with the REANA field mapping, and pulling strings out by path.
/// Every call must return or throw an `IngestError`, and a valid value's range must lie inside
/// the input.
let documents = DocumentParser()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONScanner(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    if let (_, range) = try? JSONScanner.scanValue(bytes, from: 0), range.lowerBound < 0 || range.upperBound > size {
        fatalError("scanValue range \(range) outside 0..<\(size)")
    }
    _ = try? documents.parse(bytes, index: "fuzz", arrivalTime: 0)
    _ = try? JSONScanner.strings(at: ["log", "kubernetes.labels.job-name", "a.b.c"], in: Array(bytes))
    return 0
}
