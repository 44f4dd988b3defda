/// A full-text query over log lines, as parsed by `QueryParser` (syntax in docs/QUERY.md).
///
/// Text predicates (`term`, `prefix`, `phrase`) look at the message's tokens (see `Tokenizer`);
/// `field` predicates look at the line's stream. `QueryParser` returns normalized queries (see
/// `normalized()`); `QueryMatcher` normalizes whatever it is given.
public indirect enum Query: Sendable, Hashable, CustomStringConvertible {
    /// Every line (the empty query, or `*`).
    case all
    /// Some token of the message equals this (lowercased) token.
    case term(String)
    /// Some token of the message starts with this (lowercased) text: `word*`.
    case prefix(String)
    /// These tokens appear consecutively in the message: `"exact phrase"`.
    case phrase([String])
    /// The stream's workflow, job or index equals this value exactly (case-sensitive).
    case field(QueryField, String)
    /// A test on the document's values at one field (`level:ERROR`, `status>=500`).
    case doc(FieldPredicate)
    /// The line is one of these (by LSN): an `ids` query, its `_id`s resolved by
    /// `Storage.lsns(ofDocumentIDs:)`. Written `_lsn:(1 2 3)`, which the parser does not read.
    case lsns(Set<LSN>)
    /// Every operand matches.
    case and([Query])
    /// At least one operand matches.
    case or([Query])
    /// The operand does not match.
    case not(Query)

    /// True for the query that matches every line.
    public var isMatchAll: Bool { self == .all }

    /// The values one of which `field` must equal for a line to match (a job log's query names
    /// its job); nil when the query does not restrict `field` that way.
    public func requiredValues(of field: QueryField) -> Set<String>? {
        switch self {
        case .field(let f, let value):
            return f == field ? [value] : nil
        case .and(let operands):
            var result: Set<String>?
            for operand in operands {
                if let values = operand.requiredValues(of: field) { result = result.map { $0.intersection(values) } ?? values }
            }
            return result
        case .or(let operands):
            if operands.isEmpty { return [] }
            var result = Set<String>()
            for operand in operands {
                guard let values = operand.requiredValues(of: field) else { return nil }
                result.formUnion(values)
            }
            return result
        case .not(let operand):
            return operand == .all ? [] : nil
        case .all, .term, .prefix, .phrase, .doc, .lsns:
            return nil
        }
    }

    /// The canonical text form: parsing it gives back the same (normalized) query.
    ///
    /// AND is written as juxtaposition, OR as ` OR `, NOT as a leading `-`; an AND inside an OR
    /// and any group under NOT are parenthesized.
    public var description: String {
        switch self {
        case .all:
            return "*"
        case .term(let t):
            return Query.isBareToken(t) ? t : Query.quoted(t)
        case .prefix(let p):
            return (Query.isBareToken(p) ? p : Query.quoted(p)) + "*"
        case .phrase(let tokens):
            return Query.quoted(tokens.joined(separator: " "))
        case .field(let f, let value):
            return "\(f.rawValue):" + (Query.isBareFieldValue(value) ? value : Query.quoted(value))
        case .doc(let predicate):
            return predicate.description
        case .lsns(let lsns):
            return "_lsn:(" + lsns.sorted().map(String.init).joined(separator: " ") + ")"
        case .and(let operands):
            if operands.isEmpty { return "*" }
            return operands.map { $0.isGroup ? "(\($0))" : $0.description }.joined(separator: " ")
        case .or(let operands):
            if operands.isEmpty { return "-*" }
            return operands.map { $0.isGroup ? "(\($0))" : $0.description }.joined(separator: " OR ")
        case .not(let operand):
            switch operand {
            case .and, .or, .not: return "-(\(operand))"
            default: return "-\(operand)"
            }
        }
    }

    /// The equivalent query in normal form; `QueryParser` always returns this form.
    ///
    /// - Terms, phrases and prefixes are run through `Tokenizer` (lowercased, split, cut to
    ///   `Tokenizer.maxTokenBytes`): a term that splits into several tokens becomes a phrase, a
    ///   one-token phrase becomes a term, and a prefix whose text splits (`reana-run*`) becomes
    ///   the AND of the phrase before the last separator and a prefix on the last token.
    /// - A text predicate with no token at all (`"--"`) constrains nothing and is dropped, as is
    ///   anything built only from such predicates (a NOT or group of them too); if nothing is
    ///   left the query is `.all`.
    /// - Nested AND/OR are flattened, duplicate operands removed, one-operand AND/OR collapse to
    ///   the operand, `.all` disappears from an AND and absorbs an OR, `NOT NOT x` is `x`. An AND
    ///   containing `NOT *` is `NOT *` (nothing matches); `NOT *` disappears from an OR.
    public func normalized() -> Query { normalizedOrNil() ?? .all }

    /// nil: the query constrains nothing (only token-less text), and is dropped by its parent.
    func normalizedOrNil() -> Query? {
        switch self {
        case .all:
            return .all
        case .term(let t):
            return Query.textQuery(Tokenizer.tokens(t))
        case .phrase(let parts):
            return Query.textQuery(parts.flatMap { Tokenizer.tokens($0) })
        case .prefix(let body):
            return Query.prefixQuery(body)
        case .field, .doc:
            return self
        case .lsns(let lsns):
            return lsns.isEmpty ? .not(.all) : self
        case .not(let operand):
            guard let inner = operand.normalizedOrNil() else { return nil }
            if case .not(let x) = inner { return x }
            return .not(inner)
        case .and(let operands):
            var flat: [Query] = []
            var any = false
            for operand in operands {
                guard let q = operand.normalizedOrNil() else { continue }
                any = true
                let parts: [Query]
                if case .and(let inner) = q { parts = inner } else { parts = [q] }
                for part in parts {
                    if part == .all { continue }
                    if part == .not(.all) { return .not(.all) }
                    if !flat.contains(part) { flat.append(part) }
                }
            }
            if !any { return operands.isEmpty ? .all : nil }
            switch flat.count {
            case 0: return .all
            case 1: return flat[0]
            default: return .and(flat)
            }
        case .or(let operands):
            var flat: [Query] = []
            var any = false
            for operand in operands {
                guard let q = operand.normalizedOrNil() else { continue }
                any = true
                let parts: [Query]
                if case .or(let inner) = q { parts = inner } else { parts = [q] }
                for part in parts {
                    if part == .all { return .all }
                    if part == .not(.all) { continue }
                    if !flat.contains(part) { flat.append(part) }
                }
            }
            if !any { return operands.isEmpty ? .not(.all) : nil }
            switch flat.count {
            case 0: return .not(.all)
            case 1: return flat[0]
            default: return .or(flat)
            }
        }
    }

    /// A term (one token), a phrase (several) or nil (none).
    static func textQuery(_ tokens: [String]) -> Query? {
        switch tokens.count {
        case 0: return nil
        case 1: return .term(tokens[0])
        default: return .phrase(tokens)
        }
    }

    /// The normal form of `body*`.
    static func prefixQuery(_ body: String) -> Query? {
        let tokens = Tokenizer.tokens(body)
        guard let last = tokens.last else { return nil }
        // `foo-*`: the text ends with a separator, so every token is complete.
        guard let lastScalar = body.unicodeScalars.last, Tokenizer.isWordCharacter(lastScalar) else {
            return textQuery(tokens)
        }
        if tokens.count == 1 { return .prefix(last) }
        return .and([textQuery(Array(tokens.dropLast()))!, .prefix(last)])
    }

    var isGroup: Bool {
        switch self {
        case .and(let operands), .or(let operands): return !operands.isEmpty
        default: return false
        }
    }

    /// A string the parser reads back as this very token: one lowercased token, no keyword.
    static func isBareToken(_ text: String) -> Bool {
        Tokenizer.tokens(text) == [text]
    }

    /// A field name the parser reads back bare: letters, digits and `._-@/` only.
    static func isBareFieldName(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy { ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-@/".unicodeScalars.contains($0)) }
    }

    static func isBareFieldValue(_ value: String) -> Bool {
        !value.isEmpty
            && !value.unicodeScalars.contains { $0.properties.isWhitespace || "\"()\\*".unicodeScalars.contains($0) }
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for c in text {
            // A cluster holding a syntax character is read scalar by scalar
            // (`QueryParser.characters`): each quote or backslash in it is escaped, wherever it
            // sits (a prepend mark joins the backslash after it into one cluster).
            if c.unicodeScalars.count > 1, FieldPredicate.holdsSyntax(c) {
                for scalar in c.unicodeScalars {
                    if scalar == "\"" || scalar == "\\" { out.unicodeScalars.append("\\") }
                    out.unicodeScalars.append(scalar)
                }
                continue
            }
            if c == "\"" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        out.append("\"")
        return out
    }
}

/// The stream attributes a query can filter on.
public enum QueryField: String, Sendable, CaseIterable {
    case workflow, job, index

    /// The attribute's value in `stream`.
    public func value(in stream: StreamKey) -> String {
        switch self {
        case .workflow: return stream.workflow
        case .job: return stream.job
        case .index: return stream.index
        }
    }
}

/// Why a query string could not be parsed, and where.
public struct QueryParseError: Error, Equatable, CustomStringConvertible {
    /// 0-based offset of the offending spot, in characters (grapheme clusters) of the query; a
    /// syntax character followed by combining marks counts as one character per scalar.
    public let position: Int
    public let message: String

    public init(position: Int, message: String) {
        self.position = position
        self.message = message
    }

    public var description: String { "query error at position \(position): \(message)" }
}
