#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// JSONReader is the reading position of ``JSONScanner`` in one buffer: it validates and skips
/// values and reports errors at its offset. Internal: a view that must not outlive the buffer.
struct JSONReader {
    let p: UnsafePointer<UInt8>
    let end: Int
    var i: Int
    let maxDepth: Int
    /// Whether the last string scanned by `skipValue` contained escapes.
    var lastStringEscapes = false
    /// Raw key ranges (quotes included) of the members of the nested objects being scanned,
    /// innermost last: a name given twice in one object is refused (`duplicateKey`). The
    /// top-level object's names are the visitor's (`MemberNames`).
    var nestedKeys: [Range<Int>] = []

    init(_ p: UnsafePointer<UInt8>, _ end: Int, _ i: Int, _ maxDepth: Int) {
        self.p = p
        self.end = end
        self.i = i
        self.maxDepth = maxDepth
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while i < end, JSONScanner.isWhitespace(p[i]) { i += 1 }
    }

    func error(_ reason: String) -> IngestError {
        if i >= end { return .malformedJSON(offset: i, reason: "unexpected end of input") }
        return .malformedJSON(offset: i, reason: reason + ", found " + Self.describe(p[i]))
    }

    static func describe(_ c: UInt8) -> String {
        if c >= 0x21 && c < 0x7F { return "'" + String(UnicodeScalar(c)) + "'" }
        let hex = String(c, radix: 16, uppercase: true)
        return "byte 0x" + (hex.count < 2 ? "0" + hex : hex)
    }

    /// Checks that an object starts at `i`; for other values throws `.notAnObject`.
    func expectObjectStart() throws(IngestError) {
        guard i < end else { throw .malformedJSON(offset: i, reason: "unexpected end of input") }
        switch p[i] {
        case 0x7B: return
        case 0x5B, 0x22, 0x2D, 0x30...0x39, 0x74, 0x66, 0x6E: throw .notAnObject
        default: throw error("expected '{'")
        }
    }

    /// Scans an object at `i` (which holds `{`), tracking the dotted key path for matches.
    ///
    /// One function of ~90 lines on purpose: it is the per-member loop of every ingested
    /// document, and its state (position, path length, member index) stays in locals.
    mutating func scanTrackedObject<V: JSONObjectVisitor>(
        depth: Int, pathLength: Int, paths: JSONPathSet, pathBuffer: UnsafeMutablePointer<UInt8>,
        visitor: inout V
    ) throws(IngestError) {
        if depth > maxDepth { throw .tooDeep(offset: i, limit: maxDepth) }
        i += 1
        skipWhitespace()
        guard i < end else { throw error("") }
        if p[i] == 0x7D {
            i += 1
            return
        }
        var memberIndex = 0
        let separator = pathLength > 0 ? 1 : 0
        let mark = nestedKeys.count
        var hashed: [Int: [Range<Int>]]? = nil
        defer { if depth > 1 { nestedKeys.removeSubrange(mark...) } }
        while true {
            guard i < end, p[i] == 0x22 else { throw error("expected a string key") }
            let keyStart = i
            let keyEscapes = try scanString()
            let keyEnd = i
            if depth > 1 { try noteKey(keyStart..<keyEnd, from: mark, hashed: &hashed) }
            skipWhitespace()
            guard i < end, p[i] == 0x3A else { throw error("expected ':' after object key") }
            i += 1
            skipWhitespace()
            guard i < end else { throw error("") }

            // Build the dotted path of this member when it can still be (a prefix of) a wanted path.
            var fullLength = -1
            let keyLength = keyEnd - keyStart - 2
            if !keyEscapes {
                if pathLength + separator + keyLength <= paths.maxLength {
                    if separator == 1 { pathBuffer[pathLength] = 0x2E }
                    (pathBuffer + pathLength + separator).update(from: p + keyStart + 1, count: keyLength)
                    fullLength = pathLength + separator + keyLength
                }
            } else {
                let decoded = JSONScanner.decodeString(
                    UnsafeBufferPointer(start: p, count: end), keyStart..<keyEnd)
                if pathLength + separator + decoded.count <= paths.maxLength {
                    if separator == 1 { pathBuffer[pathLength] = 0x2E }
                    decoded.withUnsafeBufferPointer { d in
                        if let b = d.baseAddress {
                            (pathBuffer + pathLength + separator).update(from: b, count: d.count)
                        }
                    }
                    fullLength = pathLength + separator + decoded.count
                }
            }

            let valueStart = i
            var matchIndex = -1
            let kind: JSONValueKind
            if fullLength >= 0 {
                matchIndex = paths.match(pathBuffer, fullLength)
                if p[i] == 0x7B && paths.isPrefix(pathBuffer, fullLength) {
                    try scanTrackedObject(
                        depth: depth + 1, pathLength: fullLength, paths: paths, pathBuffer: pathBuffer,
                        visitor: &visitor)
                    kind = .object
                    lastStringEscapes = false
                } else {
                    kind = try skipValue(depth: depth + 1)
                }
            } else {
                kind = try skipValue(depth: depth + 1)
            }
            let valueRange = valueStart..<i
            if matchIndex >= 0 {
                visitor.visitMatch(
                    JSONMatch(
                        pathIndex: matchIndex, valueRange: valueRange, kind: kind,
                        hasEscapes: kind == .string && lastStringEscapes,
                        memberIndex: depth == 1 ? memberIndex : nil))
            }
            if depth == 1 {
                visitor.visitMember(
                    JSONMember(
                        index: memberIndex, keyRange: keyStart..<keyEnd, keyHasEscapes: keyEscapes,
                        valueRange: valueRange, kind: kind))
            }
            memberIndex += 1
            skipWhitespace()
            guard i < end else { throw error("") }
            if p[i] == 0x2C {
                i += 1
                skipWhitespace()
                continue
            }
            if p[i] == 0x7D {
                i += 1
                return
            }
            throw error("expected ',' or '}' after object member")
        }
    }

