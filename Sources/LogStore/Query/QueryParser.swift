import Foundation

/// Parses the query language of docs/QUERY.md into a normalized `Query`.
///
/// ```text
/// query   := orExpr?
/// orExpr  := andExpr ("OR" andExpr)*
/// andExpr := unary (("AND")? unary)*          -- juxtaposition is AND
/// unary   := ("NOT" | "-") unary | primary    -- "-" only when glued to what follows
/// primary := "(" orExpr ")" | "\"" phrase "\"" | field ":" value | word | word "*" | "*"
/// ```
/// Precedence: NOT > AND > OR. `AND`, `OR`, `NOT` are keywords only in upper case.
///
/// Bounded for hostile input: at most `maxDepth` nested groups and negations, at most
/// `Limits.maxQueryClauses` search terms; beyond either the parse fails with an error naming
/// the limit (the parser recurses once per level, so the depth cap also bounds its stack).
public enum QueryParser {
    /// QueryParser.maxDepth is the deepest nesting of parentheses, `NOT` and `-` accepted: a
    /// real query nests a few levels, and every later pass over a `Query` (normalizing,
    /// matching, printing) recurses once per level too.
    public static let maxDepth = 100

    /// QueryParser.parse reads `text` and returns its normalized `Query`, or throws a
    /// `QueryParseError` naming the position and the problem (syntax, unknown field, more than
    /// `maxDepth` levels, more than `Limits.maxQueryClauses` clauses).
    public static func parse(_ text: String) throws(QueryParseError) -> Query {
        try parse(text, defaultOperator: .and)
    }

    /// How juxtaposed terms combine: `.and` in logstore's language, `.or` in OpenSearch's
    /// `query_string` (where `-x` and `+x` then make `x` prohibited or required, as in Lucene).
    public enum DefaultOperator: Sendable { case and, or }

    /// QueryParser.parse with juxtaposition meaning `defaultOperator`.
    public static func parse(_ text: String, defaultOperator: DefaultOperator) throws(QueryParseError) -> Query {
        var parser = Parser(tokens: try Lexer.tokenize(Lexer.characters(text)))
        parser.orDefault = defaultOperator == .or
        return try parser.parseQuery()
    }
}

private enum TokenKind: Equatable {
    case lparen, rparen, and, or, not, minus, plus
    case operand(Query)
}

private struct Token {
    var kind: TokenKind
    var position: Int

    var name: String {
        switch kind {
        case .lparen: return "("
        case .rparen: return ")"
        case .and: return "AND"
        case .or: return "OR"
        case .not: return "NOT"
        case .minus: return "-"
        case .plus: return "+"
        case .operand(let q): return q.description
        }
    }
}

private enum Lexer {
    static func tokenize(_ chars: [Character]) throws(QueryParseError) -> [Token] {
        var tokens: [Token] = []
        var operands = 0
        var i = 0
        let n = chars.count
        while i < n {
            if operands > Limits.maxQueryClauses {
                throw QueryParseError(
                    position: tokens.last?.position ?? 0,
                    message: "too many clauses: at most \(Limits.maxQueryClauses) search terms, phrases and field filters are allowed in one query")
            }
            let c = chars[i]
            if c.isWhitespace {
                i += 1
            } else if c == "(" {
                tokens.append(Token(kind: .lparen, position: i))
                i += 1
            } else if c == ")" {
                tokens.append(Token(kind: .rparen, position: i))
                i += 1
            } else if c == "\"" {
                let (text, next) = try readQuoted(chars, i)
                tokens.append(Token(kind: .operand(.phrase([text])), position: i))
                operands += 1
                i = next
            } else if c == "-", i + 1 < n, !chars[i + 1].isWhitespace, chars[i + 1] != ")" {
                // `-x`: negation of what follows; a lone `-` is an ordinary (token-less) word.
                tokens.append(Token(kind: .minus, position: i))
                i += 1
            } else if c == "+", i + 1 < n, !chars[i + 1].isWhitespace, chars[i + 1] != ")", chars[i + 1] != "+" {
                // `+x`: x is required (only changes anything when juxtaposition means OR).
                tokens.append(Token(kind: .plus, position: i))
                i += 1
            } else {
                var j = i
                while j < n, !isWordEnd(chars[j]) { j += 1 }
                let word = String(chars[i..<j])
                switch word {
                case "AND": tokens.append(Token(kind: .and, position: i))
                case "OR": tokens.append(Token(kind: .or, position: i))
                case "NOT": tokens.append(Token(kind: .not, position: i))
                default:
                    let (query, next) = try readWord(chars, i, j)
                    tokens.append(Token(kind: .operand(query), position: i))
                    operands += 1
                    j = next
                }
                i = j
            }
        }
        if operands > Limits.maxQueryClauses {
            throw QueryParseError(
                position: tokens.last?.position ?? 0,
                message: "too many clauses: at most \(Limits.maxQueryClauses) search terms, phrases and field filters are allowed in one query")
        }
        return tokens
    }

