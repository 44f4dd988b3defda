import Foundation
import Synchronization

/// State shared between the writer and readers, behind one lock.
final class Shared: Sendable {
    let state: Mutex<Storage.SharedState>
    /// Bounds the segments open at once (`StorageOptions.maxOpenSegments`).
    let segmentPool: LMDBEnvironmentPool

    init(_ initial: consuming Storage.SharedState, segmentPool: LMDBEnvironmentPool) {
        state = Mutex(initial)
        self.segmentPool = segmentPool
    }

    /// A change of one stream's head, published to readers.
    enum HeadUpdate {
        /// The stream's head lines were sealed into blocks (or deleted).
        case removed
        /// These LSNs were added to the stream's head.
        case appended([LSN])
        /// These LSNs were deleted from the stream's head (replaced documents).
        case dropped(Set<LSN>)
    }

    /// Called by the writer after each transaction that changed a day's head, before callers
    /// are resumed.
    func updateHeads(day: Int32, _ updates: [StreamID: HeadUpdate]) {
        if updates.isEmpty { return }
        state.withLock { s in
            // In place: copying a day's index of thousands of streams per commit was measurable,
            // and so was republishing each stream's whole LSN list (appends stay in place unless
            // a reader holds the list right then).
            for (id, update) in updates {
                switch update {
                case .removed: s.heads[day]?[id] = nil
                case .appended(let lsns): s.heads[day, default: [:]][id, default: []].append(contentsOf: lsns)
                case .dropped(let lsns): s.heads[day]?[id]?.removeAll { lsns.contains($0) }
                }
            }
            if s.heads[day]?.isEmpty == true { s.heads[day] = nil }
        }
    }

    /// Called by the writer after a commit: publishes stats and wakes observers.
    func publish(
        newStreams: [(StreamID, StreamKey)], segments newSegments: [Segment], stats: [Int32: [StreamID: StreamStats]], lastLSN: LSN
    ) {
        let (observers, touched) = state.withLock { s -> ([@Sendable (CommitEvent) -> Void], Set<StreamID>) in
            for segment in newSegments { s.segments[segment.day] = segment }
            for (id, key) in newStreams { s.add(StreamInfo(id: id, key: key, stats: StreamStats(), days: [])) }
            var touched = Set<StreamID>()
            for (day, perStream) in stats {
                for (id, delta) in perStream {
                    touched.insert(id)
                    s.streams[id]?.stats.merge(delta)
                    if let days = s.streams[id]?.days, !days.contains(day) {
                        s.streams[id]!.days.append(day)
                        s.streams[id]!.days.sort()
                    }
                }
            }
            s.committedLSN = max(s.committedLSN, lastLSN)
            return (Array(s.observers.values), touched)
        }
        let event = CommitEvent(lastLSN: lastLSN, streams: touched)
        for observer in observers { observer(event) }
    }
}

extension Shared {
    /// The head index of `day` for `streams` (every stream of the day when nil): each stream's
    /// unsealed head LSNs, ascending, as the writer last published them. Taken by
    /// `SegmentSnapshot` before its transaction opens.
    func headIndex(day: Int32, streams: (some Collection<StreamID>)?) -> [StreamID: [LSN]] {
        state.withLock { s in
            guard let dayHeads = s.heads[day] else { return [:] }
            guard let streams else { return dayHeads }
            if streams.count > dayHeads.count {
                let wanted = streams as? Set<StreamID> ?? Set(streams)
                return dayHeads.filter { wanted.contains($0.key) }
            }
            var picked: [StreamID: [LSN]] = [:]
            for id in streams { if let lsns = dayHeads[id] { picked[id] = lsns } }
            return picked
        }
    }
}
