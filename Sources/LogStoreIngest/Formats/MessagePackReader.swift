/// Reads FluentBit's msgpack event stream (`http` output, `Format msgpack`): events back to back,
/// each `[[EventTime, {metadata}], {record}]` (FluentBit ≥ 2.1) or `[EventTime, {record}]`, where
/// the time is the EventTime extension (type 0: big-endian seconds + nanoseconds), an integer or a
/// float of epoch seconds.
///
/// Each record is converted to compact JSON text (map keys that are not strings become their JSON
/// text as a string; non-finite floats and unknown extensions become `null`; binary data must be
/// UTF-8 and is written as a string), then parsed by a ``DocumentParser`` with the event time as
/// the fallback timestamp. Error offsets count from the start of the msgpack body.
struct MessagePackReader {
    let p: UnsafePointer<UInt8>
    let end: Int
    let maxDepth: Int
    var i = 0

    /// Converts every event of `body`; each element holds the record as JSON text and the event time (ns).
    /// A malformed event ends the list with its error, since the next event cannot be found.
    static func records(
        _ body: UnsafeBufferPointer<UInt8>, maxDepth: Int = JSONScanner.defaultMaxDepth
    ) -> [Result<(json: [UInt8], time: Int64?), IngestError>] {
        guard let base = body.baseAddress else { return [] }
        var reader = MessagePackReader(p: base, end: body.count, maxDepth: maxDepth)
        var results: [Result<(json: [UInt8], time: Int64?), IngestError>] = []
        while reader.i < reader.end {
            do throws(IngestError) {
                results.append(.success(try reader.event()))
            } catch {
                results.append(.failure(error))
                break
            }
        }
        return results
    }

    func fail(_ reason: String, at offset: Int? = nil) -> IngestError {
        .malformedMessagePack(offset: offset ?? i, reason: reason)
    }

    /// Reads one event: its record as JSON and its time.
    mutating func event() throws(IngestError) -> (json: [UInt8], time: Int64?) {
        let start = i
        guard let count = try arrayHeader(), count == 2 else {
            throw fail("an event must be a 2-element array", at: start)
        }
        var time: Int64?
        if let headerCount = try peekArrayHeader() {
            guard headerCount >= 1 else { throw fail("empty event header") }
            _ = try arrayHeader()
            time = try eventTime()
            for _ in 1..<headerCount { try skip(depth: 2) }  // metadata
        } else {
            time = try eventTime()
        }
        guard i < end, isMap(p[i]) else { throw fail("the event record must be a map") }
        var json: [UInt8] = []
        json.reserveCapacity(256)
        try writeValue(&json, depth: 1)
        return (json, time)
    }

    @inline(__always) func isMap(_ b: UInt8) -> Bool { b & 0xF0 == 0x80 || b == 0xDE || b == 0xDF }

    mutating func need(_ n: Int) throws(IngestError) {
        guard n >= 0, i + n <= end else { throw fail("unexpected end of input") }
    }

    mutating func readUInt(_ n: Int) throws(IngestError) -> UInt64 {
        try need(n)
        var v: UInt64 = 0
        for k in 0..<n { v = v << 8 | UInt64(p[i + k]) }
        i += n
        return v
    }

    func peekArrayHeader() throws(IngestError) -> Int? {
        var copy = self
        return try copy.arrayHeader()
    }

    /// Reads an array header if one is at `i` (else leaves `i` and returns nil).
    mutating func arrayHeader() throws(IngestError) -> Int? {
        guard i < end else { throw fail("unexpected end of input") }
        let b = p[i]
        switch b {
        case 0x90...0x9F:
            i += 1
            return Int(b & 0x0F)
        case 0xDC:
            i += 1
            return Int(try readUInt(2))
        case 0xDD:
            i += 1
            return Int(try readUInt(4))
        default:
            return nil
        }
    }

