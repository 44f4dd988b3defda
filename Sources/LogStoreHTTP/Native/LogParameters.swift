import Hummingbird
import LogStore
import LogStoreIngest

/// URL parameters of a log-reading request (`/v1/logs`, `/v1/tail`, `/v1/search`…), parsed once
/// (Hummingbird parses the query string again on every `queryParameters` access); each bad or
/// unknown one is a 400 naming it.
struct LogParameters {
    /// Name → value (the first, when a name is repeated).
    let values: [String: String]

    init(_ request: Request) {
        var values: [String: String] = [:]
        for (name, value) in request.uri.queryParameters where values[String(name)] == nil { values[String(name)] = String(value) }
        self.values = values
    }

    subscript(_ name: String) -> String? { values[name] }

    /// Throws a 400 naming the first parameter not in `allowed`.
    func check(allowed: Set<String>) throws {
        for name in values.keys.sorted() where !allowed.contains(name) {
            throw OpenSearchError.badRequest("unknown parameter '\(name)'; expected one of \(allowed.sorted().joined(separator: ", "))")
        }
    }

    /// Throws a 400 naming the first parameter of `request` not in `allowed`.
    static func check(_ request: Request, allowed: Set<String>) throws {
        try LogParameters(request).check(allowed: allowed)
    }

    /// The streams named by `workflow`, `job` and `index`; at least one must be given.
    func selector() throws -> StreamSelector {
        let selector = StreamSelector(index: values["index"], workflow: values["workflow"], job: values["job"])
        if selector.workflow == nil && selector.job == nil && selector.index == nil {
            throw OpenSearchError.badRequest("give workflow, job or index")
        }
        return selector
    }

    /// The integer parameter `name` when given; a 400 when it is not an integer in `range`.
    func integer(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let text = values[name] else { return nil }
        return try RequestNumber.integer(Substring(text), name: name, in: range)
    }

    /// The query `q` in the query language (match everything when absent).
    func query() throws -> Query {
        do {
            return try QueryParser.parse(values["q"] ?? "")
        } catch {
            throw OpenSearchError.badRequest("q: \(error)", type: "query_parsing_exception")
        }
    }

    /// The `fields` parameter: whether each line carries its document's other stored fields
    /// (`"fields":{…}`: FluentBit's `kubernetes`, `stream`, …). Off by default: for one job
    /// they repeat on every line and are ~2/3 of the answer's bytes. A 400 unless true or false.
    func fields() throws -> Bool {
        guard let text = values["fields"] else { return false }
        switch text {
        case "true", "1": return true
        case "false", "0": return false
        default: throw OpenSearchError.badRequest("fields '\(text)' must be true or false")
        }
    }

    /// The `format` parameter; a 400 when it is none of json, ndjson, text.
    func format() throws -> LogFormat {
        guard let text = values["format"] else { return .json }
        guard let format = LogFormat(rawValue: text) else {
            throw OpenSearchError.badRequest("format '\(text)' must be json, ndjson or text")
        }
        return format
    }
}
