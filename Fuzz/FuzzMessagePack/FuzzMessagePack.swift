import LogStoreIngest

/// FuzzMessagePack feeds libFuzzer's input to the parser of FluentBit's msgpack bodies (the
/// `http` output's `format msgpack`), records decoded to JSON then parsed as documents.
let parser = LineFormatParser()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMessagePack(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let body = Array(UnsafeBufferPointer(start: data, count: size))
    _ = parser.parse(body, format: .msgpack, index: "fuzz", arrivalTime: 0)
    return 0
}