    /// Reads an EventTime extension, an integer or a float as nanoseconds.
    mutating func eventTime() throws(IngestError) -> Int64? {
        guard i < end else { throw fail("unexpected end of input") }
        let start = i
        let b = p[i]
        if b == 0xD7 {
            try need(10)
            let type = p[i + 1]
            i += 2
            let seconds = try readUInt(4)
            let nanos = try readUInt(4)
            guard type == 0 else { return nil }
            return Int64(seconds) * 1_000_000_000 + Int64(nanos)
        }
        if b == 0xC7 {
            try need(3)
            if p[i + 1] == 8 && p[i + 2] == 0 {
                i += 3
                let seconds = try readUInt(4)
                let nanos = try readUInt(4)
                return Int64(seconds) * 1_000_000_000 + Int64(nanos)
            }
        }
        var text: [UInt8] = []
        try writeValue(&text, depth: 2)
        switch p[start] {
        case 0x00...0x7F, 0xCC...0xD3, 0xCA, 0xCB:
            return text.withUnsafeBufferPointer { Timestamp.parseNumber($0) }
        default:
            return nil
        }
    }

    mutating func skip(depth: Int) throws(IngestError) {
        var sink: [UInt8] = []
        try writeValue(&sink, depth: depth)
    }

    /// Converts the value at `i` to JSON text appended to `out`.
    mutating func writeValue(_ out: inout [UInt8], depth: Int) throws(IngestError) {
        guard depth <= maxDepth else { throw .tooDeep(offset: i, limit: maxDepth) }
        guard i < end else { throw fail("unexpected end of input") }
        let b = p[i]
        i += 1
        switch b {
        case 0x00...0x7F: appendDecimal(&out, UInt64(b), negative: false)
        case 0xE0...0xFF: appendInteger(&out, Int64(Int8(bitPattern: b)))
        case 0x80...0x8F: try writeMap(&out, count: Int(b & 0x0F), depth: depth)
        case 0xDE: try writeMap(&out, count: Int(try readUInt(2)), depth: depth)
        case 0xDF: try writeMap(&out, count: Int(try readUInt(4)), depth: depth)
        case 0x90...0x9F: try writeArray(&out, count: Int(b & 0x0F), depth: depth)
        case 0xDC: try writeArray(&out, count: Int(try readUInt(2)), depth: depth)
        case 0xDD: try writeArray(&out, count: Int(try readUInt(4)), depth: depth)
        case 0xA0...0xBF: try writeString(&out, length: Int(b & 0x1F))
        case 0xD9, 0xC4: try writeString(&out, length: Int(try readUInt(1)))
        case 0xDA, 0xC5: try writeString(&out, length: Int(try readUInt(2)))
        case 0xDB, 0xC6: try writeString(&out, length: Int(try readUInt(4)))
        case 0xC0: out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case 0xC2: out.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65])
        case 0xC3: out.append(contentsOf: [0x74, 0x72, 0x75, 0x65])
        case 0xCC: appendDecimal(&out, try readUInt(1), negative: false)
        case 0xCD: appendDecimal(&out, try readUInt(2), negative: false)
        case 0xCE: appendDecimal(&out, try readUInt(4), negative: false)
        case 0xCF: appendDecimal(&out, try readUInt(8), negative: false)
        case 0xD0: appendInteger(&out, Int64(Int8(truncatingIfNeeded: try readUInt(1))))
        case 0xD1: appendInteger(&out, Int64(Int16(truncatingIfNeeded: try readUInt(2))))
        case 0xD2: appendInteger(&out, Int64(Int32(truncatingIfNeeded: try readUInt(4))))
        case 0xD3: appendInteger(&out, Int64(bitPattern: try readUInt(8)))
        case 0xCA: appendDouble(&out, Double(Float(bitPattern: UInt32(try readUInt(4)))))
        case 0xCB: appendDouble(&out, Double(bitPattern: try readUInt(8)))
        case 0xD4...0xD8:
            let size = 1 << Int(b - 0xD4)
            try writeExtension(&out, type: Int8(bitPattern: UInt8(try readUInt(1))), size: size)
        case 0xC7, 0xC8, 0xC9:
            let size = Int(try readUInt(b == 0xC7 ? 1 : b == 0xC8 ? 2 : 4))
            try writeExtension(&out, type: Int8(bitPattern: UInt8(try readUInt(1))), size: size)
        default:
            i -= 1
            throw fail("invalid type byte 0x" + String(b, radix: 16))
        }
    }

    mutating func writeMap(_ out: inout [UInt8], count: Int, depth: Int) throws(IngestError) {
        out.append(0x7B)
        for k in 0..<count {
            if k > 0 { out.append(0x2C) }
            guard i < end else { throw fail("unexpected end of input") }
            let b = p[i]
            if (0xA0...0xBF).contains(b) || b == 0xD9 || b == 0xDA || b == 0xDB || b == 0xC4 || b == 0xC5 || b == 0xC6 {
                try writeValue(&out, depth: depth + 1)
            } else {
                // A key is written as the JSON string of its text: a map or array key inside a
                // key would be escaped once more per level (exponential output), so only
                // scalar keys are accepted.
                if (0x80...0x9F).contains(b) || (0xDC...0xDF).contains(b) {
                    throw fail("a map key must be a string, number or boolean, not a map or array")
                }
                var keyText: [UInt8] = []
                try writeValue(&keyText, depth: depth + 1)
                try appendJSONString(&out, keyText, at: i)
            }
            out.append(0x3A)
            try writeValue(&out, depth: depth + 1)
        }
        out.append(0x7D)
    }

    mutating func writeArray(_ out: inout [UInt8], count: Int, depth: Int) throws(IngestError) {
        out.append(0x5B)
        for k in 0..<count {
            if k > 0 { out.append(0x2C) }
            try writeValue(&out, depth: depth + 1)
        }
        out.append(0x5D)
    }

    mutating func writeExtension(_ out: inout [UInt8], type: Int8, size: Int) throws(IngestError) {
        try need(size)
        if type == 0 && size == 8 {
            let seconds = try readUInt(4)
            let nanos = try readUInt(4)
            appendDecimal(&out, seconds, negative: false)
            out.append(0x2E)
            var digits = Array(String(nanos).utf8)
            while digits.count < 9 { digits.insert(0x30, at: 0) }
            out.append(contentsOf: digits)
        } else {
            i += size
            out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        }
    }

    mutating func writeString(_ out: inout [UInt8], length: Int) throws(IngestError) {
        try need(length)
        let start = i
        i += length
        try appendJSONString(&out, UnsafeBufferPointer(start: p + start, count: length), at: start)
    }

    /// Appends `bytes` as a JSON string literal; they must be valid UTF-8 (`offset` locates errors).
    func appendJSONString(_ out: inout [UInt8], _ bytes: some Collection<UInt8>, at offset: Int) throws(IngestError) {
        let array = Array(bytes)
        try array.withUnsafeBufferPointer { (s) throws(IngestError) in
            out.append(0x22)
            guard let base = s.baseAddress else {
                out.append(0x22)
                return
            }
            let cursor = JSONReader(base, s.count, 0, maxDepth)
            var k = 0
            var chunk = 0
            while k < s.count {
                let c = s[k]
                if c >= 0x20 && c != 0x22 && c != 0x5C && c < 0x80 {
                    k += 1
                    continue
                }
                if c >= 0x80 {
                    do throws(IngestError) {
                        k = try cursor.validateUTF8(at: k)
                    } catch {
                        throw .invalidUTF8(offset: offset + k)
                    }
                    continue
                }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: s[chunk..<k]))
                switch c {
                case 0x22: out.append(contentsOf: [0x5C, 0x22])
                case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
                case 0x0A: out.append(contentsOf: [0x5C, 0x6E])
                case 0x0D: out.append(contentsOf: [0x5C, 0x72])
                case 0x09: out.append(contentsOf: [0x5C, 0x74])
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 0x0F)]])
                }
                k += 1
                chunk = k
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: s[chunk..<s.count]))
            out.append(0x22)
        }
    }

    func appendDecimal(_ out: inout [UInt8], _ value: UInt64, negative: Bool) {
        if negative { out.append(0x2D) }
        out.append(contentsOf: String(value).utf8)
    }

    func appendInteger(_ out: inout [UInt8], _ value: Int64) {
        out.append(contentsOf: String(value).utf8)
    }

    func appendDouble(_ out: inout [UInt8], _ value: Double) {
        if value.isFinite {
            out.append(contentsOf: value.description.utf8)
        } else {
            out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        }
    }
}
