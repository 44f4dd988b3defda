/// FieldPredicate is a test on the values a document holds at one field (docs/QUERY.md,
/// "Fields"): a dotted path that names nested objects and flat dotted keys alike, arrays
/// giving several values. A line matches when one of its values passes.
public struct FieldPredicate: Sendable, Hashable, CustomStringConvertible {
    /// The dotted field name (without `.keyword`); empty: the line's message itself.
    public var field: String
    public var test: Test

    public enum Test: Sendable, Hashable {
        /// The value is exactly this text: strings compared as they are (case-sensitive),
        /// numbers also by numeric value, booleans as `true`/`false`, the time field also as a date.
        case equals(String)
        /// These (lowercased) tokens appear consecutively among the value's tokens (`Tokenizer`).
        case tokens([String])
        /// The value's text starts with this.
        case prefix(String, caseInsensitive: Bool)
        /// The value's text matches this pattern (`*` any run, `?` any one character).
        case wildcard(String, caseInsensitive: Bool)
        /// The field has a value other than null (an object field: one of its fields has).
        case exists
        /// The value lies within these bounds.
        case range(lower: RangeBound?, upper: RangeBound?)
        /// These (lowercased) tokens appear consecutively, the last one as a prefix of a token.
        case phrasePrefix([String])
        /// Some token of the value (lowercased) matches this pattern (`*`, `?`).
        case tokenPattern(String)
    }

    public init(field: String, test: Test) {
        self.field = field
        self.test = test
    }

    /// The query-language form, which `QueryParser` reads back to this predicate (the
    /// predicates it makes; `tokens`, `phrasePrefix` and `tokenPattern` come from the DSL only).
    public var description: String {
        var name = Self.escaped(field, keeping: Self.isNameCharacter)
        if QueryField(rawValue: field.lowercased()) != nil, field.count > 1 {
            // `job:x` would name the stream's job; `j\ob:x` is the document field.
            name.insert("\\", at: name.index(after: name.startIndex))
        }
        switch test {
        case .equals(let v): return name + ":" + (v.isEmpty ? "\"\"" : Self.escapedValue(v, wildcards: false))
        case .tokens(let t): return name + ":" + Query.quoted(t.joined(separator: " "))
        case .prefix(let p, _): return name + ":" + Self.escapedValue(p, wildcards: false) + "*"
        case .wildcard(let p, _): return name + ":" + Self.escapedValue(p, wildcards: true)
        case .exists: return name + ":*"
        case .phrasePrefix(let t): return name + ":" + Query.quoted(t.joined(separator: " ")) + "*"
        case .tokenPattern(let p): return name + ":" + p
        case .range(let lower, let upper):
            return name + ":" + (lower?.inclusive == false ? "{" : "[") + (lower?.text ?? "*") + " TO " + (upper?.text ?? "*")
                + (upper?.inclusive == false ? "}" : "]")
        }
    }

    /// `text` with a backslash before each character `keeping` refuses. A cluster holding a
    /// syntax character is read back scalar by scalar (`QueryParser.characters`), so it is
    /// escaped scalar by scalar too (a backslash with a combining mark is a backslash, then a
    /// mark, each escaped).
    static func escaped(_ text: String, keeping: (Character) -> Bool) -> String {
        var out = ""
        for c in text {
            if c.unicodeScalars.count > 1, holdsSyntax(c) {
                for scalar in c.unicodeScalars {
                    if !keeping(Character(scalar)) { out.unicodeScalars.append("\\") }
                    out.unicodeScalars.append(scalar)
                }
                continue
            }
            if !keeping(c) { out.append("\\") }
            out.append(c)
        }
        return out
    }

    /// Whether `c` may stand unescaped in a field name of the query language: a letter, digit,
    /// `_ . - @ /`. A cluster counts by its first scalar, as `isLetter` and `isNumber` do
    /// (`@` with combining marks is one cluster when printed, two characters when the marks
    /// were escaped in the text parsed).
    static func isNameCharacter(_ c: Character) -> Bool {
        c.isLetter || c.isNumber || c.unicodeScalars.first.map { "_.-@/".unicodeScalars.contains($0) } == true
    }

    /// Whether a field name may start with `c`: a letter, `_` or `@` (by its first scalar).
    static func isNameStart(_ c: Character) -> Bool {
        c.isLetter || c.unicodeScalars.first.map { $0 == "_" || $0 == "@" } == true
    }

    /// The syntax characters the query parser splits from the combining marks after them
    /// (`QueryParser.characters`), so the printer escapes by the same set.
    static let splitSyntax = "\"()-:*?\\[]{}"

    /// Whether the grapheme cluster `c` holds whitespace or a syntax character anywhere: the
    /// query parser reads such a cluster scalar by scalar.
    static func holdsSyntax(_ c: Character) -> Bool {
        c.unicodeScalars.contains(where: isSyntax)
    }

    /// A scalar `holdsSyntax` looks for: whitespace or one of `splitSyntax`.
    static func isSyntax(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isWhitespace || splitSyntax.unicodeScalars.contains(scalar)
    }

    /// A value as the parser reads it back: syntax characters escaped (`*` and `?` too unless
    /// they are the pattern's `wildcards`), and a first `<`, `>`, `[` or `{` escaped so that it
    /// is not read as a range. A syntax character carrying combining marks is one `Character`
    /// here but is read as itself followed by the marks (`QueryParser.characters`).
    static func escapedValue(_ value: String, wildcards: Bool) -> String {
        var out = ""
        func isSyntax(_ c: Unicode.Scalar, first: Bool) -> Bool {
            c.properties.isWhitespace || "\"()\\".unicodeScalars.contains(c) || (!wildcards && (c == "*" || c == "?"))
                || (first && "<>[{".unicodeScalars.contains(c))
        }
        for (i, c) in value.enumerated() {
            let scalars = c.unicodeScalars
            if scalars.count > 1, Self.holdsSyntax(c) {
                for (k, scalar) in scalars.enumerated() {
                    if isSyntax(scalar, first: i == 0 && k == 0) { out.unicodeScalars.append("\\") }
                    out.unicodeScalars.append(scalar)
                }
            } else if scalars.count == 1, let only = scalars.first {
                if isSyntax(only, first: i == 0) { out.append("\\") }
                out.append(c)
            } else {
                out.append(c)
            }
        }
        return out
    }
}

/// One end of a range, read every way it can be compared: a number value is compared with
/// `number`, a date (the time field, a string that reads as a date) with `date`, another
/// string with `text` (byte order) when the bound is not a date.
public struct RangeBound: Sendable, Hashable {
    public var text: String
    public var number: Double?
    public var date: Int64?
    public var inclusive: Bool

    public init(text: String, number: Double?, date: Int64?, inclusive: Bool) {
        self.text = text
        self.number = number
        self.date = date
        self.inclusive = inclusive
    }
}
