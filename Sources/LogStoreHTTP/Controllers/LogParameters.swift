import Hummingbird
import LogStore
import LogStoreIngest

/// URL parameters shared by the log-reading endpoints (`/v1/logs`, `/v1/tail`, `/v1/search`…):
/// each bad or unknown one is a 400 naming it.
enum LogParameters {
    /// Throws a 400 naming the first parameter not in `allowed`.
    static func check(_ request: Request, allowed: Set<String>) throws {
        for (name, _) in request.uri.queryParameters where !allowed.contains(String(name)) {
            throw OpenSearchError.badRequest("unknown parameter '\(name)'; expected one of \(allowed.sorted().joined(separator: ", "))")
        }
    }

    /// The streams named by `workflow`, `job` and `index`; at least one must be given.
    static func selector(_ request: Request) throws -> StreamSelector {
        let q = request.uri.queryParameters
        let selector = StreamSelector(index: q["index"].map(String.init), workflow: q["workflow"].map(String.init), job: q["job"].map(String.init))
        if selector.workflow == nil && selector.job == nil && selector.index == nil {
            throw OpenSearchError.badRequest("give workflow, job or index")
        }
        return selector
    }

    /// The integer parameter `name` when given; a 400 when it is not an integer in `range`.
    static func integer(_ request: Request, _ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let text = request.uri.queryParameters[Substring(name)] else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw OpenSearchError.badRequest("\(name) '\(text)' must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }
}

/// How lines are answered: `format=json` (default), `ndjson` (one line object per line) or
/// `text` (the messages alone, one per line).
enum LogFormat: String {
    case json, ndjson, text

    /// The `format` parameter; a 400 when it is none of the three.
    static func parse(_ request: Request) throws -> LogFormat {
        guard let text = request.uri.queryParameters["format"] else { return .json }
        guard let format = LogFormat(rawValue: String(text)) else {
            throw OpenSearchError.badRequest("format '\(text)' must be json, ndjson or text")
        }
        return format
    }

    /// The answer holding `lines`. In `json` the lines are `{"lines":[…]` followed by what
    /// `members` appends (`,"next":…`) and `}`; `ndjson` and `text` carry only the lines, the
    /// rest goes in `headers`.
    func response(
        _ lines: [LogLine], keys: [StreamID: StreamKey], headers: HTTPFields = [:], members: (inout JSONText) -> Void = { _ in }
    ) -> Response {
        var out = JSONText(capacity: lines.count * 200 + 64)
        let response: Response
        switch self {
        case .text:
            for line in lines {
                out.raw(line.message)
                if !line.message.hasSuffix("\n") { out.raw("\n") }
            }
            response = .text(out.bytes, contentType: "text/plain; charset=utf-8")
        case .ndjson:
            for line in lines {
                line.appendJSON(key: keys[line.stream], to: &out)
                out.raw("\n")
            }
            response = .text(out.bytes, contentType: "application/x-ndjson")
        case .json:
            out.raw("{\"lines\":[")
            for (i, line) in lines.enumerated() {
                if i > 0 { out.raw(",") }
                line.appendJSON(key: keys[line.stream], to: &out)
            }
            out.raw("]")
            members(&out)
            out.raw("}")
            response = .json(out.bytes)
        }
        var result = response
        for field in headers { result.headers.append(field) }
        return result
    }
}
