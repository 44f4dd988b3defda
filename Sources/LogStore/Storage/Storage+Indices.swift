import Foundation

/// One index as `_cat/indices` shows it.
public struct IndexSummary: Sendable, Equatable {
    public var name: String
    /// Lines stored (replaced and deleted ones not counted).
    public var documents: UInt64
    /// Bytes of the lines as sent (messages and fields).
    public var rawBytes: UInt64
    /// Disk the index takes: the data files' size shared out by raw bytes (the days hold the
    /// lines of every index together, so this is an estimate).
    public var storeBytes: UInt64
}

extension Storage {
    /// Records `name` as an index without lines (`PUT /{index}`); false when the index exists.
    public func createIndex(_ name: String) async throws -> Bool {
        guard let writer else { throw StorageError.readOnly }
        if hasIndex(name) { return false }
        return try await writer.perform { writer in
            if writer.shared.state.withLock({ $0.createdIndices[name] != nil }) { return false }
            let now = Writer.wallClock()
            try writer.catalog.recordIndex(name, at: now)
            writer.shared.state.withLock { $0.createdIndices[name] = now }
            return true
        }
    }

    /// Deletes the indices `names`: their lines disappear from every read at once (durably:
    /// recorded in the catalog), compaction removes them from the files, and a later line of
    /// such an index starts it afresh (in new streams). Returns the names that existed.
    @discardableResult
    public func deleteIndices(_ names: Set<String>) async throws -> Set<String> {
        guard let writer else { throw StorageError.readOnly }
        return try await writer.perform { writer in
            let (streams, created) = writer.shared.state.withLock { s -> ([StreamInfo], Set<String>) in
                let streams = names.flatMap { s.byIndex[$0] ?? [] }.compactMap { s.streams[$0] }.filter { !s.isHidden($0) }
                return (streams, Set(names.filter { s.createdIndices[$0] != nil }))
            }
            let existed = Set(streams.map(\.key.index)).union(created)
            if existed.isEmpty { return [] }
            try writer.catalog.recordDeletion(streams: streams.map(\.id), indices: Array(created), at: Writer.wallClock())
            writer.shared.state.withLock { s in
                s.deletedStreams.formUnion(streams.map(\.id))
                for name in created { s.createdIndices[name] = nil }
            }
            // The index's next line gets a new stream (the writer resolves keys through `keys`).
            for info in streams where writer.keys[info.key] == info.id { writer.keys[info.key] = nil }
            return existed
        }
    }

    /// Every index the store shows, by name.
    public func indexSummaries() -> [IndexSummary] {
        let (perIndex, created, fileBytes) = shared.state.withLock { s -> ([String: (UInt64, UInt64)], [String], Int) in
            var perIndex: [String: (UInt64, UInt64)] = [:]
            for info in s.streams.values where !s.isHidden(info) {
                var entry = perIndex[info.key.index] ?? (0, 0)
                entry.0 += info.stats.lines
                entry.1 += info.stats.rawBytes
                perIndex[info.key.index] = entry
            }
            return (perIndex, Array(s.createdIndices.keys), s.segments.values.reduce(0) { $0 + $1.fileBytes })
        }
        let totalRaw = perIndex.values.reduce(0) { $0 + $1.1 }
        var result: [String: IndexSummary] = [:]
        for name in created { result[name] = IndexSummary(name: name, documents: 0, rawBytes: 0, storeBytes: 0) }
        for (name, (lines, raw)) in perIndex {
            let share = totalRaw > 0 ? Double(raw) / Double(totalRaw) : 0
            result[name] = IndexSummary(name: name, documents: lines, rawBytes: raw, storeBytes: UInt64(Double(fileBytes) * share))
        }
        return result.values.sorted { $0.name < $1.name }
    }
}
