import Foundation

/// FieldTokens are what a block's document fields add to the full-text index (docs/FORMAT.md,
/// "Field tokens"). They start with a byte below `0x06`, which no message token holds, so they
/// share the postings tables (appendable and packed) without a format change of the tables:
///
/// - `0x01 path`: some line of the block has a value at `path` (or below it);
/// - `0x02 path 0x1F value`: some line has this exact value there (a string's text, a number
///   as its `Double` description, `true`/`false`), the value cut to `maxValueBytes`;
/// - `0x03`: the block carries field tokens (blocks written before them do not: a reader
///   treats those as candidates for every field test);
/// - `0x04 path 0x1F type`: the field's type (`text`, `long`, `float`, `boolean`, `date`,
///   `object`) — the per-day field catalog;
/// - `0x05 path`: some line's value there is its own message or time (a template slot): exact
///   values of such a field are not in `0x02` tokens.
/// - `0x06`: the block carries range buckets (`0x07`, `0x08`); blocks without it are read for
///   every range on a field they hold.
/// - `0x07 path 0x1F bits:hex`: some number there falls in this bucket, `0x08 …` some date (a
///   string that reads as a date). A bucket is the first `bits` bits (4, 8, … — every level)
///   of an order-preserving 64-bit key of the value (a Double's bits; nanoseconds since the
///   epoch); numbers go down to 16 bits (1/16 of a power of two), dates to 32 (~4.3 s). A
///   range is covered by a few buckets per level (``RangeBuckets``).
///
/// The index only prunes: a block is read when it may hold a match, and each line is still
/// checked, so a token too many never changes an answer; a token missing would, hence the
/// marker and the slot tokens.
enum FieldTokens {
    static let presence: UInt8 = 0x01
    static let value: UInt8 = 0x02
    static let marker: UInt8 = 0x03
    static let type: UInt8 = 0x04
    static let slot: UInt8 = 0x05
    static let rangeMarker: UInt8 = 0x06
    static let numberBucket: UInt8 = 0x07
    static let dateBucket: UInt8 = 0x08
    static let separator: UInt8 = 0x1F
    static let maxValueBytes = 64

    /// The distinct field tokens of one line (the marker not included).
    static func tokens(fields: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer, timestamp: Int64) -> [[UInt8]] {
        var out: Set<ByteKey> = [ByteKey([rangeMarker])]
        for v in DocumentFields.values(fields: fields, message: message, timestamp: timestamp) {
            out.insert(ByteKey(presenceToken(v.path)))
            out.insert(ByteKey(typeToken(v.path, typeName(v.kind, v.text))))
            // Every enclosing object: present, of type object.
            var i = v.path.count - 1
            while i > 0 {
                if v.path[i] == UInt8(ascii: ".") {
                    let parent = Array(v.path[0..<i])
                    out.insert(ByteKey(presenceToken(parent)))
                    out.insert(ByteKey(typeToken(parent, "object")))
                }
                i -= 1
            }
            if v.slot {
                out.insert(ByteKey(slotToken(v.path)))
            } else {
                out.insert(ByteKey(valueToken(v.path, v.kind == .number ? canonicalNumber(v.text) ?? v.text : v.text)))
                if v.kind == .number, let d = DocumentFields.number(String(decoding: v.text, as: UTF8.self)) {
                    for t in RangeBuckets.number.tokens(v.path, key: RangeBuckets.key(d)) { out.insert(ByteKey(t)) }
                } else if v.kind == .string, let ns = v.text.withUnsafeBufferPointer({ DateText.parse($0) }) {
                    for t in RangeBuckets.date.tokens(v.path, key: RangeBuckets.key(ns)) { out.insert(ByteKey(t)) }
                }
            }
        }
        return out.map(\.bytes)
    }

    static func presenceToken(_ path: [UInt8]) -> [UInt8] { [presence] + path }
    static func slotToken(_ path: [UInt8]) -> [UInt8] { [slot] + path }
    static func typeToken(_ path: [UInt8], _ name: String) -> [UInt8] { [type] + path + [separator] + Array(name.utf8) }
    static func valueToken(_ path: [UInt8], _ text: [UInt8]) -> [UInt8] {
        [value] + path + [separator] + text.prefix(maxValueBytes)
    }