    /// Validates and skips one value at `i` (no leading whitespace).
    mutating func skipValue(depth: Int) throws(IngestError) -> JSONValueKind {
        guard i < end else { throw error("") }
        switch p[i] {
        case 0x22:
            lastStringEscapes = try scanString()
            return .string
        case 0x7B:
            try skipObject(depth: depth)
            return .object
        case 0x5B:
            try skipArray(depth: depth)
            return .array
        case 0x2D, 0x30...0x39:
            try scanNumber()
            return .number
        case 0x74:
            try literal(0x7472_7565, 4)  // true
            return .bool
        case 0x66:
            try literal(0x6661_6C73, 4)  // fals
            guard i < end, p[i] == 0x65 else { throw error("invalid literal") }
            i += 1
            return .bool
        case 0x6E:
            try literal(0x6E75_6C6C, 4)  // null
            return .null
        default:
            throw error("expected a JSON value")
        }
    }

    @inline(__always)
    mutating func literal(_ word: UInt32, _ length: Int) throws(IngestError) {
        guard i + length <= end else { throw .malformedJSON(offset: i, reason: "invalid literal") }
        var v: UInt32 = 0
        for k in 0..<length { v = v << 8 | UInt32(p[i + k]) }
        guard v == word else { throw .malformedJSON(offset: i, reason: "invalid literal") }
        i += length
    }

    mutating func skipObject(depth: Int) throws(IngestError) {
        if depth > maxDepth { throw .tooDeep(offset: i, limit: maxDepth) }
        i += 1
        skipWhitespace()
        guard i < end else { throw error("") }
        if p[i] == 0x7D {
            i += 1
            return
        }
        let mark = nestedKeys.count
        var hashed: [Int: [Range<Int>]]? = nil
        defer { nestedKeys.removeSubrange(mark...) }
        while true {
            guard i < end, p[i] == 0x22 else { throw error("expected a string key") }
            let keyStart = i
            _ = try scanString()
            try noteKey(keyStart..<i, from: mark, hashed: &hashed)
            skipWhitespace()
            guard i < end, p[i] == 0x3A else { throw error("expected ':' after object key") }
            i += 1
            skipWhitespace()
            _ = try skipValue(depth: depth + 1)
            skipWhitespace()
            guard i < end else { throw error("") }
            if p[i] == 0x2C {
                i += 1
                skipWhitespace()
                continue
            }
            if p[i] == 0x7D {
                i += 1
                return
            }
            throw error("expected ',' or '}' after object member")
        }
    }

    /// Objects with more members than this compare names through a hash table.
    static let linearKeys = 16

    /// Records the member name at `key` of the object whose names start at `mark` in
    /// `nestedKeys`; throws `duplicateKey` when the object already has it.
    @inline(__always)
    mutating func noteKey(_ key: Range<Int>, from mark: Int, hashed: inout [Int: [Range<Int>]]?) throws(IngestError) {
        let count = nestedKeys.count - mark
        if count < Self.linearKeys {
            for k in mark..<nestedKeys.count {
                let seen = nestedKeys[k]
                if seen.count == key.count && memcmp(p + seen.lowerBound, p + key.lowerBound, key.count) == 0 { throw duplicate(key) }
            }
            nestedKeys.append(key)
            return
        }
        if hashed == nil {
            var table: [Int: [Range<Int>]] = [:]
            for k in mark..<nestedKeys.count { table[hash(nestedKeys[k]), default: []].append(nestedKeys[k]) }
            hashed = table
        }
        let h = hash(key)
        for seen in hashed![h] ?? [] where seen.count == key.count && memcmp(p + seen.lowerBound, p + key.lowerBound, key.count) == 0 {
            throw duplicate(key)
        }
        hashed![h, default: []].append(key)
    }

    private func hash(_ key: Range<Int>) -> Int {
        var hasher = Hasher()
        hasher.combine(bytes: UnsafeRawBufferPointer(start: p + key.lowerBound, count: key.count))
        return hasher.finalize()
    }

    private func duplicate(_ key: Range<Int>) -> IngestError {
        .duplicateKey(String(decoding: UnsafeBufferPointer(start: p + key.lowerBound + 1, count: max(0, key.count - 2)), as: UTF8.self))
    }

