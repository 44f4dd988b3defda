import Foundation
import LogStore
import LogStoreIngest
import NIOCore

/// HitWriter writes `_search` hits straight from the decoded blocks (``LinePage``) into the
/// answer's buffer: the stored fields are spliced into `_source` as they are when they can be,
/// the other hits (and `_source` filters) go through ``SourceWriter``.
enum HitWriter {
    /// The hits of `lines`, comma-separated, written from the decoded blocks in place; `ids`
    /// holds the client `_id`s by LSN (the others answer the generated one).
    static func writeHits(
        _ lines: ArraySlice<LinePage.Ref>, of page: LinePage, keys: [StreamID: StreamKey], source: SourceFilter,
        ids: [LSN: String] = [:], into out: inout ByteBuffer
    ) {
        // `{"_index":"<index>","_id":"` once per stream.
        var prefixes: [StreamID: [UInt8]] = [:]
        for (id, key) in keys {
            var p = JSONText(capacity: 32 + key.index.utf8.count)
            p.raw("{\"_index\":")
            p.string(key.index)
            p.raw(",\"_id\":\"")
            prefixes[id] = p.bytes
        }
        let unknown = Array("{\"_index\":\"\",\"_id\":\"".utf8)
        // FluentBit repeats a container's labels on every line: the splice check of the same
        // fields bytes as the previous line's is not done again.
        var lastFields: (base: UnsafeRawPointer?, count: Int, verdict: Range<Int>??) = (nil, -1, nil)
        var lastTemplate: (base: UnsafeRawPointer?, count: Int, template: StoredSource.Template?) = (nil, -1, nil)
        var first = true
        var prefix = unknown
        var prefixStream: StreamID?
        var clock = RFC3339Writer()
        // Hits whose fields cannot be spliced as they are (and `_source` filters) go through here.
        var slow = JSONText(capacity: 0)
        for line in lines {
            // A client `_id`, escaped, without its quotes.
            let clientID = ids.isEmpty ? nil : ids[line.lsn].map(Self.escapedID)
            if line.stream != prefixStream {
                prefix = prefixes[line.stream] ?? unknown
                prefixStream = line.stream
            }
            var spliced = false
            if case .all = source {
                spliced = page.withMessageAndFields(line) { message, fields -> Bool in
                    if StoredSource.isTemplate(fields) {
                        // The document as sent: the template with the line's message and time.
                        let template: StoredSource.Template
                        if let cached = lastTemplate.template, fields.count == lastTemplate.count, let previous = lastTemplate.base,
                            let base = fields.baseAddress, previous == base || memcmp(previous, base, fields.count) == 0
                        {
                            template = cached
                        } else {
                            template = StoredSource.Template(fields)
                            lastTemplate = (fields.baseAddress, fields.count, template)
                        }
                        prefix.withUnsafeBytes { prefix in
                            let most = 1 + prefix.count + 160 + JSONCursor.maxTimestampCount
                                + StoredSource.maxSourceCount(fields: fields.count, message: message.count) + (clientID?.count ?? 0)
                            out.writeJSON(maxCount: most) { c in
                                if !first { c.byte(UInt8(ascii: ",")) }
                                c.raw(prefix)
                                Self.writeID(line, clientID: clientID, to: &c)
                                c.raw("\",\"_score\":null,\"_source\":")
                                StoredSource.writeSource(template, fields: fields, message: message, timestamp: line.timestamp, to: &c)
                                Self.writeSort(line, to: &c)
                            }
                        }
                        return true
                    }
                    let verdict: Range<Int>??
                    // (Lines of one block share their fields bytes: the same address.)
                    if fields.count == lastFields.count, let previous = lastFields.base, let base = fields.baseAddress,
                        previous == base || memcmp(previous, base, fields.count) == 0
                    {
                        verdict = lastFields.verdict
                    } else {
                        verdict = splicableFields(fields)
                        lastFields = (fields.baseAddress, fields.count, verdict)
                    }
                    guard let body = verdict else { return false }
                    prefix.withUnsafeBytes { prefix in
                        // the id and sort values: ≤ 4 × 20 characters; keys and punctuation < 80.
                        let most = 1 + prefix.count + 160 + 2 * JSONCursor.maxTimestampCount
                            + JSONCursor.maxStringCount(message.count) + (body?.count ?? 0) + (clientID?.count ?? 0)
                        out.writeJSON(maxCount: most) { c in
                            if !first { c.byte(UInt8(ascii: ",")) }
                            c.raw(prefix)
                            Self.writeID(line, clientID: clientID, to: &c)
                            c.raw("\",\"_score\":null,\"_source\":{\"@timestamp\":\"")
                            c.timestamp(line.timestamp, &clock)
                            c.raw("\",\"log\":")
                            c.string(message)
                            if let body {
                                c.byte(UInt8(ascii: ","))
                                c.raw(UnsafeRawBufferPointer(rebasing: fields[body]))
                            }
                            c.byte(UInt8(ascii: "}"))
                            Self.writeSort(line, to: &c)
                        }
                    }
                    return true
                }
            }
            if !spliced {
                slow.bytes.removeAll(keepingCapacity: true)
                if !first { slow.raw(",") }
                slow.raw(prefix)
                slow.raw(clientID ?? Array(GeneratedID.string(line.lsn).utf8))
                slow.raw("\",\"_score\":null")
                SourceWriter.writeSource(page.logLine(line), filter: source, into: &slow)
                out.writeBytes(slow.bytes)
                out.writeJSON(maxCount: 128) { Self.writeSort(line, to: &$0) }
            }
            first = false
        }
    }

