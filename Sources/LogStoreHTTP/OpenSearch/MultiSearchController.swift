import Foundation
import Hummingbird
import LogStore
import LogStoreIngest
import NIOCore

/// `_msearch` (`/_msearch`, `/{index}/_msearch`): NDJSON header/body pairs, each run as one
/// `_search` (the header's `index`, or the path's), one after another. Each item answers
/// on its own: a search's answer with `"status":200`, or its error in OpenSearch's shape
/// (`{"error":{…},"status":400}`) while the others still run. Grafana's data source sends
/// every query this way.
extension OpenSearchController {
    /// The largest `_msearch` body, decoded.
    static let maxMultiSearchBytes = 16 << 20
    /// The most searches in one `_msearch`.
    static let maxMultiSearchItems = 1000

    static let multiSearchParameters: Set<String> = [
        "typed_keys", "rest_total_hits_as_int", "max_concurrent_searches", "max_concurrent_shard_requests", "pre_filter_shard_size",
        "search_type", "ccs_minimize_roundtrips", "ignore_unavailable", "allow_no_indices", "expand_wildcards", "pretty", "human",
        "error_trace", "filter_path",
    ]
    static let headerKeys: Set<String> = [
        "index", "indices", "preference", "search_type", "request_cache", "routing", "ignore_unavailable", "allow_no_indices",
        "expand_wildcards", "ignore_throttled", "max_concurrent_shard_requests", "allow_partial_search_results", "ccs_minimize_roundtrips",
    ]

    func addMultiSearchRoutes(to router: Router<LogStoreContext>) {
        for method in [HTTPRequest.Method.get, .post] {
            router.on("_msearch", method: method) { request, context in try await multiSearch(request, context: context, index: nil) }
            router.on(":index/_msearch", method: method) { request, context in
                try await multiSearch(request, context: context, index: try indexParameter(context))
            }
        }
    }

    func multiSearch(_ request: Request, context: LogStoreContext, index: String?) async throws -> Response {
        let started = ContinuousClock.now
        try SearchRequestParser.checkParameters(request, allowed: Self.multiSearchParameters)
        let bytes = try await Self.readRaw(request, limit: Self.maxMultiSearchBytes)
        var lines: [ArraySlice<UInt8>] = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        while let last = lines.last, last.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { lines.removeLast() }
        guard !lines.isEmpty else {
            throw OpenSearchError.badRequest("no requests added", type: "action_request_validation_exception")
        }
        guard lines.count % 2 == 0 else {
            throw OpenSearchError.badRequest(
                "The msearch request must be terminated by a newline [\\n] and hold header/body pairs: line \(lines.count) has no body",
                type: "parse_exception")
        }
        guard lines.count / 2 <= Self.maxMultiSearchItems else {
            throw OpenSearchError.badRequest("an _msearch may hold at most \(Self.maxMultiSearchItems) searches", type: "action_request_validation_exception")
        }
        var parameters: [(String, String)] = []
        for name in ["typed_keys", "rest_total_hits_as_int"] {
            if let v = request.uri.queryParameters[Substring(name)] { parameters.append((name, String(v))) }
        }
        var out = ByteBufferAllocator().buffer(capacity: 4096)
        out.writeStaticString("{\"took\":")
        let tookAt = out.writerIndex
        out.writeStaticString("            ,\"responses\":[")
        let middleware = ErrorMiddleware<LogStoreContext>(directory: storage.directory)
        for item in 0..<(lines.count / 2) {
            if item > 0 { out.writeStaticString(",") }
            do {
                let header = try Self.header(lines[2 * item], line: 2 * item + 1)
                var target = index
                if let i = header["index"] ?? header["indices"] {
                    if let s = i as? String {
                        target = s
                    } else if let l = i as? [String] {
                        target = l.joined(separator: ",")
                    } else {
                        throw OpenSearchError.badRequest("[index] of an _msearch header must be a string or a list of strings", type: "parsing_exception")
                    }
                }
                var path = target.map { "/" + Self.encode($0) + "/_search" } ?? "/_search"
                if !parameters.isEmpty { path += "?" + parameters.map { "\($0.0)=\(Self.encode($0.1))" }.joined(separator: "&") }
                let head = HTTPRequest(method: .post, scheme: nil, authority: nil, path: path)
                let inner = Request(head: head, body: RequestBody(buffer: ByteBuffer(bytes: lines[2 * item + 1])))
                let answer = try await middleware.handle(inner, context: context) { r, c in
                    try await search(r, context: c, index: target)
                }
                let collected = CollectingBody.Box()
                try await answer.body.write(CollectingBody(box: collected))
                var body = collected.buffer
                // The answer's closing brace, then the item's status.
                if body.readableBytes > 0 { body.moveWriterIndex(to: body.writerIndex - 1) }
                out.writeBuffer(&body)
                out.writeStaticString(",\"status\":200}")
            } catch let error as OpenSearchError {
                var json = JSONText(capacity: 256)
                json.raw("{\"error\":{\"root_cause\":[{\"type\":")
                json.string(error.type)
                json.raw(",\"reason\":")
                json.string(error.reason)
                json.raw("}],\"type\":")
                json.string(error.type)
                json.raw(",\"reason\":")
                json.string(error.reason)
                json.raw("},\"status\":")
                json.number(error.status.code)
                json.raw("}")
                out.writeBytes(json.bytes)
            }
        }
        out.writeStaticString("]}")
        let took = started.duration(to: .now)
        let ms = String(took.components.seconds * 1000 + took.components.attoseconds / 1_000_000_000_000_000)
        out.setString(String(ms.prefix(12)), at: tookAt)
        return JSONAnswer.answer(out, request: request)
    }

    /// One header line: a JSON object (`{}` or blank for the defaults).
    static func header(_ line: ArraySlice<UInt8>, line number: Int) throws -> [String: Any] {
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { return [:] }
        guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
            throw OpenSearchError.badRequest("_msearch header on line \(number) is not a JSON object", type: "parse_exception")
        }
        for key in object.keys where !headerKeys.contains(key) {
            throw OpenSearchError.badRequest("key [\(key)] is not supported in the metadata section", type: "illegal_argument_exception")
        }
        return object
    }

    /// The request body, decoded per its Content-Encoding, within `limit` bytes.
    static func readRaw(_ request: Request, limit: Int) async throws -> [UInt8] {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch {
            throw OpenSearchError(.contentTooLarge, type: "content_too_long_exception", reason: "request body is over \(limit) bytes")
        }
        var bytes = Array(buffer.readableBytesView)
        if let encoding = request.headers[.contentEncoding]?.trimmingCharacters(in: .whitespaces), !encoding.isEmpty {
            do {
                bytes = try ContentDecoder.decode(bytes, encoding: encoding, maxOutput: limit)
            } catch {
                throw OpenSearchError.badRequest("cannot decode the \(encoding) body: \(error)", type: "parse_exception")
            }
        }
        return bytes
    }
}

/// A response body written into one buffer (an `_msearch` item's answer).
struct CollectingBody: ResponseBodyWriter {
    final class Box {
        var buffer = ByteBuffer()
    }
    let box: Box
    mutating func write(_ buffer: ByteBuffer) async throws {
        var b = buffer
        box.buffer.writeBuffer(&b)
    }
    mutating func write(contentsOf buffers: some Sequence<ByteBuffer>) async throws {
        for var b in buffers { box.buffer.writeBuffer(&b) }
    }
    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
