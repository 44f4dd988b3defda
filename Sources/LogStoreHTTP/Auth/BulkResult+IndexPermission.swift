import LogStore
import LogStoreIngest

extension BulkResult {
    /// BulkResult.deny removes from the batch every document whose index `permission` does
    /// not allow (streams, documents and item numbers renumbered; such items count as
    /// failures).
    ///
    /// - Returns: item position → refused index, for the bulk answer's per-item 403.
    mutating func deny(outside permission: IndexPermission) -> [Int: String] {
        guard !permission.allowsAll else { return [:] }
        let allowed = batch.streams.map { permission.allows($0.index) }
        if !allowed.contains(false) { return [:] }
        var streamNumber = [Int32](repeating: -1, count: batch.streams.count)
        var streams: [StreamKey] = []
        for (i, stream) in batch.streams.enumerated() where allowed[i] {
            streamNumber[i] = Int32(streams.count)
            streams.append(stream)
        }
        var lineNumber = [Int32](repeating: -1, count: batch.lines.count)
        var lines: [LineBatch.Line] = []
        for (i, line) in batch.lines.enumerated() where streamNumber[Int(line.stream)] >= 0 {
            var kept = line
            kept.stream = streamNumber[Int(line.stream)]
            lineNumber[i] = Int32(lines.count)
            lines.append(kept)
        }
        var denied: [Int: String] = [:]
        for k in items.indices where items[k].document >= 0 {
            let old = Int(items[k].document)
            if lineNumber[old] < 0 {
                denied[k] = batch.streams[Int(batch.lines[old].stream)].index
                items[k].document = -1
                failures += 1
            } else {
                items[k].document = lineNumber[old]
            }
        }
        // The arena and ids stay as they are: kept lines still point into them.
        batch = LineBatch(bytes: batch.bytes, lines: lines, streams: streams, ids: batch.ids, overwrites: batch.overwrites)
        return denied
    }

    /// BulkResult.writeForbiddenItem writes the answer of an item refused by `deny`:
    /// `{"create":{"_index":I,"status":403,"error":{"type":"security_exception","reason":…}}}`.
    static func writeForbiddenItem(_ op: BulkOp, index: String, into json: inout JSONText) {
        json.raw("{\"")
        json.raw(op.rawValue)
        json.raw("\":{\"_index\":")
        json.string(index)
        json.raw(",\"status\":403,\"error\":{\"type\":\"security_exception\",\"reason\":")
        json.string("no permissions to write index [\(index)]")
        json.raw("}}}")
    }
}
