/// GeneratedID is the `_id` of a line sent without one: its LSN as 11 URL-safe base64
/// characters, most significant first (`AAAAAAAAAAB` for LSN 1), stable across restarts and compaction (LSNs are never
/// reused) and shaped like OpenSearch's generated ids, so that it does not meet the short
/// numbers clients pick as their own ids.
public enum GeneratedID {
    /// Characters of a generated id.
    public static let count = 11
    static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Writes the id of `lsn` into `out` (at least ``count`` bytes).
    @inline(__always)
    public static func write(_ lsn: LSN, into out: UnsafeMutableRawBufferPointer) {
        for i in 0..<count { out[i] = alphabet[Int((lsn >> UInt64(60 - 6 * i)) & 63)] }
    }

    /// The id of `lsn`.
    public static func string(_ lsn: LSN) -> String {
        String(unsafeUninitializedCapacity: count) { buffer in
            write(lsn, into: UnsafeMutableRawBufferPointer(buffer))
            return count
        }
    }

    /// The LSN a generated id names, nil when `id` is not one.
    public static func lsn(_ id: String) -> LSN? {
        let bytes = Array(id.utf8)
        guard bytes.count == count else { return nil }
        var value: UInt64 = 0
        for (i, byte) in bytes.enumerated() {
            guard let digit = alphabet.firstIndex(of: byte) else { return nil }
            if i == 0 && digit >= 16 { return nil }  // more than 64 bits
            value = value << 6 | UInt64(digit)
        }
        return value
    }
}
