import Foundation

/// DocumentFields finds a line's values by field and runs ``FieldPredicate``s on them.
///
/// One pass over the stored fields value (a legacy object or a ``StoredSource`` template):
/// objects are flattened to dotted paths (`{"a":{"b":1}}` and `{"a.b":1}` are both `a.b`),
/// arrays give each element the array's path, the message slot is a string value (a
/// non-string message is walked as JSON), the timestamp slot a date. A legacy value also has
/// `log` (the message) and `@timestamp` (the time). No object tree is built.
public struct DocumentFields: Sendable {
    /// The predicates, with what they compare prepared once.
    struct Prepared: Sendable {
        let field: [UInt8]
        let test: FieldPredicate.Test
        let value: [UInt8]
        let number: Double?
        let date: Int64?
        let tokens: [String]
        let pattern: [Unicode.Scalar]
    }
    let predicates: [Prepared]

    public init(_ predicates: [FieldPredicate]) {
        self.predicates = predicates.map { p in
            var value: [UInt8] = []
            var number: Double?
            var date: Int64?
            var tokens: [String] = []
            var pattern: [Unicode.Scalar] = []
            switch p.test {
            case .equals(let v):
                value = Array(v.utf8)
                number = DocumentFields.number(v)
                date = DateText.parse(v)
            case .tokens(let t), .phrasePrefix(let t): tokens = t
            case .tokenPattern(let v): pattern = Array(v.unicodeScalars)
            case .prefix(let v, let ci): value = Array((ci ? v.lowercased() : v).utf8)
            case .wildcard(let v, let ci): pattern = Array((ci ? v.lowercased() : v).unicodeScalars)
            case .exists, .range: break
            }
            return Prepared(
                field: Array(p.field.utf8), test: p.test, value: value, number: number, date: date, tokens: tokens, pattern: pattern)
        }
    }

    /// A JSON number text as a Double (nil for other texts).
    public static func number(_ text: String) -> Double? {
        guard let first = text.utf8.first, first == UInt8(ascii: "-") || first &- 0x30 < 10 else { return nil }
        guard let d = Double(text), d.isFinite else { return nil }
        return d
    }

    /// Sets `state[leaves[k]]` to 1 when some value of predicate k's field passes it, else 2.
    /// Returns whether a result depends on the line's own message or time (else it holds for
    /// every line with these fields bytes).
    @discardableResult
    public func evaluate(
        fields: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer, timestamp: Int64, leaves: [Int32],
        state: UnsafeMutablePointer<UInt8>
    ) -> Bool {
        var walk = false
        var dependent = false
        for (k, p) in predicates.enumerated() {
            if p.field.isEmpty {
                // The message itself.
                state[Int(leaves[k])] = passes(p, kind: .string, text: message, date: 0) ? 1 : 2
                dependent = true
            } else {
                state[Int(leaves[k])] = 2
                walk = true
            }
        }
        guard walk else { return dependent }
        var walker = Walker(owner: self, leaves: leaves, state: state)
        walker.walkDocument(fields: fields, message: message, timestamp: timestamp)
        return dependent || walker.touchedSlot || StoredSource.isTemplate(fields) && fields.contains(StoredSource.rawMessageSlot)
    }

    /// The results of every predicate on one line (tests and tools).
    public func evaluate(fields: [UInt8], message: [UInt8], timestamp: Int64) -> [Bool] {
        var state = [UInt8](repeating: 0, count: predicates.count)
        let leaves = (0..<predicates.count).map(Int32.init)
        _ = fields.withUnsafeBytes { f in
            message.withUnsafeBytes { m in
                state.withUnsafeMutableBufferPointer { s in
                    evaluate(fields: f, message: m, timestamp: timestamp, leaves: leaves, state: s.baseAddress!)
                }
            }
        }
        return state.map { $0 == 1 }
    }

    /// Every (path, value) of a line, values as text: for tools, tests and the field catalog.
    public static func values(fields: [UInt8], message: [UInt8], timestamp: Int64) -> [(path: String, kind: ValueKind, text: String)] {
        fields.withUnsafeBytes { f in
            message.withUnsafeBytes { m in
                values(fields: f, message: m, timestamp: timestamp).map {
                    (String(decoding: $0.path, as: UTF8.self), $0.kind, String(decoding: $0.text, as: UTF8.self))
                }
            }
        }
    }

