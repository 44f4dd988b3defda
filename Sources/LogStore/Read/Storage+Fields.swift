import Foundation

extension Storage {
    /// The field catalog: every document field of the lines of `indices` (all when nil), with
    /// the types its values were mapped to (`text`, `long`, `float`, `boolean`, `date`,
    /// `object`), from each day's field tokens (sealed blocks) and its head lines; the lines of
    /// blocks no index holds (a day that keeps no token index) are read.
    ///
    /// Blocks written before field tokens existed are not in it. Throws
    /// `StorageError.queryTimeout` past `deadline` (`queryDeadline()` when nil).
    public func fieldCatalog(indices: Set<String>? = nil, deadline: QueryDeadline? = nil) throws -> [String: Set<String>] {
        let deadline = deadline ?? queryDeadline()
        let (segments, keys) = shared.state.withLock { s in (Array(s.segments.values), s.streams.mapValues(\.key)) }
        var catalog: [String: Set<String>] = [:]
        func add(_ token: ArraySlice<UInt8>) {
            guard let sep = token.firstIndex(of: FieldTokens.separator) else { return }
            let path = String(decoding: token[(token.startIndex + 1)..<sep], as: UTF8.self)
            catalog[path, default: []].insert(String(decoding: token[(sep + 1)...], as: UTF8.self))
        }
        let prefix = [FieldTokens.type]
        for segment in segments {
            try deadline.check()
            let wanted: Set<StreamID>? = indices.map { names in Set(keys.filter { names.contains($0.value.index) }.keys) }
            if let wanted, wanted.isEmpty { continue }
            try SegmentSnapshot.read(segment, shared: shared, streams: wanted, cache: blockCache) { snapshot in
                // Type tokens with their blocks: stored, packed, pending.
                var found: [([UInt8], [Posting])] = []
                let (indexed, next) = try snapshot.indexState()
                try snapshot.txn.scan(segment.postings, prefix: prefix) { k, v in
                    var postings: [Posting] = []
                    try Postings.decode(key: k, value: v) { p in if p.block < indexed { postings.append(p) } }
                    found.append((Array(Postings.token(ofKey: k)), postings))
                    return true
                }
                if let runs = segment.postingRuns {
                    try PostingRuns.scanTokens(snapshot.txn, runs, packs: segment.packs, prefix: prefix) { token, postings in
                        found.append((Array(token), postings.filter { $0.block < indexed }))
                    }
                }
                found.append(contentsOf: segment.pending.entries(prefix: prefix).map { ($0.token, $0.postings) })
                for (token, postings) in found {
                    if catalog[String(decoding: token.dropFirst().prefix { $0 != FieldTokens.separator }, as: UTF8.self)]?
                        .contains(String(decoding: token.split(separator: FieldTokens.separator, maxSplits: 1).last ?? [], as: UTF8.self)) == true
                    {
                        continue
                    }
                    var wantedHere = false
                    if let wanted {
                        for p in postings {
                            if let ref = try snapshot.blockRef(p.block), wanted.contains(ref.stream) {
                                wantedHere = true
                                break
                            }
                        }
                    } else {
                        wantedHere = !postings.isEmpty
                    }
                    if wantedHere { add(token[...]) }
                }
                // Head lines, and the lines of blocks neither in the stored postings this
                // snapshot sees nor in the pending index: their fields, each distinct value once.
                var seen = Set<[UInt8]>()
                func addFields(_ fields: UnsafeRawBufferPointer, _ message: UnsafeRawBufferPointer, _ timestamp: Int64) {
                    let bytes = Array(fields)
                    if !bytes.contains(StoredSource.rawMessageSlot), !seen.insert(bytes).inserted { return }
                    for token in FieldTokens.tokens(fields: fields, message: message, timestamp: timestamp) where token.first == FieldTokens.type {
                        add(token[...])
                    }
                }
                for id in snapshot.heads.keys where wanted?.contains(id) ?? true {
                    try deadline.check()
                    try snapshot.forEachHeadLine(of: id) { line in addFields(line.fields, line.message, line.timestamp) }
                }
                if indexed < next {
                    let covered = segment.pending.coveredBlocks
                    try snapshot.forEachBlockRef(from: indexed) { ref in
                        if ref.number >= next { return false }
                        guard !covered.contains(ref.number), wanted?.contains(ref.stream) ?? true,
                            let stored = try snapshot.block(stream: ref.stream, firstLSN: ref.firstLSN)
                        else { return true }
                        try deadline.check()
                        let block = try snapshot.decode(stored)
                        for i in 0..<block.count {
                            block.messageBytes(i).withUnsafeBytes { message in
                                block.withFields(i) { fields in addFields(fields, message, block.timestamps[i]) }
                            }
                        }
                        return true
                    }
                }
            }
        }
        return catalog
    }
}