    /// The characters of `text`, except that a grapheme cluster holding a syntax character
    /// (quote, parenthesis, `-`, `:`, `*`, `?`, `[`, `]`, `{`, `}`, backslash, whitespace) is split
    /// at it: as one cluster the character would lose its meaning (`"` + U+0595 would not open a
    /// phrase; a prepend mark such as U+0602 joins the space after it). The scalars between
    /// syntax characters stay together as the clusters they form on their own, so marks after a
    /// space read as they do after a line break (where they start a cluster of their own).
    static func characters(_ text: String) -> [Character] {
        var out: [Character] = []
        out.reserveCapacity(text.utf8.count)
        for c in text {
            if c.unicodeScalars.count > 1, c != "\r\n", FieldPredicate.holdsSyntax(c) {
                var run = ""
                for scalar in c.unicodeScalars {
                    if FieldPredicate.isSyntax(scalar) {
                        out.append(contentsOf: run)
                        run = ""
                        out.append(Character(scalar))
                    } else {
                        run.unicodeScalars.append(scalar)
                    }
                }
                out.append(contentsOf: run)
            } else {
                out.append(c)
            }
        }
        return out
    }

    static func isWordEnd(_ c: Character) -> Bool {
        c.isWhitespace || c == "(" || c == ")" || c == "\""
    }

    /// Where a word ends, a backslash escaping the next character (field names and values).
    static func wordEnd(_ chars: [Character], _ start: Int) -> Int {
        var j = start
        while j < chars.count, !isWordEnd(chars[j]) {
            j += chars[j] == "\\" && j + 1 < chars.count ? 2 : 1
        }
        return j
    }

    /// `text` without its escaping backslashes.
    static func unescape(_ text: ArraySlice<Character>) -> String {
        var out = ""
        var escaped = false
        for c in text {
            if c == "\\" && !escaped {
                escaped = true
                continue
            }
            escaped = false
            out.append(c)
        }
        return out
    }

    /// The end of a document field name at `start`: letters, digits, `_ . - @ /` and escaped
    /// characters, starting with a letter, `_` or `@` (`FieldPredicate.isNameStart`,
    /// `isNameCharacter`); the index of its `:` or nil.
    static func fieldColon(_ chars: [Character], _ start: Int, _ end: Int) -> Int? {
        guard start < end, FieldPredicate.isNameStart(chars[start]) else { return nil }
        var j = start
        while j < end {
            let c = chars[j]
            if c == "\\" {
                j += 2
                continue
            }
            if c == ":" { return j > start ? j : nil }
            guard FieldPredicate.isNameCharacter(c) else { return nil }
            j += 1
        }
        return nil
    }

