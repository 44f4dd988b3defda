import LogStore
import LogStoreIngest

extension BulkResult {
    /// What the store did with the items that carry a client `_id`: refused (a conflict: the id
    /// is stored in the index) or replacing a stored document.
    struct DocumentOutcomes {
        var conflicts: Set<Int32> = []
        var replaced: Set<Int32> = []

        init(_ receipt: AppendReceipt?) {
            guard let receipt else { return }
            conflicts = Set(receipt.conflicts)
            replaced = Set(receipt.replaced)
        }

        var hasConflicts: Bool { !conflicts.isEmpty }
    }

    /// The client `_id` of a stored item, nil for items without one.
    func documentID(of item: Item) -> String? {
        guard item.document >= 0, Int(item.document) < batch.lines.count else { return nil }
        let id = batch.lines[Int(item.document)].id
        return id >= 0 ? batch.ids[Int(id)] : nil
    }

    /// One item with a client `_id` in OpenSearch's shape: `{"create":{"_index":…,"_id":…,
    /// "_version":1,"result":"created","status":201}}`, "updated" with 200 for an `index` that
    /// replaced a document, and `version_conflict_engine_exception` with 409 for a `create` of a
    /// stored id.
    func writeDocumentItem(_ item: Item, id: String, outcomes: DocumentOutcomes, into json: inout JSONText) {
        let index = batch.streams[Int(batch.lines[Int(item.document)].stream)].index
        json.raw("{\"")
        json.raw(item.op.rawValue)
        json.raw("\":{\"_index\":")
        json.string(index)
        json.raw(",\"_id\":")
        json.string(id)
        if outcomes.conflicts.contains(item.document) {
            json.raw(",\"status\":409,\"error\":{\"type\":\"version_conflict_engine_exception\",\"reason\":")
            json.string("[\(id)]: version conflict, document already exists (current version [1])")
            json.raw(",\"index\":")
            json.string(index)
            json.raw(",\"shard\":\"0\"}}}")
            return
        }
        let updated = outcomes.replaced.contains(item.document)
        json.raw(updated ? ",\"_version\":2,\"result\":\"updated\"" : ",\"_version\":1,\"result\":\"created\"")
        json.raw(",\"_shards\":{\"total\":1,\"successful\":1,\"failed\":0}")
        json.raw(updated ? ",\"status\":200}}" : ",\"status\":201}}")
    }
}
