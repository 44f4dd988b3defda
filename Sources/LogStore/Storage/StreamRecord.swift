/// The stream record (`Keys.encodeStreamKey`): index, workflow and job. REANA's workflows are
/// UUIDs and its jobs `reana-run-job-<UUID>`: a part ending in a UUID written in canonical
/// lowercase form (8-4-4-4-12 hex digits) keeps those 36 characters as 16 bytes.
///
/// Layout: 0x80 0x00 (a varint never starts so, which tells it from the plain form of three
/// length-prefixed strings), then per part a varint `h`: `h` even, `h / 2` UTF-8 bytes follow;
/// `h` odd, `h / 2` UTF-8 bytes of prefix and the UUID's 16 bytes follow.
enum StreamRecord {
    static let mark: [UInt8] = [0x80, 0x00]

    static func encode(_ key: StreamKey) -> [UInt8] {
        var w = ByteWriter(capacity: key.index.utf8.count + key.workflow.utf8.count + key.job.utf8.count + 6)
        w.append(mark)
        for part in [key.index, key.workflow, key.job] { append(part, to: &w) }
        return w.bytes
    }

    /// Reads either form.
    static func decode(_ bytes: UnsafeRawBufferPointer) throws(CorruptDataError) -> StreamKey {
        var r = ByteReader(bytes)
        guard bytes.count >= 2, bytes[0] == mark[0], bytes[1] == mark[1] else {
            let index = try r.lengthPrefixedString()
            let workflow = try r.lengthPrefixedString()
            let job = try r.lengthPrefixedString()
            return StreamKey(index: index, workflow: workflow, job: job)
        }
        r = ByteReader(bytes, offset: 2)
        let index = try part(&r)
        let workflow = try part(&r)
        let job = try part(&r)
        return StreamKey(index: index, workflow: workflow, job: job)
    }

    private static func append(_ part: String, to w: inout ByteWriter) {
        let utf8 = Array(part.utf8)
        if utf8.count >= 36, let uuid = uuidBytes(utf8[(utf8.count - 36)...]) {
            let prefix = utf8.count - 36
            w.varint(UInt64(prefix) << 1 | 1)
            w.append(utf8[..<prefix])
            w.append(uuid)
        } else {
            w.varint(UInt64(utf8.count) << 1)
            w.append(utf8)
        }
    }

    private static func part(_ r: inout ByteReader) throws(CorruptDataError) -> String {
        let h = try r.varint()
        guard h >> 1 <= UInt64(r.remaining) else { throw CorruptDataError("stream record part of \(h >> 1) bytes exceeds the record") }
        var utf8 = try r.bytes(Int(h >> 1)).array
        if h & 1 == 1 {
            let uuid = try r.bytes(16)
            for (i, byte) in uuid.enumerated() {
                if i == 4 || i == 6 || i == 8 || i == 10 { utf8.append(UInt8(ascii: "-")) }
                utf8.append(hex[Int(byte >> 4)])
                utf8.append(hex[Int(byte & 15)])
            }
        }
        return String(decoding: utf8, as: UTF8.self)
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// The 16 bytes of a UUID in canonical lowercase form, or nil.
    private static func uuidBytes(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(16)
        var high: UInt8? = nil
        for (i, c) in text.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                guard c == UInt8(ascii: "-") else { return nil }
                continue
            }
            let v: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = c - UInt8(ascii: "a") + 10
            default: return nil
            }
            if let h = high {
                out.append(h << 4 | v)
                high = nil
            } else {
                high = v
            }
        }
        return out.count == 16 ? out : nil
    }
}