    /// The inside of a hit's `_id` string: the client's (escaped), else the generated one.
    @inline(__always)
    static func writeID(_ line: LinePage.Ref, clientID: [UInt8]?, to c: inout JSONCursor) {
        if let clientID {
            clientID.withUnsafeBytes { c.raw($0) }
        } else {
            withUnsafeTemporaryAllocation(byteCount: GeneratedID.count, alignment: 1) { id in
                GeneratedID.write(line.lsn, into: id)
                c.raw(UnsafeRawBufferPointer(id))
            }
        }
    }

    /// `id` as the inside of a JSON string (escaped, no quotes).
    static func escapedID(_ id: String) -> [UInt8] {
        var text = JSONText(capacity: id.utf8.count + 2)
        text.string(id)
        return Array(text.bytes.dropFirst().dropLast())
    }

    /// `,"sort":[<epoch ms>,"<ns>-<lsn>"]}`: the end of a hit (at most 128 bytes).
    @inline(__always)
    static func writeSort(_ line: LinePage.Ref, to c: inout JSONCursor) {
        c.raw(",\"sort\":[")
        c.number(Self.epochMillis(line.timestamp))
        c.raw(",\"")
        c.number(line.timestamp)
        c.byte(UInt8(ascii: "-"))
        c.number(line.lsn)
        c.raw("\"]}")
    }

    /// `ns` in epoch milliseconds, rounded down.
    static func epochMillis(_ ns: Int64) -> Int64 {
        ns >= 0 ? ns / 1_000_000 : (ns - 999_999) / 1_000_000
    }

    /// The stored fields (a compact JSON object) without its braces, when they can be spliced
    /// into `_source` as they are: nil when they are not an object or hold their own `log` or
    /// `@timestamp` member. Byte scans only: this runs for every line of every `_search` answer.
    /// The same check on bytes: the range of the object's body (nil inside when there is
    /// nothing to add), or nil when the fields cannot be spliced.
    static func splicableFields(_ bytes: UnsafeRawBufferPointer) -> Range<Int>?? {
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == 0x20 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 { end -= 1 }
        if end - start <= 2 { return .some(nil) }  // "" or "{}": nothing to add
        guard bytes[start] == UInt8(ascii: "{"), bytes[end - 1] == UInt8(ascii: "}") else { return nil }
        let body = UnsafeRawBufferPointer(rebasing: bytes[(start + 1)..<(end - 1)])
        if contains(body, "\"log\"") || contains(body, "\"@timestamp\"") { return nil }
        return .some((start + 1)..<(end - 1))
    }

    /// The same check for fields held in a String: the object's body (nil inside when there
    /// is nothing to add), or nil when the fields cannot be spliced.
    static func splicableFields(_ fields: String) -> Substring.UTF8View?? {
        var scratch = fields
        return scratch.withUTF8 { bytes -> Substring.UTF8View?? in
            var start = 0
            var end = bytes.count
            while start < end, bytes[start] == 0x20 { start += 1 }
            while end > start, bytes[end - 1] == 0x20 { end -= 1 }
            if end - start <= 2 { return .some(nil) }  // "" or "{}": nothing to add
            guard bytes[start] == UInt8(ascii: "{"), bytes[end - 1] == UInt8(ascii: "}") else { return nil }
            let body = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[(start + 1)..<(end - 1)])
            if contains(body, "\"log\"") || contains(body, "\"@timestamp\"") { return nil }
            let text = Substring(fields)
            let utf8 = text.utf8
            return .some(utf8[utf8.index(utf8.startIndex, offsetBy: start + 1)..<utf8.index(utf8.startIndex, offsetBy: end - 1)])
        }
    }

    /// Whether `needle` occurs in `haystack`.
    static func contains(_ haystack: UnsafeRawBufferPointer, _ needle: StaticString) -> Bool {
        let n = needle.utf8CodeUnitCount
        guard n > 0, haystack.count >= n, let base = haystack.baseAddress else { return false }
        let first = Int32(needle.utf8Start[0])
        let end = base + haystack.count
        var p = base
        // memchr to each candidate first byte, then compare (a byte loop was 6 % of `_search`).
        while end - p >= n {
            guard let hit = memchr(p, first, end - p - n + 1) else { return false }
            if memcmp(hit, needle.utf8Start, n) == 0 { return true }
            p = UnsafeRawPointer(hit) + 1
        }
        return false
    }
}