    /// The predicate of a document field's value: `*` (exists), a pattern with `*`/`?`, a
    /// comparison (`>=5`), or an exact value. A backslash makes the next character literal
    /// (`a\*` is the value `a*`); a pattern cannot hold a literal `*` or `?`.
    static func docValue(_ name: String, _ raw: ArraySlice<Character>, position: Int) throws(QueryParseError) -> Query {
        // The characters with, for each, whether it is an unescaped wildcard.
        var chars: [(Character, wild: Bool)] = []
        var escaped = false
        for c in raw {
            if c == "\\" && !escaped {
                escaped = true
                continue
            }
            chars.append((c, wild: !escaped && (c == "*" || c == "?")))
            escaped = false
        }
        let text = String(chars.map(\.0))
        let wilds = chars.filter(\.wild).count
        if text == "*" && wilds == 1 { return .doc(FieldPredicate(field: name, test: .exists)) }
        if let first = raw.first, first == ">" || first == "<" {
            for op in [">=", "<=", ">", "<"] where text.hasPrefix(op) && text.count > op.count {
                let boundText = String(text.dropFirst(op.count))
                // By scalar: a bracket carrying a combining mark is still a bracket in the range
                // form this prints as.
                if boundText.unicodeScalars.contains(where: { $0.properties.isWhitespace || "[]{}".unicodeScalars.contains($0) }) {
                    throw QueryParseError(position: position, message: "a range bound of \(name) cannot hold spaces or brackets")
                }
                let bound = range(boundText, inclusive: op.count == 2)
                return .doc(
                    FieldPredicate(field: name, test: op.hasPrefix(">") ? .range(lower: bound, upper: nil) : .range(lower: nil, upper: bound)))
            }
        }
        if wilds == 0 { return .doc(FieldPredicate(field: name, test: .equals(text))) }
        if wilds == 1, let last = chars.last, last.wild, last.0 == "*" {
            return .doc(FieldPredicate(field: name, test: .prefix(String(text.dropLast()), caseInsensitive: false)))
        }
        if chars.contains(where: { !$0.wild && ($0.0 == "*" || $0.0 == "?") }) {
            throw QueryParseError(position: position, message: "a pattern of \(name) cannot hold an escaped * or ?")
        }
        return .doc(FieldPredicate(field: name, test: .wildcard(text, caseInsensitive: false)))
    }

    /// A range bound from query text (`*` is none).
    static func range(_ text: String, inclusive: Bool) -> RangeBound? {
        if text == "*" { return nil }
        let number = DocumentFields.number(text)
        var date = DateText.parse(text)
        if date == nil, number != nil, let ms = Int64(text) { date = ms.multipliedReportingOverflow(by: 1_000_000).overflow ? nil : ms * 1_000_000 }
        return RangeBound(text: text, number: number, date: date, inclusive: inclusive)
    }

    /// Reads `"…"` starting at the quote `chars[start]`; `\"` and `\\` are escapes, any other
    /// backslash is literal. Returns the text and the index after the closing quote.
    static func readQuoted(_ chars: [Character], _ start: Int) throws(QueryParseError) -> (String, Int) {
        var text = ""
        var j = start + 1
        while j < chars.count {
            let c = chars[j]
            if c == "\\", j + 1 < chars.count, chars[j + 1] == "\"" || chars[j + 1] == "\\" {
                text.append(chars[j + 1])
                j += 2
            } else if c == "\"" {
                return (text, j + 1)
            } else {
                text.append(c)
                j += 1
            }
        }
        throw QueryParseError(position: start, message: "unterminated quote: missing closing '\"'")
    }

