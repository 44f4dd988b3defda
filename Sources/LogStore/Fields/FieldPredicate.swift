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

    public var description: String {
        let name = Query.isBareFieldName(field) ? field : Query.quoted(field)
        switch test {
        case .equals(let v): return name + ":" + (Query.isBareFieldValue(v) ? v : Query.quoted(v))
        case .tokens(let t): return name + ":" + Query.quoted(t.joined(separator: " "))
        case .prefix(let p, _): return name + ":" + (Query.isBareFieldValue(p) ? p : Query.quoted(p)) + "*"
        case .wildcard(let p, _): return name + ":" + p
        case .exists: return name + ":*"
        case .phrasePrefix(let t): return name + ":" + Query.quoted(t.joined(separator: " ")) + "*"
        case .tokenPattern(let p): return name + ":" + p
        case .range(let lower, let upper):
            return name + ":" + (lower?.inclusive == false ? "{" : "[") + (lower?.text ?? "*") + " TO " + (upper?.text ?? "*")
                + (upper?.inclusive == false ? "}" : "]")
        }
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
