/// JSONNesting checks how deep a JSON text nests before it is parsed, so a body of ten
/// thousand `[` (or `bool` in `bool`) is refused with a 400 that says so, instead of reaching
/// a recursive parser or being reported as "not valid JSON".
///
/// The scan only counts brackets and braces outside strings (it skips escaped characters in
/// strings); it does not validate anything else, which is the parser's job afterwards.
enum JSONNesting {
    /// JSONNesting.maxDepth is the deepest nesting of arrays and objects accepted in a request
    /// body. The deepest body of the supported query DSL needs a few levels per `bool`, and
    /// OpenSearch readers send well under 20; Foundation's parser stops at 512 anyway, with a
    /// message that does not name the problem.
    static let maxDepth = 100

    /// JSONNesting.depth returns the deepest nesting of `bytes`, or stops counting (and returns
    /// `limit + 1`) as soon as it passes `limit`.
    static func depth(_ bytes: some Sequence<UInt8>, limit: Int = maxDepth) -> Int {
        var depth = 0
        var deepest = 0
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > deepest {
                    deepest = depth
                    if deepest > limit { return deepest }
                }
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                depth -= 1
            default:
                break
            }
        }
        return deepest
    }

    /// JSONNesting.check throws a 400 (`parse_exception`) naming the limit when `bytes` nests
    /// deeper than `maxDepth`, and a 400 `json_parse_exception` `Duplicate field '<name>'` (as
    /// OpenSearch) when an object at any depth names a member twice (names compared as
    /// written); it returns normally otherwise.
    static func check(_ bytes: some Sequence<UInt8>, what: String = "the request body") throws(OpenSearchError) {
        if depth(bytes) > maxDepth {
            throw OpenSearchError.badRequest(
                "\(what) nests too deep: at most \(maxDepth) levels of JSON arrays and objects are allowed", type: "parse_exception")
        }
        if let name = duplicateName(bytes) {
            throw OpenSearchError.badRequest("Duplicate field '\(name.prefix(300))'", type: "json_parse_exception")
        }
    }

    /// JSONNesting.duplicateName returns the first member name given twice in one object of
    /// `bytes` (at any depth; as written, escapes not resolved), or nil. Like `depth` it only
    /// tracks strings, brackets, braces, colons and commas; a malformed text is the parser's.
    static func duplicateName(_ bytes: some Sequence<UInt8>) -> String? {
        /// Per open container: nil for an array, else the names its members had so far.
        var open: [Set<[UInt8]>?] = []
        var expectingName = false
        var inString = false
        var inName = false
        var escaped = false
        var name: [UInt8] = []
        for byte in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                    if inName {
                        inName = false
                        if open[open.count - 1]!.insert(name).inserted == false { return String(decoding: name, as: UTF8.self) }
                    }
                    continue
                }
                if inName { name.append(byte) }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                inString = true
                if expectingName, let last = open.last, last != nil {
                    inName = true
                    name.removeAll(keepingCapacity: true)
                }
                expectingName = false
            case UInt8(ascii: "{"):
                open.append([])
                expectingName = true
            case UInt8(ascii: "["):
                open.append(nil)
                expectingName = false
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                if !open.isEmpty { open.removeLast() }
                expectingName = false
            case UInt8(ascii: ","):
                expectingName = open.last.map { $0 != nil } ?? false
            default:
                break
            }
        }
        return nil
    }
}