    /// The query of the bare word `chars[start..<end]`, and the index after it (a field's quoted
    /// value may extend it).
    static func readWord(_ chars: [Character], _ start: Int, _ end: Int) throws(QueryParseError) -> (Query, Int) {
        // A document field: `name:value`, `name:"value"`, `name:[a TO b]`, `name:>=5`, `name:*`.
        let fieldEnd = wordEnd(chars, start)
        if let colon = fieldColon(chars, start, fieldEnd),
            !chars[start..<colon].allSatisfy({ $0.isASCII && $0.isLetter }) || QueryField(rawValue: String(chars[start..<colon]).lowercased()) == nil
        {
            let name = unescape(chars[start..<colon])
            let valueStart = colon + 1
            if valueStart < chars.count, chars[valueStart] == "[" || chars[valueStart] == "{" {
                guard let close = chars[valueStart...].firstIndex(where: { $0 == "]" || $0 == "}" }) else {
                    throw QueryParseError(position: valueStart, message: "unterminated range: missing ']' or '}'")
                }
                // Split on the characters, not on a String made of them: a mark joins the space
                // after it again in a String (`؂ TO *`).
                let inner = chars[(valueStart + 1)..<close]
                let separator: [Character] = [" ", "T", "O", " "]
                var parts: [ArraySlice<Character>] = []
                var from = inner.startIndex
                var k = inner.startIndex
                while k + separator.count <= inner.endIndex {
                    if inner[k..<(k + separator.count)].elementsEqual(separator) {
                        parts.append(inner[from..<k])
                        k += separator.count
                        from = k
                    } else {
                        k += 1
                    }
                }
                parts.append(inner[from..<inner.endIndex])
                guard parts.count == 2 else {
                    throw QueryParseError(position: valueStart, message: "a range is [LOW TO HIGH] (or {…} to leave the ends out)")
                }
                func bound(_ part: ArraySlice<Character>) -> String {
                    var part = part
                    while let c = part.first, c.isWhitespace { part.removeFirst() }
                    while let c = part.last, c.isWhitespace { part.removeLast() }
                    return String(part)
                }
                let bounds = (bound(parts[0]), bound(parts[1]))
                // A bound is one word, as in Lucene: `[a b TO c]`, or a tab or line break beside
                // `TO` (`[a TO\r TO }`), would not read back as the same two bounds.
                for b in [bounds.0, bounds.1] where b.unicodeScalars.contains(where: { $0.properties.isWhitespace }) {
                    throw QueryParseError(position: valueStart, message: "a range bound cannot hold whitespace: '\(b)' (a range is [LOW TO HIGH])")
                }
                let lower = range(bounds.0, inclusive: chars[valueStart] == "[")
                let upper = range(bounds.1, inclusive: chars[close] == "]")
                return (.doc(FieldPredicate(field: name, test: .range(lower: lower, upper: upper))), close + 1)
            }
            if valueStart < fieldEnd {
                return (try docValue(name, chars[valueStart..<fieldEnd], position: valueStart), fieldEnd)
            }
            if fieldEnd < chars.count, chars[fieldEnd] == "\"" {
                let (value, next) = try readQuoted(chars, fieldEnd)
                return (.doc(FieldPredicate(field: name, test: .equals(value))), next)
            }
            throw QueryParseError(position: start, message: "field '\(name)' needs a value: \(name):VALUE or \(name):\"VALUE\"")
        }
        let word = chars[start..<end]
        // field:value — only when everything before the first ':' is ASCII letters, so that
        // `10.0.0.1:9200` or `a.b:c` stay ordinary words.
        if let colon = word.firstIndex(of: ":"), colon > start,
            word[start..<colon].allSatisfy({ $0.isASCII && $0.isLetter })
        {
            let name = String(word[start..<colon])
            guard let field = QueryField(rawValue: name.lowercased()) else {
                let names = QueryField.allCases.map(\.rawValue).joined(separator: ", ")
                throw QueryParseError(position: start, message: "unknown field '\(name)' (fields: \(names))")
            }
            let valueStart = colon + 1
            if valueStart < end {
                if let star = word[valueStart...].firstIndex(of: "*") {
                    throw QueryParseError(
                        position: star,
                        message: "wildcards are not supported in field values (\(field.rawValue):… is an exact match)")
                }
                return (.field(field, String(word[valueStart...])), end)
            }
            if end < chars.count, chars[end] == "\"" {
                let (value, next) = try readQuoted(chars, end)
                return (.field(field, value), next)
            }
            throw QueryParseError(
                position: start,
                message: "field '\(name)' needs a value: \(field.rawValue):VALUE or \(field.rawValue):\"VALUE\"")
        }
        if word.count == 1, word.first == "*" { return (.all, end) }
        if let star = word.firstIndex(of: "*") {
            guard star == end - 1 else {
                throw QueryParseError(
                    position: star, message: "'*' is only allowed at the end of a word (prefix search: word*)")
            }
            let body = String(word.dropLast())
            if Tokenizer.tokens(body).isEmpty {
                throw QueryParseError(position: start, message: "a prefix search needs a letter or digit before '*'")
            }
            return (.prefix(body), end)
        }
        return (.term(String(word)), end)
    }
}

private struct Parser {
    let tokens: [Token]
    var index = 0
    /// Groups and negations open around the current token.
    var depth = 0
    /// Juxtaposition means OR (OpenSearch's `query_string`), with `+x` required and `-x` prohibited.
    var orDefault = false

    init(tokens: [Token]) { self.tokens = tokens }

    var peek: Token? { index < tokens.count ? tokens[index] : nil }

    mutating func parseQuery() throws(QueryParseError) -> Query {
        if tokens.isEmpty { return .all }
        let query = try parseOr()
        if let extra = peek {
            // parseOr stops only at the end or at a ')'.
            throw QueryParseError(
                position: extra.position, message: "unbalanced parentheses: ')' without a matching '('")
        }
        return query.normalized()
    }

