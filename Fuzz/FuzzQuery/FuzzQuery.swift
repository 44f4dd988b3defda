import LogStore

/// FuzzQuery feeds libFuzzer's input (as UTF-8 text) to the query language parser, and every
/// query it accepts to the matcher over a few lines. A parsed query's text form must parse
/// back to the same query.
let lines = ["ERROR connection refused to 10.0.0.1:9200", "reana-run-job-a02532f6 started", "", "Café ünïcode ✓ 42"]
let stream = StreamKey(index: "fluentbit-job_log", workflow: "wf-1", job: "reana-run-job-a02532f6")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzQuery(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let query = try? QueryParser.parse(text) else { return 0 }
    let matcher = QueryMatcher(query)
    _ = matcher.matches(stream: stream)
    for line in lines { _ = matcher.matches(message: line, stream: stream) }
    let again: Query
    do {
        again = try QueryParser.parse(query.description)
    } catch {
        // The text form may hold more terms than the input (`a-b*` prints as `a b*`).
        if error.message.hasPrefix("too many clauses") { return 0 }
        fatalError("the text form of a parsed query does not parse: \(query.description): \(error)")
    }
    if again != query { fatalError("\(text) → \(query) → \(query.description) → \(again)") }
    return 0
}
