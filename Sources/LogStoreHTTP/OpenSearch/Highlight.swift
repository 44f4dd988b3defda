import Foundation
import LogStore

/// `highlight` on the message field (`log` or `message`, or `*`): the message with each token
/// the query's text terms, prefixes or phrases name wrapped in the pre/post tags (Discover
/// sends its own tags). Other fields are refused; `number_of_fragments: 0` (the whole
/// message) is what is answered.
struct Highlight: Sendable {
    var preTag = "<em>"
    var postTag = "</em>"
    /// The names the highlight is written under (as requested: `log`, `message`, `*` → both).
    var fields: [String]

    /// Longest `pre_tags`/`post_tags` accepted (bytes): a tag is written around every marked
    /// token, so a long one multiplies the answer.
    static let maxTagBytes = 256
    /// Most bytes of highlighted messages in one answer (a 400 naming it past that).
    static let maxAnswerBytes = 64 << 20

    static func parse(_ value: Any) throws -> Highlight {
        guard let o = value as? [String: Any] else { throw OpenSearchError.badRequest("[highlight] must be an object", type: "parsing_exception") }
        var h = Highlight(fields: [])
        func tag(_ v: Any?, _ name: String) throws -> String? {
            guard let v else { return nil }
            if let s = v as? String { return s }
            if let l = v as? [Any], let s = l.first as? String { return s }
            throw OpenSearchError.badRequest("[highlight.\(name)] must be a string or a list of strings", type: "parsing_exception")
        }
        if let t = try tag(o["pre_tags"], "pre_tags") { h.preTag = t }
        if let t = try tag(o["post_tags"], "post_tags") { h.postTag = t }
        for (name, t) in [("pre_tags", h.preTag), ("post_tags", h.postTag)] where t.utf8.count > maxTagBytes {
            throw OpenSearchError.badRequest(
                "[highlight.\(name)] is \(t.utf8.count) bytes, over the limit of \(maxTagBytes) bytes", type: "illegal_argument_exception")
        }
        for key in o.keys {
            switch key {
            case "pre_tags", "post_tags", "fields", "fragment_size", "number_of_fragments", "require_field_match", "type", "order",
                "encoder", "highlight_query", "max_analyzed_offset":
                break
            default:
                throw OpenSearchError.badRequest("[highlight] unknown field [\(key)] (not supported by logstore)", type: "parsing_exception")
            }
        }
        var names: [String] = []
        if let f = o["fields"] as? [String: Any] {
            names = Array(f.keys)
        } else if let list = o["fields"] as? [Any] {
            for item in list { if let d = item as? [String: Any] { names += d.keys } }
        }
        for name in names {
            switch name {
            case "log", "message", "log.keyword", "message.keyword": h.fields.append(name)
            case "*": h.fields += ["log", "message"]
            default:
                // Discover asks for `*`; other named fields are not text logstore tokenizes.
                throw OpenSearchError.badRequest(
                    "highlight on [\(name)] is not supported by logstore; highlight [log] or [message] (the message)", type: "parsing_exception")
            }
        }
        return h
    }

    /// The tokens and prefixes of `query`'s positive text predicates.
    static func terms(_ query: Query) -> (tokens: Set<String>, prefixes: [String]) {
        var tokens = Set<String>()
        var prefixes: [String] = []
        func walk(_ q: Query, positive: Bool) {
            switch q {
            case .term(let t): if positive { tokens.insert(t) }
            case .prefix(let p): if positive { prefixes.append(p) }
            case .phrase(let ts): if positive { tokens.formUnion(ts) }
            case .and(let qs), .or(let qs): for x in qs { walk(x, positive: positive) }
            case .not(let x): walk(x, positive: !positive)
            case .all, .field, .doc, .lsns: break
            }
        }
        walk(query, positive: true)
        return (tokens, prefixes)
    }

    /// `message` with every token `terms` name wrapped in the tags; nil when none is. Throws a
    /// 400 naming `maxAnswerBytes` once the marked message is longer than `limit` bytes.
    func mark(_ message: String, tokens: Set<String>, prefixes: [String], limit: Int = Highlight.maxAnswerBytes) throws(OpenSearchError) -> String? {
        var out = ""
        var any = false
        var word = ""
        var over = false
        func flush() {
            if word.isEmpty || over { return }
            if out.utf8.count > limit {
                over = true
                return
            }
            let lower = word.lowercased()
            if tokens.contains(lower) || prefixes.contains(where: { lower.hasPrefix($0) }) {
                out += preTag + word + postTag
                any = true
            } else {
                out += word
            }
            word = ""
        }
        for ch in message.unicodeScalars {
            let p = ch.properties
            if p.isAlphabetic || p.numericType != nil || p.generalCategory == .nonspacingMark || p.generalCategory == .spacingMark
                || p.generalCategory == .decimalNumber
            {
                word.unicodeScalars.append(ch)
            } else {
                flush()
                out.unicodeScalars.append(ch)
            }
        }
        flush()
        if over || out.utf8.count > limit { throw Self.tooLarge() }
        return any ? out : nil
    }

    static func tooLarge() -> OpenSearchError {
        OpenSearchError.badRequest(
            "the highlighted hits are over the limit of \(maxAnswerBytes >> 20) MiB of highlighted text in one answer; ask for fewer hits (size) or highlight fewer tokens",
            type: "illegal_argument_exception")
    }
}