    /// Every (path, value) of a line; `slot`: the value is the line's own message or time
    /// (a slot of a template, or `log`/`@timestamp` of a legacy value).
    static func values(fields: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer, timestamp: Int64)
        -> [(path: [UInt8], kind: ValueKind, text: [UInt8], slot: Bool)]
    {
        var out: [(path: [UInt8], kind: ValueKind, text: [UInt8], slot: Bool)] = []
        var walker = Walker(owner: DocumentFields([]), leaves: [], state: nil)
        walker.collect = { path, kind, text, slot in out.append((Array(path), kind, Array(text), slot)) }
        walker.walkDocument(fields: fields, message: message, timestamp: timestamp)
        return out
    }

    /// The kind of a value.
    public enum ValueKind: UInt8, Sendable {
        case string, number, bool, date
    }

    // MARK: - Tests

    /// Whether the tokens of `text` hold `want` (lowercased tokens) in a row; an empty phrase
    /// is held by any text. The phrase test of the matcher and of the index's value listings.
    static func holdsPhrase(_ text: some Collection<UInt8>, _ want: [String]) -> Bool {
        let tokens = Tokenizer.tokens(text)
        guard !want.isEmpty, want.count <= tokens.count else { return want.isEmpty }
        for start in 0...(tokens.count - want.count) where tokens[start..<(start + want.count)].elementsEqual(want) { return true }
        return false
    }

    func passes(_ p: Prepared, kind: ValueKind, text: UnsafeRawBufferPointer, date: Int64) -> Bool {
        switch p.test {
        case .exists:
            return true
        case .equals:
            if Self.equal(text, p.value) { return true }
            switch kind {
            case .number:
                guard let q = p.number, let v = Self.number(String(decoding: text, as: UTF8.self)) else { return false }
                return q == v
            case .date:
                return p.date == date
            default:
                return false
            }
        case .tokens:
            return Self.holdsPhrase(text, p.tokens)
        case .prefix(_, let ci):
            if ci {
                return Array(String(decoding: text, as: UTF8.self).lowercased().utf8).starts(with: p.value)
            }
            return text.count >= p.value.count && Self.equal(UnsafeRawBufferPointer(rebasing: text[0..<p.value.count]), p.value)
        case .wildcard(_, let ci):
            var s = String(decoding: text, as: UTF8.self)
            if ci { s = s.lowercased() }
            return Self.glob(p.pattern, Array(s.unicodeScalars))
        case .range(let lower, let upper):
            return Self.inRange(kind: kind, text: text, date: date, lower: lower, upper: upper)
        case .phrasePrefix:
            let tokens = Tokenizer.tokens(String(decoding: text, as: UTF8.self))
            let want = p.tokens
            guard let last = want.last, want.count <= tokens.count else { return want.isEmpty }
            for start in 0...(tokens.count - want.count) {
                var all = tokens[start + want.count - 1].hasPrefix(last)
                var j = 0
                while all && j < want.count - 1 {
                    if tokens[start + j] != want[j] { all = false }
                    j += 1
                }
                if all { return true }
            }
            return false
        case .tokenPattern:
            let tokens = Tokenizer.tokens(String(decoding: text, as: UTF8.self))
            return tokens.contains { Self.glob(p.pattern, Array($0.unicodeScalars)) }
        }
    }

    static func inRange(kind: ValueKind, text: UnsafeRawBufferPointer, date: Int64, lower: RangeBound?, upper: RangeBound?) -> Bool {
        // -1, 0, 1: the value against a bound; nil: not comparable.
        func compare(_ b: RangeBound) -> Int? {
            switch kind {
            case .number:
                guard let q = b.number, let v = number(String(decoding: text, as: UTF8.self)) else { return nil }
                return v < q ? -1 : v > q ? 1 : 0
            case .date:
                guard let q = b.date ?? b.number.flatMap({ $0.magnitude < 9e12 ? Int64(($0 * 1_000_000).rounded()) : nil }) else { return nil }
                return date < q ? -1 : date > q ? 1 : 0
            case .string:
                if let q = b.date {
                    guard let v = text.withMemoryRebound(to: UInt8.self, { DateText.parse($0) }) else { return nil }
                    return v < q ? -1 : v > q ? 1 : 0
                }
                let q = Array(b.text.utf8)
                let v = Array(text)
                return v.lexicographicallyPrecedes(q) ? -1 : v == q ? 0 : 1
            case .bool:
                return nil
            }
        }
        if let lower {
            guard let c = compare(lower), c > 0 || (c == 0 && lower.inclusive) else { return false }
        }
        if let upper {
            guard let c = compare(upper), c < 0 || (c == 0 && upper.inclusive) else { return false }
        }
        return true
    }

    @inline(__always)
    static func equal(_ a: UnsafeRawBufferPointer, _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if b.isEmpty { return true }
        return b.withUnsafeBytes { memcmp(a.baseAddress!, $0.baseAddress!, b.count) == 0 }
    }

