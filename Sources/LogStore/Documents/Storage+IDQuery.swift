extension Storage {
    /// The LSNs of the lines whose `_id` is one of `ids`, in any index (an `ids` query): client
    /// ids through each day's `ids` table, generated ids (``GeneratedID``) when their line has
    /// no client id. Ids that name no line add nothing; LSNs of lines hidden from reads (a
    /// replaced version, a deleted index) may be included, as reads never reach those lines.
    public func lsns(ofDocumentIDs ids: some Collection<String>) throws -> Set<LSN> {
        let (indices, segments) = shared.state.withLock { s in (Array(s.byIndex.keys), Array(s.segments.values)) }
        var result = Set<LSN>()
        let generated = ids.compactMap { GeneratedID.lsn($0) }
        for segment in segments {
            try segment.env.read { txn in
                for index in indices {
                    for id in ids {
                        guard let value = try txn.get(segment.ids, Keys.documentID(index: index, id: id)) else { continue }
                        result.insert(try Keys.decodeDocumentRecord(value).0)
                    }
                }
            }
        }
        // A generated id names its line only when that line has no client id (of any day).
        var owned = Set<LSN>()
        if !generated.isEmpty {
            for segment in segments {
                guard let table = segment.docIDs else { continue }
                try segment.env.read { txn in
                    for lsn in generated where try txn.get(table, u64: lsn) != nil { owned.insert(lsn) }
                }
            }
        }
        for lsn in generated where !owned.contains(lsn) { result.insert(lsn) }
        return result
    }
}
