import Foundation

extension Catalog {
    /// Streams of deleted indices.
    func loadDeletedStreams() throws -> Set<StreamID> {
        var result = Set<StreamID>()
        guard let table = deletedStreams else { return result }
        try env.read { txn in
            try txn.scan(table) { key, _ in
                result.insert(try Keys.decodeU64(key))
                return true
            }
        }
        return result
    }

    /// Indices created empty, with their creation time (ns).
    func loadCreatedIndices() throws -> [String: Int64] {
        var result: [String: Int64] = [:]
        guard let table = indices else { return result }
        try env.read { txn in
            try txn.scan(table) { key, value in
                result[String(decoding: key, as: UTF8.self)] = Int64(bitPattern: try Keys.decodeU64(value))
                return true
            }
        }
        return result
    }

    /// Records an index deletion (one transaction, synced): its streams become hidden, the
    /// names no longer count as created.
    func recordDeletion(streams ids: [StreamID], indices names: [String], at time: Int64) throws {
        guard let deletedStreams, let indices else { throw StorageError.readOnly }
        try env.write { txn in
            for id in ids { try txn.put(deletedStreams, Keys.u64(id), Keys.u64(UInt64(max(0, time)))) }
            for name in names { _ = try txn.delete(indices, Array(name.utf8)) }
        }
    }

    /// Records an index created empty.
    func recordIndex(_ name: String, at time: Int64) throws {
        guard let indices else { throw StorageError.readOnly }
        try env.write { txn in try txn.put(indices, Array(name.utf8), Keys.u64(UInt64(max(0, time)))) }
    }
}
