#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A byte-level, validating JSON scanner (RFC 8259) that walks one object without building a tree.
///
/// It validates everything it passes over (structure, numbers, escapes, UTF-8 inside strings, no
/// raw control characters, nesting depth), reports each top-level member with raw byte ranges,
/// and reports the values found at wanted dotted paths at any depth. Offsets in errors are
/// offsets into the scanned buffer.
public enum JSONScanner: Sendable {
    /// The default nesting limit.
    public static let defaultMaxDepth = 64

    /// Scans the object starting at `offset` (leading whitespace allowed) and returns the offset
    /// just past its closing brace. Throws ``IngestError/notAnObject`` for another JSON value.
    public static func scanObject<V: JSONObjectVisitor>(
        _ bytes: UnsafeBufferPointer<UInt8>, from offset: Int, paths: JSONPathSet,
        maxDepth: Int = defaultMaxDepth, visitor: inout V
    ) throws(IngestError) -> Int {
        guard let base = bytes.baseAddress, offset < bytes.count else {
            throw .malformedJSON(offset: offset, reason: "unexpected end of input")
        }
        var cursor = JSONReader(base, bytes.count, offset, maxDepth)
        cursor.skipWhitespace()
        try cursor.expectObjectStart()
        let result: Result<Int, IngestError> = withUnsafeTemporaryAllocation(
            of: UInt8.self, capacity: max(paths.maxLength, 1)
        ) { pathBuffer in
            guard let pathBase = pathBuffer.baseAddress else {
                return .failure(.malformedJSON(offset: offset, reason: "no memory"))
            }
            do throws(IngestError) {
                try cursor.scanTrackedObject(
                    depth: 1, pathLength: 0, paths: paths, pathBuffer: pathBase, visitor: &visitor)
                return .success(cursor.i)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Validates the one JSON value starting at `offset` (leading whitespace allowed) and returns
    /// its kind and raw range.
    public static func scanValue(
        _ bytes: UnsafeBufferPointer<UInt8>, from offset: Int, maxDepth: Int = defaultMaxDepth
    ) throws(IngestError) -> (kind: JSONValueKind, range: Range<Int>) {
        guard let base = bytes.baseAddress, offset < bytes.count else {
            throw .malformedJSON(offset: offset, reason: "unexpected end of input")
        }
        var cursor = JSONReader(base, bytes.count, offset, maxDepth)
        cursor.skipWhitespace()
        let start = cursor.i
        let kind = try cursor.skipValue(depth: 1)
        return (kind, start..<cursor.i)
    }

    /// The offset of the first non-whitespace byte at or after `offset` (or `bytes.count`).
    public static func skipWhitespace(_ bytes: UnsafeBufferPointer<UInt8>, from offset: Int) -> Int {
        var i = offset
        while i < bytes.count, isWhitespace(bytes[i]) { i += 1 }
        return i
    }

    /// Decodes a string value previously validated by the scanner; `range` includes the quotes.
    /// Escapes are resolved; a lone UTF-16 surrogate escape becomes U+FFFD.
    public static func decodeString(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        appendDecodedString(bytes, range, to: &out)
        return out
    }

    /// Appends the decoded content of the validated string at `range` (quotes included) to `out`.
    public static func appendDecodedString(
        _ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, to out: inout [UInt8]
    ) {
        guard let p = bytes.baseAddress, range.count >= 2, range.upperBound <= bytes.count else { return }
        let end = range.upperBound - 1
        var k = range.lowerBound + 1
        var chunk = k
        while k < end {
            // The next backslash (memchr is vectorised; most text has none or few).
            guard let found = memchr(p + k, 0x5C, end - k) else { break }
            k = UnsafeRawPointer(p).distance(to: UnsafeRawPointer(found))
            if k > chunk { out.append(contentsOf: UnsafeBufferPointer(start: p + chunk, count: k - chunk)) }
            guard k + 1 < end else { return }
            let e = p[k + 1]
            k += 2
            switch e {
            case 0x62: out.append(0x08)  // b
            case 0x66: out.append(0x0C)  // f
            case 0x6E: out.append(0x0A)  // n
            case 0x72: out.append(0x0D)  // r
            case 0x74: out.append(0x09)  // t
            case 0x75:  // u
                guard k + 4 <= end, let unit = hex4(p + k) else { return }
                k += 4
                var scalar = unit
                if unit >= 0xD800 && unit <= 0xDBFF {
                    if k + 6 <= end, p[k] == 0x5C, p[k + 1] == 0x75, let low = hex4(p + k + 2),
                        low >= 0xDC00 && low <= 0xDFFF
                    {
                        scalar = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                        k += 6
                    } else {
                        scalar = 0xFFFD
                    }
                } else if unit >= 0xDC00 && unit <= 0xDFFF {
                    scalar = 0xFFFD
                }
                appendUTF8(scalar, to: &out)
            default: out.append(e)  // " \ /
            }
            chunk = k
        }
        if end > chunk { out.append(contentsOf: UnsafeBufferPointer(start: p + chunk, count: end - chunk)) }
    }

    /// Convenience: the decoded string values at `paths` in the JSON object `document` (first
    /// occurrence of each; `nil` when absent or not a string).
    public static func strings(at paths: [String], in document: [UInt8]) throws(IngestError) -> [String?] {
        let set = JSONPathSet(paths)
        return try document.withUnsafeBufferPointer { (buf) throws(IngestError) -> [String?] in
            var collector = MatchCollector(count: set.paths.count)
            let end = try scanObject(buf, from: 0, paths: set, visitor: &collector)
            guard skipWhitespace(buf, from: end) == buf.count else {
                throw .malformedJSON(offset: end, reason: "unexpected data after the object")
            }
            return paths.map { path -> String? in
                guard let k = set.index(of: path), let m = collector.matches[k], m.kind == .string else { return nil }
                return String(decoding: decodeString(buf, m.valueRange), as: UTF8.self)
            }
        }
    }

    @inline(__always)
    static func isWhitespace(_ c: UInt8) -> Bool {
        c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09
    }

    @inline(__always)
    static func hex4(_ p: UnsafePointer<UInt8>) -> UInt32? {
        var v: UInt32 = 0
        for k in 0..<4 {
            let c = p[k]
            let d: UInt8
            switch c {
            case 0x30...0x39: d = c - 0x30
            case 0x41...0x46: d = c - 0x41 + 10
            case 0x61...0x66: d = c - 0x61 + 10
            default: return nil
            }
            v = v << 4 | UInt32(d)
        }
        return v
    }

    @inline(__always)
    static func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            out.append(UInt8(scalar))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | scalar >> 6))
            out.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | scalar >> 12))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        default:
            out.append(UInt8(0xF0 | scalar >> 18))
            out.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// Collects the first match of each path (used by ``JSONScanner/strings(at:in:)``).
    struct MatchCollector: JSONObjectVisitor {
        var matches: [JSONMatch?]
        init(count: Int) { matches = Array(repeating: nil, count: count) }
        mutating func visitMember(_ member: JSONMember) {}
        mutating func visitMatch(_ match: JSONMatch) {
            if matches[match.pathIndex] == nil { matches[match.pathIndex] = match }
        }
    }
}
