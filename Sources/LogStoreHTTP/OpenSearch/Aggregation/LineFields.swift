import Foundation
import LogStore
import LogStoreIngest

/// LineFields reads the values of a request's field paths from one line's stored fields (a
/// compact JSON object) with the ingest scanner: nested objects and flat dotted keys alike, each
/// element of an array, and the members of objects inside arrays on the way (OpenSearch's
/// flattening, the field index's too). Lines that share their fields
/// bytes (FluentBit repeats a pod's labels; a block stores each distinct object once) are
/// scanned once.
final class LineFields {
    let paths: JSONPathSet
    private(set) var values: [[FieldValue]]
    private var last: [UInt8] = []
    private var loaded = false
    /// Changes whenever `values` are read from other bytes: collectors keep what they derived
    /// from the values (their buckets) while it stays the same.
    private(set) var generation = 0

    init(paths: [String]) {
        self.paths = JSONPathSet(paths)
        values = Array(repeating: [], count: paths.count)
    }

    /// Reads `fields` unless they are the bytes read last.
    func load(_ fields: UnsafeRawBufferPointer) {
        if paths.paths.isEmpty { return }
        if loaded && fields.count == last.count && (fields.isEmpty || memcmp(fields.baseAddress!, last, fields.count) == 0) { return }
        last.removeAll(keepingCapacity: true)
        last.append(contentsOf: fields.bindMemory(to: UInt8.self))
        loaded = true
        generation &+= 1
        for i in values.indices { values[i].removeAll(keepingCapacity: true) }
        if StoredSource.isTemplate(fields) {
            // A document kept as sent: its members other than the message and time slots.
            let template = StoredSource.Template(fields)
            var object = [UInt8](repeating: 0, count: fields.count + 2)
            let count = object.withUnsafeMutableBytes { out -> Int in
                var c = JSONCursor(out.baseAddress!.assumingMemoryBound(to: UInt8.self))
                StoredSource.writeOtherFields(template, fields: fields, to: &c)
                return c.position - out.baseAddress!.assumingMemoryBound(to: UInt8.self)
            }
            object.removeSubrange(count...)
            object.withUnsafeBytes { scan($0) }
        } else {
            scan(fields)
        }
    }

    /// Collects the values of the paths in the JSON object `fields`.
    private func scan(_ fields: UnsafeRawBufferPointer) {
        let bytes = fields.bindMemory(to: UInt8.self)
        guard !bytes.isEmpty else { return }
        // Stored fields were validated at ingest; a line whose fields are not an object has none.
        let first = JSONScanner.skipWhitespace(bytes, from: 0)
        guard first < bytes.count, bytes[first] == UInt8(ascii: "{") else { return }
        var path: [UInt8] = []
        walkObject(bytes, from: first, path: &path)
    }

    /// Walks the object at `start` whose dotted path is `path`: a member whose path is wanted
    /// adds its value; a member on the way to a wanted path (an object, or an array holding
    /// objects) is walked in turn, so `{"a":[{"b":1},{"b":2}]}` gives `a.b` the values 1 and 2
    /// as OpenSearch indexes them (and as the field index flattens them).
    private func walkObject(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, path: inout [UInt8]) {
        var i = JSONScanner.skipWhitespace(bytes, from: start) + 1  // past `{`
        let base = path.count
        while i < bytes.count {
            i = JSONScanner.skipWhitespace(bytes, from: i)
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { return }  // `}`
            guard let key = try? JSONScanner.scanValue(bytes, from: i) else { return }
            i = JSONScanner.skipWhitespace(bytes, from: key.range.upperBound) + 1  // past `:`
            guard let (kind, range) = try? JSONScanner.scanValue(bytes, from: i) else { return }
            if base > 0 { path.append(UInt8(ascii: ".")) }
            JSONScanner.appendDecodedString(bytes, key.range, to: &path)
            visit(bytes, kind: kind, range: range, path: &path)
            path.removeSubrange(base...)
            i = JSONScanner.skipWhitespace(bytes, from: range.upperBound)
            if i < bytes.count, bytes[i] == UInt8(ascii: ",") { i += 1 }
        }
    }

