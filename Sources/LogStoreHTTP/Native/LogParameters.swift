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
        guard let value = Int(text), range.contains(value) else {
            throw OpenSearchError.badRequest("\(name) '\(text)' must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
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

/// How lines are answered: `format=json` (default), `ndjson` (one line object per line) or
/// `text` (the messages alone, one per line).
enum LogFormat: String {
    case json, ndjson, text

    /// The answer holding `lines`. In `json` the lines are `{"lines":[…]` followed by what
    /// `members` appends (`,"next":…`) and `}`; `ndjson` and `text` carry only the lines, the
    /// rest goes in `headers`.
    func response(
        _ lines: [LogLine], keys: [StreamID: StreamKey], fields: Bool, headers: HTTPFields = [:], gzip: Bool = false,
        members: (inout JSONText) -> Void = { _ in }
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
                line.appendJSON(key: keys[line.stream], fields: fields, to: &out)
                out.raw("\n")
            }
            response = .text(out.bytes, contentType: "application/x-ndjson")
        case .json:
            out.raw("{\"lines\":[")
            for (i, line) in lines.enumerated() {
                if i > 0 { out.raw(",") }
                line.appendJSON(key: keys[line.stream], fields: fields, to: &out)
            }
            out.raw("]")
            members(&out)
            out.raw("}")
            response = .json(out.bytes)
        }
        var result = gzip ? Self.gzipped(response, out.bytes) : response
        for field in headers { result.headers.append(field) }
        return result
    }

    /// `response` with its body (`bytes`) gzip-compressed (level 1), when that is worth it:
    /// for clients that said they accept it (`Accept-Encoding: gzip`: browsers, curl
    /// --compressed), whose log answers are ~20× smaller on the wire.
    static func gzipped(_ response: Response, _ bytes: [UInt8]) -> Response {
        guard bytes.count > 1024, let contentType = response.headers[.contentType] else { return response }
        return .gzipped(Compression.gzip(bytes, level: 1), contentType: contentType, status: response.status)
    }

    /// `response(_:keys:headers:gzip:members:)` for lines read in place: the same bytes, without
    /// a string per line, written straight into the response's buffer.
    func response(
        _ page: LinePage, keys: [StreamID: StreamKey], fields: Bool, headers: HTTPFields = [:], gzip: Bool = false,
        members: (inout JSONText) -> Void = { _ in }
    ) -> Response {
        // REANA's lines: ~370 bytes each, ~620 with their fields.
        var out = ByteBufferAllocator().buffer(capacity: page.lines.count * (fields ? 768 : 400) + 64)
        let response: Response
        switch self {
        case .text:
            for line in page.lines {
                page.withMessage(line) { message in
                    out.writeBytes(message)
                    if message.last != UInt8(ascii: "\n") { out.writeInteger(UInt8(ascii: "\n")) }
                }
            }
            response = .text(out, contentType: "text/plain; charset=utf-8")
        case .ndjson:
            var streams = StreamMembers(keys: keys, fields: fields)
            for line in page.lines {
                streams.write(line, of: page, separator: nil, terminator: UInt8(ascii: "\n"), to: &out)
            }
            response = .text(out, contentType: "application/x-ndjson")
        case .json:
            var streams = StreamMembers(keys: keys, fields: fields)
            out.writeStaticString("{\"lines\":[")
            for (i, line) in page.lines.enumerated() {
                streams.write(line, of: page, separator: i > 0 ? UInt8(ascii: ",") : nil, terminator: nil, to: &out)
            }
            var tail = JSONText(capacity: 128)
            tail.raw("]")
            members(&tail)
            tail.raw("}")
            out.writeBytes(tail.bytes)
            response = .json(out)
        }
        var result = gzip ? Self.gzipped(response, Array(out.readableBytesView)) : response
        for field in headers { result.headers.append(field) }
        return result
    }
}

/// `,"index":…,"workflow":…,"job":…` (and `,"fields":` when asked for) of each stream,
/// written once per answer.
struct StreamMembers {
    let keys: [StreamID: StreamKey]
    /// Whether lines carry their `fields`.
    let fields: Bool
    var cache: [StreamID: [UInt8]] = [:]

    init(keys: [StreamID: StreamKey], fields: Bool) {
        self.keys = keys
        self.fields = fields
    }

    mutating func members(_ id: StreamID) -> [UInt8] {
        if let found = cache[id] { return found }
        let key = keys[id]
        var out = JSONText(capacity: 96)
        out.raw(",\"index\":")
        out.string(key?.index ?? "")
        out.raw(",\"workflow\":")
        out.string(key?.workflow ?? "")
        out.raw(",\"job\":")
        out.string(key?.job ?? "")
        if fields { out.raw(",\"fields\":") }
        cache[id] = out.bytes
        return out.bytes
    }

    /// The line as `LogLine.appendJSON` writes it, after `separator` and before `terminator`
    /// when given.
    mutating func write(_ line: LinePage.Ref, of page: LinePage, separator: UInt8?, terminator: UInt8?, to out: inout ByteBuffer) {
        if line.stream != lastStream {
            lastMembers = members(line.stream)
            lastStream = line.stream
        }
        let fields = fields
        lastMembers.withUnsafeBytes { members in
            page.withMessageAndFields(line) { message, fieldBytes in
                // lsn, cursor: 2 × 20 + 20 + 1 digits; the keys and punctuation: < 64.
                let most = 128 + JSONCursor.maxTimestampCount + JSONCursor.maxStringCount(message.count) + members.count
                    + (fields ? fieldBytes.count + 2 : 0)
                out.writeJSON(maxCount: most) { c in
                    if let separator { c.byte(separator) }
                    c.raw("{\"lsn\":")
                    c.number(line.lsn)
                    c.raw(",\"timestamp\":\"")
                    c.timestamp(line.timestamp, &clock)
                    c.raw("\",\"log\":")
                    c.string(message)
                    c.raw(members)
                    if fields {
                        if fieldBytes.isEmpty { c.raw("{}") } else { c.raw(fieldBytes) }
                    }
                    c.raw(",\"cursor\":\"")
                    c.number(line.timestamp)
                    c.byte(UInt8(ascii: "-"))
                    c.number(line.lsn)
                    c.raw("\"}")
                    if let terminator { c.byte(terminator) }
                }
            }
        }
    }

    private var lastStream: StreamID?
    private var lastMembers: [UInt8] = []
    /// Writes the lines' timestamps (keeps the date of the previous one).
    private var clock = RFC3339Writer()
}
