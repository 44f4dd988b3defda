import Foundation
import Hummingbird
import LogStore
import LogStoreIngest
import NIOCore

/// DocumentController stores one document per request, as OpenSearch's index API:
/// `PUT|POST /{index}/_doc/{id}` (replaces a stored document with that id),
/// `PUT|POST /{index}/_create/{id}` (409 when the id is stored) and `POST /{index}/_doc`
/// (a generated id). The document goes through the same parser and append as a `_bulk` item
/// (no resend recognition: a single document is not a FluentBit chunk).
struct DocumentController {
    let storage: Storage
    let options: IngestOptions
    let pipeline: IngestPipeline

    init(storage: Storage, options: IngestOptions) {
        self.storage = storage
        self.options = options
        pipeline = IngestPipeline(
            storage: storage,
            documentParser: DocumentParser(mapping: options.mapping, maxMessageBytes: options.maxMessageBytes, window: options.window))
    }

    static let parameters: Set<String> = [
        "op_type", "refresh", "timeout", "routing", "wait_for_active_shards", "pretty", "human", "error_trace", "filter_path",
        "require_alias",
    ]

    func addRoutes(to router: Router<LogStoreContext>) {
        for method in [HTTPRequest.Method.put, .post] {
            router.on(":index/_doc/:id", method: method) { request, context in
                try await store(request, context: context, create: request.uri.queryParameters["op_type"] == "create", generated: false)
            }
            router.on(":index/_create/:id", method: method) { request, context in
                try await store(request, context: context, create: true, generated: false)
            }
        }
        router.post(":index/_doc") { request, context in try await store(request, context: context, create: false, generated: true) }
    }

    func store(_ request: Request, context: LogStoreContext, create: Bool, generated: Bool) async throws -> Response {
        for (name, value) in request.uri.queryParameters {
            guard Self.parameters.contains(String(name)) else {
                throw OpenSearchError.badRequest("request [\(request.uri.path)] contains unrecognized parameter: [\(name)]")
            }
            if name == "op_type" && value != "create" && value != "index" {
                throw OpenSearchError.badRequest("op_type must be create or index, not [\(value)]")
            }
        }
        let rawIndex = try context.parameters.require("index")
        let index = rawIndex.removingPercentEncoding ?? rawIndex
        let id = generated ? nil : context.parameters.get("id").map { $0.removingPercentEncoding ?? $0 }
        if !context.indexPermission.allows(index) {
            throw OpenSearchError(.forbidden, type: "security_exception", reason: "no permissions to write index [\(index)]")
        }
        let body = try await request.body.collect(upTo: options.maxBodyBytes)
        if body.readableBytesView.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            throw OpenSearchError.badRequest("request body is required", type: "parse_exception")
        }
        // One bulk item: the action line built here, the document as sent (on one line).
        var action = JSONText(capacity: 64)
        action.raw(create ? "{\"create\":{\"_index\":" : "{\"index\":{\"_index\":")
        action.string(index)
        if let id {
            action.raw(",\"_id\":")
            action.string(id)
        }
        action.raw("}}\n")
        var bytes = action.bytes
        for byte in body.readableBytesView where byte != 0x0A && byte != 0x0D { bytes.append(byte) }
        bytes.append(0x0A)
        let parsed = bytes.withUnsafeBufferPointer { pipeline.bulkParser.parseBatch($0, defaultIndex: nil, arrivalTime: Storage.now()) }
        guard let item = parsed.items.first, parsed.items.count == 1 else {
            throw OpenSearchError.badRequest("the body must be one JSON object", type: "mapper_parsing_exception")
        }
        if let error = item.error {
            throw OpenSearchError.badRequest("\(error)", type: IngestController.errorType(error))
        }
        let receipt = try await storage.append(parsed.batch, chunk: nil)
        let docID = id ?? Storage.generatedID(receipt.firstLSN)
        var json = JSONText(capacity: 256)
        if receipt.conflicts.contains(0) {
            let reason = "[\(docID)]: version conflict, document already exists (current version [1])"
            json.raw("{\"error\":{\"root_cause\":[{\"type\":\"version_conflict_engine_exception\",\"reason\":")
            json.string(reason)
            json.raw(",\"index\":")
            json.string(index)
            json.raw(",\"shard\":\"0\"}],\"type\":\"version_conflict_engine_exception\",\"reason\":")
            json.string(reason)
            json.raw(",\"index\":")
            json.string(index)
            json.raw(",\"shard\":\"0\"},\"status\":409}")
            var response = JSONAnswer.answer(json.bytes, request: request)
            response.status = .conflict
            return response
        }
        let updated = receipt.replaced.contains(0)
        json.raw("{\"_index\":")
        json.string(index)
        json.raw(",\"_id\":")
        json.string(docID)
        json.raw(updated ? ",\"_version\":2,\"result\":\"updated\"" : ",\"_version\":1,\"result\":\"created\"")
        json.raw(",\"_shards\":{\"total\":1,\"successful\":1,\"failed\":0},\"_seq_no\":")
        json.number(receipt.firstLSN)
        json.raw(",\"_primary_term\":1}")
        var response = JSONAnswer.answer(json.bytes, request: request)
        response.status = updated ? .ok : .created
        return response
    }
}
