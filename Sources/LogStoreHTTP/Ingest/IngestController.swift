import Foundation
import Hummingbird
import LogStore
import LogStoreIngest
import NIOCore

/// FluentBit-compatible ingest: OpenSearch `_bulk` (the `es`/`opensearch` outputs) and the
/// `http` output (`json`, `json_lines`, `json_stream`, `msgpack`).
///
/// Every answer is sent after the lines are durable. A resent body (FluentBit retries whole
/// chunks) is recognised by its `ChunkKey` and not stored again.
struct IngestController {
    let storage: Storage
    let options: IngestOptions
    let metrics: ServerMetrics
    /// Parsing, chunk keys and the append: the same steps as `logstore import`.
    let pipeline: IngestPipeline
    let freeSpace: FreeSpaceGauge

    init(storage: Storage, options: IngestOptions, metrics: ServerMetrics) {
        self.storage = storage
        freeSpace = FreeSpaceGauge(directory: storage.directory)
        self.options = options
        self.metrics = metrics
        pipeline = IngestPipeline(
            storage: storage,
            documentParser: DocumentParser(mapping: options.mapping, maxMessageBytes: options.maxMessageBytes, window: options.window))
    }

    static let bulkContentTypes: Set<String> = ["application/x-ndjson", "application/json", "text/plain", "application/ndjson"]

