import Foundation

/// A document read back by its `_id` (`GET /{index}/_doc/{id}`).
public struct StoredDocument: Sendable, Equatable {
    /// The client's `_id`, or the generated one (``GeneratedID``).
    public var id: String
    public var key: StreamKey
    public var line: LogLine
}

extension Storage {
    /// The id a line without a client `_id` answers to (``GeneratedID``).
    public static func generatedID(_ lsn: LSN) -> String { GeneratedID.string(lsn) }

    /// The `_id` of the line `lsn` written at `timestamp`: its client id, else the generated one.
    public func documentID(timestamp: Int64, lsn: LSN) -> String {
        var ids: [LSN: String] = [:]
        documentIDs(day: Day.of(timestamp), lsns: [lsn], into: &ids)
        return ids[lsn] ?? GeneratedID.string(lsn)
    }

    /// The client `_id`s of `lines` (read from any read), by LSN; lines without one are absent.
    /// A line lives in the segment of its timestamp's day, whose `docids` table is looked at
    /// only when it holds any.
    public func documentIDs(for lines: some Collection<LinePage.Ref>) -> [LSN: String] {
        var byDay: [Int32: [LSN]] = [:]
        for line in lines { byDay[Day.of(line.timestamp), default: []].append(line.lsn) }
        var result: [LSN: String] = [:]
        for (day, lsns) in byDay { documentIDs(day: day, lsns: lsns, into: &result) }
        return result
    }

    /// Adds the client `_id`s of the lines `lsns` of `day` to `result`.
    func documentIDs(day: Int32, lsns: [LSN], into result: inout [LSN: String]) {
        guard let segment = segment(day), let table = segment.docIDs else { return }
        try? segment.env.read { txn in
            guard try txn.count(table) > 0 else { return }
            for lsn in lsns {
                guard let key = try txn.get(table, u64: lsn), let zero = key.firstIndex(of: 0) else { continue }
                result[lsn] = String(decoding: UnsafeRawBufferPointer(rebasing: key[(zero + 1)...]), as: UTF8.self)
            }
        }
    }

    /// The document of `index` whose `_id` is `id`: a client id, else a generated one (of a
    /// line of the index without a client id); nil when the index has none.
    public func document(index: String, id: String) throws -> StoredDocument? {
        let (streams, segments) = shared.state.withLock { s -> ([StreamID: StreamInfo], [Int32: Segment]) in
            var streams: [StreamID: StreamInfo] = [:]
            for sid in s.byIndex[index] ?? [] {
                if let info = s.streams[sid], !s.isDeleted(info.key), !s.deletedStreams.contains(sid) { streams[sid] = info }
            }
            return (streams, s.segments)
        }
        if streams.isEmpty { return nil }
        let days = Set(streams.values.flatMap(\.days)).sorted()
        let key = Keys.documentID(index: index, id: id)
        for day in days {
            guard let segment = segments[day] else { continue }
            let location = try segment.env.read { txn -> (LSN, StreamID?)? in
                guard let value = try txn.get(segment.ids, key) else { return nil }
                return try Keys.decodeDocumentRecord(value)
            }
            guard let location else { continue }
            let (lsn, stream) = location
            if let stream, streams[stream] == nil { continue }
            let candidates = stream.map { [$0] } ?? Array(streams.keys)
            if let found = try line(lsn: lsn, streams: candidates, in: segment), let info = streams[found.stream] {
                return StoredDocument(id: id, key: info.key, line: found)
            }
        }
        // A generated id: the LSN of a line of the index that has no client id.
        guard let lsn = GeneratedID.lsn(id) else { return nil }
        for day in days {
            guard let segment = segments[day] else { continue }
            let dayStreams = streams.values.filter { $0.days.contains(day) }.map(\.id)
            guard let found = try line(lsn: lsn, streams: dayStreams, in: segment), let info = streams[found.stream] else { continue }
            var own: [LSN: String] = [:]
            documentIDs(day: day, lsns: [lsn], into: &own)
            if own[lsn] != nil { return nil }
            return StoredDocument(id: id, key: info.key, line: found)
        }
        return nil
    }

    /// The line `lsn` of one of `streams` in `segment`, from the head or a block.
    func line(lsn: LSN, streams: [StreamID], in segment: Segment) throws -> LogLine? {
        try SegmentSnapshot.read(segment, shared: shared, streams: streams, cache: blockCache) { snapshot in
            for stream in streams {
                var found: LogLine?
                try snapshot.forEachHeadLine(of: stream, lsns: lsn...lsn) { line in
                    found = LogLine(
                        lsn: lsn, timestamp: line.timestamp, stream: stream, message: String(decoding: line.message, as: UTF8.self),
                        fields: String(decoding: line.fields, as: UTF8.self))
                }
                if let found { return found }
                try snapshot.forEachBlock(of: stream) { block in
                    guard block.header.firstLSN <= lsn && lsn <= block.header.lastLSN else { return true }
                    let decoded = try snapshot.decode(block)
                    if let i = decoded.lsns.firstIndex(of: lsn) {
                        found = decoded.logLine(i, stream: stream)
                        return false
                    }
                    return true
                }
                if let found { return found }
            }
            return nil
        }
    }
}