    /// `*` matches any run of characters, `?` exactly one; iterative with backtracking to the last star.
    static func glob(_ pattern: [Unicode.Scalar], _ text: [Unicode.Scalar]) -> Bool {
        Glob.matches(pattern, text, star: "*", single: "?")
    }

    // MARK: - The walk

    struct Walker {
        let owner: DocumentFields
        let leaves: [Int32]
        let state: UnsafeMutablePointer<UInt8>?
        var path: [UInt8] = []
        var scratch: [UInt8] = []
        var collect: ((ArraySlice<UInt8>, ValueKind, UnsafeRawBufferPointer, Bool) -> Void)?
        /// Whether the values visited now are a slot's (the line's message or time).
        var inSlot = false
        /// Whether a predicate looked at a slot's value.
        var touchedSlot = false

        init(owner: DocumentFields, leaves: [Int32], state: UnsafeMutablePointer<UInt8>?) {
            self.owner = owner
            self.leaves = leaves
            self.state = state
        }

        mutating func walkDocument(fields: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer, timestamp: Int64) {
            if StoredSource.isTemplate(fields) {
                walkObject(fields, 1, message: message, timestamp: timestamp)
                return
            }
            // A legacy value: `log` and `@timestamp`, then the object.
            inSlot = true
            enter(Array("log".utf8)[...])
            visit(.string, message, 0)
            leave(0)
            enter(Array("@timestamp".utf8)[...])
            visitDate(timestamp, form: Self.canonicalForm(timestamp))
            leave(0)
            inSlot = false
            if fields.count > 0 { walkObject(fields, 0, message: message, timestamp: timestamp) }
        }

        /// The RFC 3339 form `Timestamp.formatRFC3339` writes for `nanos`.
        static func canonicalForm(_ nanos: Int64) -> UInt8 {
            let fraction = ((nanos % 1_000_000_000) + 1_000_000_000) % 1_000_000_000
            return 0x30 + (fraction % 1_000_000 == 0 ? 3 : fraction % 1_000 == 0 ? 6 : 9)
        }