    /// The media type of a Content-Type value, lowercased, without parameters or blanks (on
    /// every bulk request: Foundation's trimming cost 1.4 % of the server's CPU on small ones).
    static func mediaType(_ value: String) -> String {
        var utf8 = Substring(value).utf8
        if let semicolon = utf8.firstIndex(of: UInt8(ascii: ";")) { utf8 = utf8[..<semicolon] }
        let blank = { (c: UInt8) in c == 0x20 || c == 0x09 }
        while let c = utf8.first, blank(c) { utf8 = utf8.dropFirst() }
        while let c = utf8.last, blank(c) { utf8 = utf8.dropLast() }
        let text = Substring(utf8)
        return text.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) ? text.lowercased() : String(text)
    }

    func addRoutes(to router: Router<LogStoreContext>) {
        for method in [HTTPRequest.Method.post, .put] {
            router.on("_bulk", method: method) { request, context in
                try await counted(.bulk) { try await bulk(request, context: context, index: nil) }
            }
            // Also FluentBit's `Path` prefix (`/proxy/_bulk`): the action lines name the index anyway.
            router.on(":index/_bulk", method: method) { request, context in
                let index = context.parameters.get("index").map { $0.removingPercentEncoding ?? $0 }
                return try await counted(.bulk) { try await bulk(request, context: context, index: index) }
            }
        }
        // FluentBit's `http` output posts to its `URI` (default `/`).
        for path in ["/", "ingest", "v1/ingest"] {
            router.post(RouterPath(path)) { request, context in try await counted(.http) { try await ingest(request, context: context) } }
        }
    }

    /// Runs an ingest handler, counting a request it refuses whole.
    func counted(_ api: ServerMetrics.IngestAPI, _ handler: () async throws -> Response) async throws -> Response {
        do {
            return try await handler()
        } catch {
            metrics.ingest(api).refused.increment()
            throw error
        }
    }

    // MARK: Bulk

    func bulk(_ request: Request, context: LogStoreContext, index: String?) async throws -> Response {
        let started = ContinuousClock.now
        let contentType = request.headers[.contentType].map(Self.mediaType)
        if let contentType, !Self.bulkContentTypes.contains(contentType) {
            throw OpenSearchError(
                .notAcceptable, type: "media_type_header_exception",
                reason: "Content-Type header [\(contentType)] is not supported; send application/x-ndjson")
        }
        let body = try await readRequestBody(request, context: context)
        let (parsedBody, chunk) = try body.withUnsafeBufferPointer { body throws -> (BulkResult, ChunkKey) in
            if body.isEmpty || body.allSatisfy({ $0 == 0x0A || $0 == 0x0D || $0 == 0x20 }) {
                throw OpenSearchError.badRequest("request body is required", type: "action_request_validation_exception")
            }
            try checkDisk()
            let (parsed, chunk) = pipeline.parseBulk(body, defaultIndex: index, arrivalTime: Storage.now())
            if parsed.items.isEmpty {
                throw OpenSearchError.badRequest("the body holds no bulk action", type: "action_request_validation_exception")
            }
            return (parsed, chunk)
        }
        var parsed = parsedBody
        let denied = parsed.deny(outside: context.indexPermission)  // per-item 403 for indices the user may not write
        let receipt = try await pipeline.store(parsed.batch, chunk: chunk)
        metrics.answered(.bulk, bodyBytes: body.count, stored: parsed.batch.count, rejected: parsed.failures, receipt: receipt)
        return .json(Self.bulkAnswer(parsed, took: started.duration(to: .now), denied: denied, receipt: receipt))
    }

    /// `{"took":N,"errors":false,"items":[{"create":{"status":201}},…]}` in exactly that key
    /// order (FluentBit matches on it); failed items carry OpenSearch's error object.
    static func bulkAnswer(_ parsed: BulkResult, took: Duration, denied: [Int: String] = [:], receipt: AppendReceipt? = nil) -> [UInt8] {
        var json = JSONText(capacity: 40 + parsed.items.count * 26)
        let outcomes = BulkResult.DocumentOutcomes(receipt)
        json.raw("{\"took\":")
        json.number(took.components.seconds * 1000 + took.components.attoseconds / 1_000_000_000_000_000)
        json.raw(parsed.failures > 0 || outcomes.hasConflicts ? ",\"errors\":true,\"items\":[" : ",\"errors\":false,\"items\":[")
        parsed.items.withUnsafeBufferPointer { items in
            for (i, item) in items.enumerated() {
                if i > 0 { json.bytes.append(0x2C) }
                if let index = denied[i] {
                    BulkResult.writeForbiddenItem(item.op, index: index, into: &json)
                } else if let error = item.error {
                    json.raw("{\"")
                    json.raw(item.op.rawValue)
                    json.raw("\":{\"status\":400,\"error\":{\"type\":")
                    json.string(errorType(error))
                    json.raw(",\"reason\":")
                    json.string("line \(item.line): \(error)")
                    json.raw("}}}")
                } else if let id = parsed.documentID(of: item) {
                    parsed.writeDocumentItem(item, id: id, outcomes: outcomes, into: &json)
                } else {
                    json.bytes.append(contentsOf: item.op == .create ? Self.createdItem : Self.indexedItem)
                }
            }
        }
        json.raw("]}")
        return json.bytes
    }

    static let createdItem: [UInt8] = Array("{\"create\":{\"status\":201}}".utf8)
    static let indexedItem: [UInt8] = Array("{\"index\":{\"status\":201}}".utf8)

    static func errorType(_ error: IngestError) -> String {
        switch error {
        case .unsupportedOperation: return "illegal_argument_exception"
        case .badAction: return "action_request_validation_exception"
        case .lineTooLong: return "document_too_large_exception"
        case .invalidIndexName: return "invalid_index_name_exception"
        case .nameTooLong, .outsideTimeWindow, .tooManyDays: return "illegal_argument_exception"
        case .duplicateKey: return "json_parse_exception"
        default: return "document_parsing_exception"
        }
    }

    // MARK: FluentBit http output

    func ingest(_ request: Request, context: LogStoreContext) async throws -> Response {
        let q = request.uri.queryParameters
        for (name, _) in q where name != "index" && name != "format" {
            throw OpenSearchError.badRequest("unknown parameter '\(name)'; expected index or format")
        }
        let index = q["index"].map(String.init) ?? options.defaultIndex
        do throws(IngestError) { try NameLimits.checkIndexName(index) } catch {
            throw OpenSearchError.badRequest("index: \(error)", type: "invalid_index_name_exception")
        }
        let body = try await readBody(request, context: context)
        if body.isEmpty { throw OpenSearchError.badRequest("request body is required", type: "parse_exception") }
        var format = LineFormat.detect(contentType: request.headers[.contentType], body: body)
        if let forced = q["format"] {
            guard let value = LineFormat(rawValue: String(forced)) else {
                throw OpenSearchError.badRequest(
                    "format '\(forced)' must be one of \(LineFormat.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            format = value
        }
        try checkDisk()
        let (parsed, chunk) = body.withUnsafeBufferPointer {
            pipeline.parseLines($0, format: format, index: index, arrivalTime: Storage.now())
        }
        let firstError = parsed.failures.first
        if parsed.batch.count == 0, let firstError {
            throw OpenSearchError.badRequest("document \(firstError.document): \(firstError.error)", type: "parse_exception")
        }
        let receipt = try await pipeline.store(parsed.batch, chunk: chunk)
        metrics.answered(.http, bodyBytes: body.count, stored: parsed.batch.count, rejected: parsed.failures.count, receipt: receipt)
        // Short answer: FluentBit's http output rejects answers over 4 KB.
        var json = JSONText(capacity: 256)
        json.raw("{\"stored\":")
        json.number(parsed.batch.count)
        json.raw(",\"errors\":")
        json.number(parsed.failures.count)
        if let firstError {
            json.raw(",\"first_error\":")
            json.string(String("document \(firstError.document): \(firstError.error)".prefix(1000)))
        }
        json.raw("}")
        return .json(json.bytes)
    }

    // MARK: Shared

    /// A request body: the received buffer itself, or its decoded bytes.
    enum RequestBody {
        case buffer(ByteBuffer)
        case bytes([UInt8])

        /// Bytes of the body (decoded).
        var count: Int {
            switch self {
            case .buffer(let buffer): return buffer.readableBytes
            case .bytes(let bytes): return bytes.count
            }
        }

        func withUnsafeBufferPointer<T>(_ body: (UnsafeBufferPointer<UInt8>) throws -> T) rethrows -> T {
            switch self {
            case .buffer(let buffer):
                return try buffer.withUnsafeReadableBytes { raw in
                    try body(UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: UInt8.self), count: raw.count))
                }
            case .bytes(let bytes):
                return try bytes.withUnsafeBufferPointer(body)
            }
        }
    }

    /// Like `readBody`, without copying a body that has no Content-Encoding.
    func readRequestBody(_ request: Request, context: LogStoreContext) async throws -> RequestBody {
        let encoding = request.headers[.contentEncoding]?.trimmingCharacters(in: .whitespaces).lowercased()
        if encoding == nil || encoding == "identity" || encoding == "" {
            return .buffer(try await collectBody(request))
        }
        return .bytes(try await readBody(request, context: context))
    }

    /// Collects the body within `maxBodyBytes`.
    func collectBody(_ request: Request) async throws -> ByteBuffer {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > options.maxBodyBytes {
            throw OpenSearchError(
                .contentTooLarge, type: "content_too_long_exception",
                reason: "request body is \(length) bytes, over the \(options.maxBodyBytes)-byte limit")
        }
        do {
            return try await request.body.collect(upTo: options.maxBodyBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw OpenSearchError(
                .contentTooLarge, type: "content_too_long_exception", reason: "request body is over the \(options.maxBodyBytes)-byte limit")
        } catch is NIOTooManyBytesError {
            throw OpenSearchError(
                .contentTooLarge, type: "content_too_long_exception", reason: "request body is over the \(options.maxBodyBytes)-byte limit")
        }
    }

    /// Collects the body within `maxBodyBytes` and decodes its Content-Encoding within
    /// `maxDecodedBytes`.
    func readBody(_ request: Request, context: LogStoreContext) async throws -> [UInt8] {
        let raw = Array((try await collectBody(request)).readableBytesView)
        let encoding = request.headers[.contentEncoding]?.trimmingCharacters(in: .whitespaces).lowercased()
        if encoding == nil || encoding == "identity" || encoding == "" { return raw }
        do {
            return try ContentDecoder.decode(raw, encoding: encoding, maxOutput: options.maxDecodedBytes)
        } catch .tooLarge(let limit) {
            throw OpenSearchError(
                .contentTooLarge, type: "content_too_long_exception",
                reason: "request body decodes to more than the \(limit)-byte limit (Content-Encoding \(encoding ?? ""))")
        } catch .unsupportedEncoding(let name) {
            throw OpenSearchError(
                .unsupportedMediaType, type: "illegal_argument_exception",
                reason: "Content-Encoding '\(name)' is not supported; use gzip, deflate or identity")
        } catch {
            throw OpenSearchError.badRequest("cannot decode the \(encoding ?? "") body: \(error)", type: "parse_exception")
        }
    }

    func checkDisk() throws {
        guard options.minFreeDiskBytes > 0, let free = freeSpace.free(floor: options.minFreeDiskBytes) else { return }
        if free < options.minFreeDiskBytes {
            throw DiskFull.error(
                directory: storage.directory, detail: "free disk space \(free) bytes is below the \(options.minFreeDiskBytes)-byte floor (--min-free-disk)")
        }
    }
}
