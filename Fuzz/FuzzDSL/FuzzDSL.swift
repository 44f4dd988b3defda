import LogStoreHTTP

/// FuzzDSL feeds libFuzzer's input to the translation of a `_search` body's query, as the
/// server reads it (nesting check, JSON, query DSL): it must return a query or throw the 400 it
/// answers, never crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDSL(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    _ = try? SearchBodyQuery.parse(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
