import Foundation

extension Writer {
    /// Removes a day segment: from memory, the catalog and the disk. Writer thread only.
    func dropSegment(_ day: Int32) throws -> Int {
        guard let segment = shared.state.withLock({ $0.segments[day] }) else { return 0 }
        let bytes = segment.fileBytes
        heads[day] = nil
        segmentStreams[day] = nil
        let affected = shared.state.withLock { s in s.streams.values.filter { $0.days.contains(day) }.map(\.id) }
        shared.state.withLock { s in
            s.segments[day] = nil
            s.heads[day] = nil
        }
        try rebuildStats(of: affected, excluding: day)
        try catalog.forget(segments: [day])
        segment.unlink()
        syncDirectory(segmentsDirectory)
        return bytes
    }
}
