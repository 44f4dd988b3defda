import Foundation

/// CommitGrouping sorts a commit's lines by day and stream as LSNs are given. Lines of the
/// batch's main day (its first line's) go to one array per stream, found through a slot number
/// the caller caches per request stream, so the common line costs an array append; lines of
/// other days go to a dictionary.
struct CommitGrouping {
    private(set) var mainDay: Int32?
    private var slotOf: [StreamID: Int] = [:]
    private var slots: [[LineView]] = []
    private var slotIDs: [StreamID] = []
    private var others: [Int32: [StreamID: [LineView]]] = [:]

    /// Adds `line` of stream `id` for `day`; `slot` is the caller's cache of the stream's slot
    /// (-1 when not known yet). Returns true when the line is of the main day.
    @inline(__always)
    mutating func add(_ line: LineView, stream id: StreamID, day: Int32, slot: inout Int) -> Bool {
        if mainDay == nil { mainDay = day }
        guard day == mainDay else {
            others[day, default: [:]][id, default: []].append(line)
            return false
        }
        if slot < 0 {
            if let known = slotOf[id] {
                slot = known
            } else {
                slot = slots.count
                slotOf[id] = slot
                slots.append([])
                slotIDs.append(id)
            }
        }
        slots[slot].append(line)
        return true
    }

    /// The lines by day and stream.
    consuming func groups() -> [Int32: [StreamID: [LineView]]] {
        var groups = others
        if let mainDay {
            var dayGroup = [StreamID: [LineView]](minimumCapacity: slots.count)
            for (k, id) in slotIDs.enumerated() { swap(&slots[k], &dayGroup[id, default: []]) }
            groups[mainDay] = dayGroup
        }
        return groups
    }
}