        mutating func visitDate(_ nanos: Int64, form: UInt8) {
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: TimestampForm.maxCount) { buffer in
                var n = TimestampForm.write(nanos, form: form, to: buffer.baseAddress!)
                var start = 0
                if buffer[0] == UInt8(ascii: "\"") {
                    start = 1
                    n -= 1
                }
                visit(.date, UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[start..<n]), nanos)
            }
        }

        /// Runs the predicates on one value at the current path.
        mutating func visit(_ kind: ValueKind, _ text: UnsafeRawBufferPointer, _ date: Int64) {
            if let collect { collect(path[...], kind, text, inSlot) }
            guard let state else { return }
            for (k, p) in owner.predicates.enumerated() {
                let leaf = Int(leaves[k])
                if state[leaf] == 1 || p.field.isEmpty { continue }
                if p.field == path {
                    if inSlot { touchedSlot = true }
                    if owner.passes(p, kind: kind, text: text, date: date) { state[leaf] = 1 }
                } else if case .exists = p.test, path.count > p.field.count, path[p.field.count] == UInt8(ascii: "."),
                    path.starts(with: p.field)
                {
                    state[leaf] = 1
                }
            }
        }

        /// Appends `.key` (or `key` at the top) to the path; returns the length to go back to.
        mutating func enter(_ key: ArraySlice<UInt8>) {
            if !path.isEmpty { path.append(UInt8(ascii: ".")) }
            path.append(contentsOf: key)
        }

        mutating func leave(_ length: Int) { path.removeLast(path.count - length) }

        static func skipSpace(_ b: UnsafeRawBufferPointer, _ i: Int) -> Int {
            var i = i
            while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
            return i
        }

        /// The decoded text of the JSON string at `b[start]` (a quote), and the index after it.
        mutating func string(_ b: UnsafeRawBufferPointer, _ start: Int) -> (text: [UInt8], end: Int) {
            let end = StoredSource.stringEnd(b, start)
            let inner = UnsafeRawBufferPointer(rebasing: b[(start + 1)..<max(start + 1, end - 1)])
            return (Self.unescape(inner), end)
        }

        /// Walks the object at `b[i]` (`{`); returns the index after it.
        @discardableResult
        mutating func walkObject(_ b: UnsafeRawBufferPointer, _ i: Int, message: UnsafeRawBufferPointer, timestamp: Int64) -> Int {
            var i = Self.skipSpace(b, i)
            guard i < b.count, b[i] == UInt8(ascii: "{") else { return b.count }
            i += 1
            let base = path.count
            while true {
                i = Self.skipSpace(b, i)
                guard i < b.count else { return i }
                let c = b[i]
                if c == UInt8(ascii: "}") { return i + 1 }
                if c == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                if c <= StoredSource.timestampSlot && c >= StoredSource.messageSlot {
                    // A slot member: `kind [form] "key"`.
                    var k = i + 1
                    var form: UInt8 = 0
                    if c == StoredSource.timestampSlot, k < b.count {
                        form = b[k]
                        k += 1
                    }
                    let (key, end) = string(b, k)
                    enter(key[...])
                    inSlot = true
                    switch c {
                    case StoredSource.messageSlot: visit(.string, message, 0)
                    case StoredSource.rawMessageSlot: _ = walkValue(message, 0, message: message, timestamp: timestamp)
                    default: if TimestampForm.isValid(form) { visitDate(timestamp, form: form) }
                    }
                    inSlot = false
                    leave(base)
                    i = end
                    continue
                }
                guard c == UInt8(ascii: "\"") else { return b.count }
                let (key, keyEnd) = string(b, i)
                i = Self.skipSpace(b, keyEnd)
                guard i < b.count, b[i] == UInt8(ascii: ":") else { return b.count }
                enter(key[...])
                i = walkValue(b, i + 1, message: message, timestamp: timestamp)
                leave(base)
            }
        }

        /// Walks the value at `b[i]` (after spaces); returns the index after it.
        mutating func walkValue(_ b: UnsafeRawBufferPointer, _ i: Int, message: UnsafeRawBufferPointer, timestamp: Int64) -> Int {
            var i = Self.skipSpace(b, i)
            guard i < b.count else { return i }
            switch b[i] {
            case UInt8(ascii: "{"):
                return walkObject(b, i, message: message, timestamp: timestamp)
            case UInt8(ascii: "["):
                i += 1
                while true {
                    i = Self.skipSpace(b, i)
                    guard i < b.count else { return i }
                    if b[i] == UInt8(ascii: "]") { return i + 1 }
                    if b[i] == UInt8(ascii: ",") {
                        i += 1
                        continue
                    }
                    let next = walkValue(b, i, message: message, timestamp: timestamp)
                    if next <= i { return b.count }
                    i = next
                }
            case UInt8(ascii: "\""):
                let end = StoredSource.stringEnd(b, i)
                let inner = UnsafeRawBufferPointer(rebasing: b[(i + 1)..<max(i + 1, end - 1)])
                if inner.contains(UInt8(ascii: "\\")) {
                    let text = Self.unescape(inner)
                    text.withUnsafeBytes { visit(.string, $0, 0) }
                } else {
                    visit(.string, inner, 0)
                }
                return end
            default:
                var j = i
                while j < b.count {
                    let c = b[j]
                    if c == UInt8(ascii: ",") || c == UInt8(ascii: "}") || c == UInt8(ascii: "]") || c == 0x20 || c == 0x0A || c == 0x0D
                        || c == 0x09
                    {
                        break
                    }
                    j += 1
                }
                let text = UnsafeRawBufferPointer(rebasing: b[i..<j])
                switch b[i] {
                case UInt8(ascii: "n"): break  // null: no value
                case UInt8(ascii: "t"), UInt8(ascii: "f"): visit(.bool, text, 0)
                default: visit(.number, text, 0)
                }
                return max(j, i + 1)
            }
        }

        /// The text of a JSON string's inside, escapes decoded.
        static func unescape(_ s: UnsafeRawBufferPointer) -> [UInt8] {
            var out: [UInt8] = []
            out.reserveCapacity(s.count)
            var i = 0
            func hex(_ at: Int) -> UInt32? {
                guard at + 4 <= s.count else { return nil }
                var v: UInt32 = 0
                for k in at..<(at + 4) {
                    let c = s[k]
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
            while i < s.count {
                let c = s[i]
                guard c == UInt8(ascii: "\\"), i + 1 < s.count else {
                    out.append(c)
                    i += 1
                    continue
                }
                let e = s[i + 1]
                i += 2
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    guard var v = hex(i) else { continue }
                    i += 4
                    if v >= 0xD800 && v < 0xDC00, i + 6 <= s.count, s[i] == UInt8(ascii: "\\"), s[i + 1] == UInt8(ascii: "u"),
                        let low = hex(i + 2), low >= 0xDC00 && low < 0xE000
                    {
                        v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    }
                    let scalar = Unicode.Scalar(v) ?? "\u{FFFD}"
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: out.append(e)
                }
            }
            return out
        }
    }
}