    /// One value at `path`: added when the path is wanted, walked when it leads to one.
    private func visit(_ bytes: UnsafeBufferPointer<UInt8>, kind: JSONValueKind, range: Range<Int>, path: inout [UInt8]) {
        if let k = paths.paths.firstIndex(of: path) { Self.append(bytes, kind: kind, range: range, to: &values[k]) }
        guard kind == .object || kind == .array, leadsOn(path) else { return }
        // An array's scalars are the path's own values (added above with the array); its
        // objects and arrays are walked on.
        visitInArray(bytes, kind: kind, range: range, path: &path)
    }

    /// An object or array at `path`, or inside an array there (a path leading on to a wanted
    /// one): an object is walked, an array's objects and arrays are.
    private func visitInArray(_ bytes: UnsafeBufferPointer<UInt8>, kind: JSONValueKind, range: Range<Int>, path: inout [UInt8]) {
        if kind == .object {
            walkObject(bytes, from: range.lowerBound, path: &path)
            return
        }
        var i = range.lowerBound + 1
        while i < range.upperBound {
            i = JSONScanner.skipWhitespace(bytes, from: i)
            if i >= range.upperBound - 1 || bytes[i] == UInt8(ascii: "]") { break }
            guard let (k, r) = try? JSONScanner.scanValue(bytes, from: i) else { break }
            if k == .object || k == .array { visitInArray(bytes, kind: k, range: r, path: &path) }
            i = JSONScanner.skipWhitespace(bytes, from: r.upperBound)
            if i < range.upperBound, bytes[i] == UInt8(ascii: ",") { i += 1 }
        }
    }

    /// True when some wanted path continues `path` (`path` followed by a dot starts it).
    private func leadsOn(_ path: [UInt8]) -> Bool {
        if path.isEmpty { return true }
        for p in paths.paths where p.count > path.count && p[path.count] == UInt8(ascii: ".") && p.starts(with: path) { return true }
        return false
    }

    /// Adds the value at `range` (each element of an array) to `out`; null and objects add nothing.
    static func append(_ bytes: UnsafeBufferPointer<UInt8>, kind: JSONValueKind, range: Range<Int>, to out: inout [FieldValue]) {
        switch kind {
        case .string:
            out.append(.string(String(decoding: JSONScanner.decodeString(bytes, range), as: UTF8.self)))
        case .number:
            if let d = Double(String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)) { out.append(.number(d)) }
        case .bool:
            out.append(.bool(bytes[range.lowerBound] == UInt8(ascii: "t")))
        case .array:
            var i = range.lowerBound + 1
            while i < range.upperBound {
                i = JSONScanner.skipWhitespace(bytes, from: i)
                if i >= range.upperBound - 1 || bytes[i] == UInt8(ascii: "]") { break }
                guard let (k, r) = try? JSONScanner.scanValue(bytes, from: i) else { break }
                append(bytes, kind: k, range: r, to: &out)
                i = JSONScanner.skipWhitespace(bytes, from: r.upperBound)
                if i < range.upperBound, bytes[i] == UInt8(ascii: ",") { i += 1 }
            }
        case .null, .object:
            break
        }
    }
}

/// One matching line as the collectors see it (its bytes valid during the call only).
struct AggregationLine {
    let timestamp: Int64
    let lsn: LSN
    let stream: StreamID
    let key: StreamKey
    let message: UnsafeRawBufferPointer
    let rawFields: UnsafeRawBufferPointer
    let fields: LineFields

    /// The values of `field` in this line.
    func values(_ field: AggregationField) -> [FieldValue] {
        switch field.source {
        case .timestamp: return [.number(Double(DateRounding.floorDiv(timestamp, 1_000_000)))]
        case .message: return [.string(String(decoding: message, as: UTF8.self))]
        case .index: return [.string(key.index)]
        case .path(_, let slot): return fields.values[slot]
        }
    }

    /// The numeric values of `field` (dates in epoch milliseconds; strings that are not dates
    /// or numbers are left out).
    func numbers(_ field: AggregationField) -> [Double] {
        if case .timestamp = field.source { return [Double(DateRounding.floorDiv(timestamp, 1_000_000))] }
        return values(field).compactMap { v in
            switch v {
            case .number(let d): return d
            case .bool(let b): return field.isDate ? nil : (b ? 1 : 0)
            case .string(let s):
                if field.isDate, let ns = Timestamp.parse(s) { return Double(DateRounding.floorDiv(ns, 1_000_000)) }
                return Double(s)
            }
        }
    }
}