    mutating func skipArray(depth: Int) throws(IngestError) {
        if depth > maxDepth { throw .tooDeep(offset: i, limit: maxDepth) }
        i += 1
        skipWhitespace()
        guard i < end else { throw error("") }
        if p[i] == 0x5D {
            i += 1
            return
        }
        while true {
            _ = try skipValue(depth: depth + 1)
            skipWhitespace()
            guard i < end else { throw error("") }
            if p[i] == 0x2C {
                i += 1
                skipWhitespace()
                continue
            }
            if p[i] == 0x5D {
                i += 1
                return
            }
            throw error("expected ',' or ']' after array element")
        }
    }

    mutating func scanNumber() throws(IngestError) {
        var j = i
        if p[j] == 0x2D { j += 1 }
        guard j < end else { throw .malformedJSON(offset: j, reason: "unexpected end of input in number") }
        if p[j] == 0x30 {
            j += 1
        } else if p[j] &- 0x31 < 9 {
            j += 1
            while j < end, p[j] &- 0x30 < 10 { j += 1 }
        } else {
            i = j
            throw error("invalid number")
        }
        if j < end, p[j] == 0x2E {
            j += 1
            guard j < end, p[j] &- 0x30 < 10 else {
                i = j
                throw error("expected a digit after the decimal point")
            }
            while j < end, p[j] &- 0x30 < 10 { j += 1 }
        }
        if j < end, p[j] | 0x20 == 0x65 {
            j += 1
            if j < end, p[j] == 0x2B || p[j] == 0x2D { j += 1 }
            guard j < end, p[j] &- 0x30 < 10 else {
                i = j
                throw error("expected a digit in the exponent")
            }
            while j < end, p[j] &- 0x30 < 10 { j += 1 }
        }
        i = j
    }

    /// Validates the string at `i` (which holds `"`); leaves `i` past the closing quote.
    /// Returns whether it contains escapes.
    mutating func scanString() throws(IngestError) -> Bool {
        var j = i + 1
        var escapes = false
        let raw = UnsafeRawPointer(p)
        while true {
            // Eight bytes at a time while none is `"`, `\`, a control character or non-ASCII.
            while j + 8 <= end {
                let w = raw.loadUnaligned(fromByteOffset: j, as: UInt64.self)
                let q = w ^ 0x2222_2222_2222_2222
                let b = w ^ 0x5C5C_5C5C_5C5C_5C5C
                let t =
                    ((q &- 0x0101_0101_0101_0101) & ~q) | ((b &- 0x0101_0101_0101_0101) & ~b)
                    | ((w &- 0x2020_2020_2020_2020) & ~w) | w
                if t & 0x8080_8080_8080_8080 != 0 { break }
                j += 8
            }
            guard j < end else {
                throw .malformedJSON(offset: j, reason: "unterminated string (unexpected end of input)")
            }
            let c = p[j]
            if c == 0x22 {
                i = j + 1
                return escapes
            }
            if c == 0x5C {
                escapes = true
                guard j + 1 < end else {
                    throw .malformedJSON(offset: j, reason: "unterminated string (unexpected end of input)")
                }
                switch p[j + 1] {
                case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74:
                    j += 2
                case 0x75:
                    guard j + 6 <= end, JSONScanner.hex4(p + j + 2) != nil else {
                        throw .malformedJSON(offset: j, reason: "invalid \\u escape (expected 4 hex digits)")
                    }
                    j += 6
                default:
                    throw .malformedJSON(
                        offset: j, reason: "invalid escape \\" + Self.describe(p[j + 1]) + " in string")
                }
                continue
            }
            if c < 0x20 {
                throw .malformedJSON(
                    offset: j, reason: "raw control character " + Self.describe(c) + " in string (must be escaped)")
            }
            if c >= 0x80 {
                j = try validateUTF8(at: j)
                continue
            }
            j += 1
        }
    }

    /// Validates one multi-byte UTF-8 sequence at `j`; returns the offset after it.
    @inline(__always)
    func validateUTF8(at j: Int) throws(IngestError) -> Int {
        let c = p[j]
        @inline(__always) func cont(_ k: Int, _ lo: UInt8 = 0x80, _ hi: UInt8 = 0xBF) -> Bool {
            k < end && p[k] >= lo && p[k] <= hi
        }
        switch c {
        case 0xC2...0xDF:
            if cont(j + 1) { return j + 2 }
        case 0xE0:
            if cont(j + 1, 0xA0), cont(j + 2) { return j + 3 }
        case 0xE1...0xEC, 0xEE, 0xEF:
            if cont(j + 1), cont(j + 2) { return j + 3 }
        case 0xED:
            if cont(j + 1, 0x80, 0x9F), cont(j + 2) { return j + 3 }
        case 0xF0:
            if cont(j + 1, 0x90), cont(j + 2), cont(j + 3) { return j + 4 }
        case 0xF1...0xF3:
            if cont(j + 1), cont(j + 2), cont(j + 3) { return j + 4 }
        case 0xF4:
            if cont(j + 1, 0x80, 0x8F), cont(j + 2), cont(j + 3) { return j + 4 }
        default:
            break
        }
        throw .invalidUTF8(offset: j)
    }
}