    /// A number's text as its `Double` description (`10`, `10.0` and `1e1` give one token).
    static func canonicalNumber(_ text: [UInt8]) -> [UInt8]? {
        DocumentFields.number(String(decoding: text, as: UTF8.self)).map { Array("\($0)".utf8) }
    }

    /// OpenSearch's dynamic mapping of a value.
    static func typeName(_ kind: DocumentFields.ValueKind, _ text: [UInt8]) -> String {
        switch kind {
        case .bool: return "boolean"
        case .date: return "date"
        case .number: return text.contains { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") } ? "float" : "long"
        case .string: return text.withUnsafeBufferPointer { DateText.parse($0) } != nil ? "date" : "text"
        }
    }
}

/// RangeBuckets: the bucket tokens of numbers and dates (``FieldTokens``, `0x07` and `0x08`) and
/// the buckets that cover a range.
struct RangeBuckets {
    let family: UInt8
    /// The finest level, in bits of the key.
    let finest: Int

    static let number = RangeBuckets(family: FieldTokens.numberBucket, finest: 16)
    static let date = RangeBuckets(family: FieldTokens.dateBucket, finest: 32)

    /// An order-preserving key of a number (`-0` is `0`).
    static func key(_ d: Double) -> UInt64 {
        let bits = (d == 0 ? 0 : d).bitPattern
        return bits >> 63 == 1 ? ~bits : bits | (1 << 63)
    }

    /// An order-preserving key of a time in nanoseconds.
    static func key(_ nanos: Int64) -> UInt64 { UInt64(bitPattern: nanos) ^ (1 << 63) }

    func token(_ path: [UInt8], bits: Int, prefix: UInt64) -> [UInt8] {
        [family] + path + [FieldTokens.separator] + Array("\(bits):\(String(prefix, radix: 16))".utf8)
    }

    /// The buckets of one value: one per level.
    func tokens(_ path: [UInt8], key: UInt64) -> [[UInt8]] {
        stride(from: 4, through: finest, by: 4).map { token(path, bits: $0, prefix: key >> UInt64(64 - $0)) }
    }

    /// Buckets whose union holds every key in `lo...hi` (whole buckets at the coarsest level
    /// that fits, partial ones at the finest): at most 30 per level.
    func cover(_ path: [UInt8], lo: UInt64, hi: UInt64) -> [[UInt8]] {
        var out: [[UInt8]] = []
        func visit(bits: Int, prefix: UInt64) {
            let shift = UInt64(64 - bits)
            let start = prefix << shift
            let end = start | ((1 << shift) - 1)
            if end < lo || start > hi { return }
            if (start >= lo && end <= hi) || bits == finest {
                out.append(token(path, bits: bits, prefix: prefix))
                return
            }
            for c in 0..<UInt64(16) { visit(bits: bits + 4, prefix: prefix << 4 | c) }
        }
        if lo <= hi { for c in 0..<UInt64(16) { visit(bits: 4, prefix: c) } }
        return out
    }

    /// The bucket tokens one of which a block holds when one of its (non-slot) values at `path`
    /// can be in the range `lower`–`upper` (docs/QUERY.md: numbers compare with numeric bounds,
    /// strings with date bounds); nil when buckets cannot tell (a bound that is not a date
    /// compares strings as text).
    static func covering(_ path: [UInt8], lower: RangeBound?, upper: RangeBound?) -> [[UInt8]]? {
        let bounds = [lower, upper].compactMap { $0 }
        if bounds.isEmpty || bounds.contains(where: { $0.date == nil }) { return nil }
        var out: [[UInt8]] = []
        if bounds.allSatisfy({ $0.number != nil }) {
            out += number.cover(path, lo: lower.map { key($0.number!) } ?? 0, hi: upper.map { key($0.number!) } ?? .max)
        }
        out += date.cover(path, lo: lower.map { key($0.date!) } ?? 0, hi: upper.map { key($0.date!) } ?? .max)
        return out
    }
}