    mutating func parseOr() throws(QueryParseError) -> Query {
        if orDefault { return try parseOrDefault() }
        var operands = [try parseAnd(after: nil)]
        while let token = peek, token.kind == .or {
            index += 1
            operands.append(try parseAnd(after: token))
        }
        return operands.count == 1 ? operands[0] : .or(operands)
    }

    /// Lucene's reading with OR as the default operator: clauses joined by juxtaposition or
    /// `OR` are optional (at least one must match), `+x` clauses required, `-x`/`NOT x`
    /// prohibited; `a AND b` binds tighter.
    mutating func parseOrDefault() throws(QueryParseError) -> Query {
        var should: [Query] = []
        var must: [Query] = []
        var mustNot: [Query] = []
        var previous: Token?
        while let token = peek, token.kind != .rparen {
            if token.kind == .or {
                index += 1
                previous = token
                continue
            }
            switch token.kind {
            case .plus:
                index += 1
                must.append(try parseAnd(after: token))
            case .minus, .not:
                index += 1
                try enter(token)
                mustNot.append(try parseAnd(after: token))
                depth -= 1
            default:
                should.append(try parseAnd(after: previous))
            }
            previous = nil
        }
        if let previous {
            throw QueryParseError(position: previous.position, message: "'\(previous.name)' needs a search term after it")
        }
        var parts = must
        if !should.isEmpty && must.isEmpty { parts.append(should.count == 1 ? should[0] : .or(should)) }
        for q in mustNot { parts.append(.not(q)) }
        return parts.count == 1 ? parts[0] : .and(parts)
    }

    mutating func parseAnd(after op: Token?) throws(QueryParseError) -> Query {
        var operands = [try parseUnary(after: op)]
        while let token = peek {
            switch token.kind {
            case .or, .rparen:
                return operands.count == 1 ? operands[0] : .and(operands)
            case .and:
                index += 1
                operands.append(try parseUnary(after: token))
            default:
                if orDefault { return operands.count == 1 ? operands[0] : .and(operands) }
                operands.append(try parseUnary(after: nil))
            }
        }
        return operands.count == 1 ? operands[0] : .and(operands)
    }

    /// `op`: the operator whose operand this is, for error messages (nil at the start of the
    /// query or of a group, or for an implicit AND).
    mutating func parseUnary(after op: Token?) throws(QueryParseError) -> Query {
        guard let token = peek else {
            if let op {
                throw QueryParseError(position: op.position, message: "'\(op.name)' needs a search term after it")
            }
            // Unreachable: callers only ask for an operand when a token is left.
            throw QueryParseError(position: tokens.last.map { $0.position } ?? 0, message: "a search term is missing")
        }
        switch token.kind {
        case .operand(let query):
            index += 1
            return query
        case .not, .minus:
            index += 1
            try enter(token)
            defer { depth -= 1 }
            return .not(try parseUnary(after: token))
        case .plus:
            index += 1
            return try parseUnary(after: token)
        case .lparen:
            index += 1
            try enter(token)
            defer { depth -= 1 }
            if let next = peek, next.kind == .rparen {
                throw QueryParseError(position: token.position, message: "empty parentheses")
            }
            if peek == nil {
                throw QueryParseError(position: token.position, message: "unbalanced parentheses: '(' is never closed")
            }
            let inner = try parseOr()
            guard peek?.kind == .rparen else {
                throw QueryParseError(position: token.position, message: "unbalanced parentheses: '(' is never closed")
            }
            index += 1
            // Keep the group visible until normalization so `-(a b)` negates the whole group.
            return inner
        case .and, .or:
            if let op {
                throw QueryParseError(
                    position: token.position,
                    message: "expected a search term after '\(op.name)' but found '\(token.name)'")
            }
            throw QueryParseError(position: token.position, message: "'\(token.name)' needs a search term before it")
        case .rparen:
            if let op {
                throw QueryParseError(
                    position: token.position, message: "expected a search term after '\(op.name)' but found ')'")
            }
            throw QueryParseError(
                position: token.position, message: "unbalanced parentheses: ')' without a matching '('")
        }
    }

    /// Opens one level of nesting at `token`; past `QueryParser.maxDepth` the query is refused.
    mutating func enter(_ token: Token) throws(QueryParseError) {
        depth += 1
        if depth > QueryParser.maxDepth {
            throw QueryParseError(
                position: token.position,
                message: "the query nests too deep: at most \(QueryParser.maxDepth) levels of parentheses, NOT and '-' are allowed")
        }
    }
}
