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
    static let separator: UInt8 = 0x1F
    static let maxValueBytes = 64

    /// The distinct field tokens of one line (the marker not included).
    static func tokens(fields: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer, timestamp: Int64) -> [[UInt8]] {
        var out = Set<[UInt8]>()
        for v in DocumentFields.values(fields: fields, message: message, timestamp: timestamp) {
            out.insert(presenceToken(v.path))
            out.insert(typeToken(v.path, typeName(v.kind, v.text)))
            // Every enclosing object: present, of type object.
            var i = v.path.count - 1
            while i > 0 {
                if v.path[i] == UInt8(ascii: ".") {
                    let parent = Array(v.path[0..<i])
                    out.insert(presenceToken(parent))
                    out.insert(typeToken(parent, "object"))
                }
                i -= 1
            }
            if v.slot {
                out.insert(slotToken(v.path))
            } else {
                out.insert(valueToken(v.path, v.kind == .number ? canonicalNumber(v.text) ?? v.text : v.text))
            }
        }
        return Array(out)
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
