import Hummingbird
import LogStore
import LogStoreIngest

/// LogFormat is how lines are answered: `format=json` (default), `ndjson` (one line object per line) or
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
            var writer = LogLineWriter(keys: keys, fields: fields)
            for line in lines {
                writer.append(line, to: &out)
                out.raw("\n")
            }
            response = .text(out.bytes, contentType: "application/x-ndjson")
        case .json:
            var writer = LogLineWriter(keys: keys, fields: fields)
            out.raw("{\"lines\":[")
            for (i, line) in lines.enumerated() {
                if i > 0 { out.raw(",") }
                writer.append(line, to: &out)
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
            var writer = LogLineWriter(keys: keys, fields: fields)
            for line in page.lines {
                writer.write(line, of: page, separator: nil, terminator: UInt8(ascii: "\n"), to: &out)
            }
            response = .text(out, contentType: "application/x-ndjson")
        case .json:
            var writer = LogLineWriter(keys: keys, fields: fields)
            out.writeStaticString("{\"lines\":[")
            for (i, line) in page.lines.enumerated() {
                writer.write(line, of: page, separator: i > 0 ? UInt8(ascii: ",") : nil, terminator: nil, to: &out)
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
