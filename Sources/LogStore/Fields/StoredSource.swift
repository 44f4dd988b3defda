/// StoredSource is how a line's fields value keeps the document as it was sent.
///
/// Two kinds of fields values exist (docs/FORMAT.md, "Fields value"):
/// - **legacy** (written before source templates): a compact JSON object of the members other
///   than the message and the timestamp, which come back as `log` and `@timestamp`;
/// - **template**: byte `0x01`, then the document's object in which the member that gave the
///   message, and the one that gave the timestamp when its text can be rendered again
///   (``TimestampForm``), are *slot members*: a slot byte followed by the member's key (a JSON
///   string as sent, quotes included) and no value. `0x02 KEY`: the message as a JSON string;
///   `0x03 KEY`: the message as raw JSON (a non-string message); `0x04 FORM KEY`: the line's
///   timestamp in that form. Bytes below `0x05` never occur in JSON text outside slots, so a
///   scan finds them without parsing. A stream's documents then share one template (the
///   per-line values live in the message and timestamp columns), which keeps the per-block
///   de-duplication of fields values working.
public enum StoredSource {
    public static let marker: UInt8 = 0x01
    public static let messageSlot: UInt8 = 0x02
    public static let rawMessageSlot: UInt8 = 0x03
    public static let timestampSlot: UInt8 = 0x04

    /// Whether `fields` is a template (else a legacy object, or empty).
    @inlinable
    public static func isTemplate(_ fields: UnsafeRawBufferPointer) -> Bool {
        fields.count > 0 && fields[0] == marker
    }

    /// Whether `fields` is a template.
    public static func isTemplate(_ fields: String) -> Bool { fields.utf8.first == marker }

    /// The most bytes ``writeSource(_:message:timestamp:to:)`` writes for a template.
    @inlinable
    public static func maxSourceCount(fields: Int, message: Int) -> Int {
        fields + JSONCursor.maxStringCount(message) + TimestampForm.maxCount + 8
    }

    /// The pieces of a template: raw runs and slots, found once and reused for every line that
    /// shares the template.
    public struct Template: Sendable {
        public enum Piece: Sendable {
            /// Bytes copied as they are.
            case raw(Range<Int>)
            /// A slot: its kind byte, the timestamp form (0 for message slots) and its key.
            case slot(kind: UInt8, form: UInt8, key: Range<Int>)
        }
        public var pieces: [Piece] = []

        /// The pieces of `fields` (a template, the marker included).
        public init(_ fields: UnsafeRawBufferPointer) {
            var i = 1
            var runStart = 1
            let n = fields.count
            while i < n {
                let b = fields[i]
                if b > StoredSource.timestampSlot || b == 0 {
                    // Skip strings whole: their bytes are never slots.
                    if b == UInt8(ascii: "\"") { i = StoredSource.stringEnd(fields, i) } else { i += 1 }
                    continue
                }
                if runStart < i { pieces.append(.raw(runStart..<i)) }
                var form: UInt8 = 0
                var k = i + 1
                if b == StoredSource.timestampSlot, k < n {
                    form = fields[k]
                    k += 1
                }
                let keyEnd = StoredSource.stringEnd(fields, k)
                pieces.append(.slot(kind: b, form: form, key: k..<keyEnd))
                i = keyEnd
                runStart = i
            }
            if runStart < n { pieces.append(.raw(runStart..<n)) }
        }
    }

    /// The index just past the JSON string starting at the quote `fields[start]` (or the end).
    @usableFromInline
    static func stringEnd(_ fields: UnsafeRawBufferPointer, _ start: Int) -> Int {
        var i = start + 1
        let n = fields.count
        while i < n {
            let b = fields[i]
            if b == UInt8(ascii: "\\") {
                i += 2
                continue
            }
            i += 1
            if b == UInt8(ascii: "\"") { return i }
        }
        return n
    }

    /// Writes the document of a template line: its object with the slots filled from the
    /// line's message and timestamp (room: ``maxSourceCount(fields:message:)``).
    public static func writeSource(
        _ template: Template, fields: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer, timestamp: Int64, to c: inout JSONCursor
    ) {
        for piece in template.pieces {
            switch piece {
            case .raw(let r):
                c.raw(UnsafeRawBufferPointer(rebasing: fields[r]))
            case .slot(let kind, let form, let key):
                c.raw(UnsafeRawBufferPointer(rebasing: fields[key]))
                c.byte(UInt8(ascii: ":"))
                switch kind {
                case messageSlot: c.string(message)
                case rawMessageSlot: if message.isEmpty { c.raw("null") } else { c.raw(message) }
                default:
                    if TimestampForm.isValid(form) {
                        c.position += TimestampForm.write(timestamp, form: form, to: c.position)
                    } else {
                        c.raw("null")
                    }
                }
            }
        }
    }

    /// Writes the members of a template other than its slots (the message and timestamp
    /// members), as a JSON object; at most `fields.count + 2` bytes.
    public static func writeOtherFields(_ template: Template, fields: UnsafeRawBufferPointer, to c: inout JSONCursor) {
        let start = c.position
        for piece in template.pieces {
            switch piece {
            case .raw(let r):
                var bytes = UnsafeRawBufferPointer(rebasing: fields[r])
                // A run after a slot starts with its comma (or is the closing brace); a run before a
                // slot ends with one: drop the comma that would be left doubled or dangling.
                if c.position > start, (c.position - 1).pointee == UInt8(ascii: "{") || (c.position - 1).pointee == UInt8(ascii: ","),
                    bytes.first == UInt8(ascii: ",")
                {
                    bytes = UnsafeRawBufferPointer(rebasing: bytes.dropFirst())
                }
                if c.position > start, (c.position - 1).pointee == UInt8(ascii: ","), bytes.first == UInt8(ascii: "}") {
                    c.position -= 1
                }
                c.raw(bytes)
            case .slot:
                continue
            }
        }
        if c.position == start { c.raw("{}") }
    }

    /// The document of a template line as a String.
    public static func source(fields: String, message: String, timestamp: Int64) -> String {
        var fields = fields
        var message = message
        return fields.withUTF8 { f in
            message.withUTF8 { m in
                let fb = UnsafeRawBufferPointer(f)
                let template = Template(fb)
                let most = maxSourceCount(fields: f.count, message: m.count)
                return String(unsafeUninitializedCapacity: most) { out in
                    var c = JSONCursor(out.baseAddress!)
                    writeSource(template, fields: fb, message: UnsafeRawBufferPointer(m), timestamp: timestamp, to: &c)
                    return c.position - out.baseAddress!
                }
            }
        }
    }

    /// The members other than the message and timestamp, as a JSON object String: a legacy
    /// value as it is, a template without its slots.
    public static func otherFields(_ fields: String) -> String {
        guard isTemplate(fields) else { return fields }
        var fields = fields
        return fields.withUTF8 { f in
            let fb = UnsafeRawBufferPointer(f)
            let template = Template(fb)
            return String(unsafeUninitializedCapacity: f.count + 2) { out in
                var c = JSONCursor(out.baseAddress!)
                writeOtherFields(template, fields: fb, to: &c)
                return c.position - out.baseAddress!
            }
        }
    }
}
