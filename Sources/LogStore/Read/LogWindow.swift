import Foundation

/// LogWindow is the set of positions a log-order read may return: its cursor and its time
/// range together, as an interval of `(timestamp, LSN)` with open or closed ends.
struct LogWindow {
    var low = LogPosition.minimum
    var high = LogPosition.maximum
    var lowInclusive = true
    var highInclusive = true

    /// The window of `query`: `from ≤ timestamp < to`, and strictly after (ascending) or
    /// before (descending) its cursor.
    init(_ query: LogQuery) {
        if let from = query.from { low = max(low, LogPosition(timestamp: from, lsn: 0)) }
        if let to = query.to { high = min(high, LogPosition(timestamp: to, lsn: 0)) }
        highInclusive = query.to == nil
        guard let after = query.after else { return }
        if query.order == .ascending {
            if after >= low {
                low = after
                lowInclusive = false
            }
        } else if after <= high {
            high = after
            highInclusive = false
        }
    }

    /// True when a line at `p` belongs to the read.
    @inline(__always) func contains(_ p: LogPosition) -> Bool {
        (lowInclusive ? p >= low : p > low) && (highInclusive ? p <= high : p < high)
    }

    /// True when no line of a block with this header can be in the window.
    func excludes(_ header: BlockHeader) -> Bool {
        header.maxPosition < low || (!lowInclusive && header.maxPosition == low) || header.minPosition > high
            || (!highInclusive && header.minPosition == high)
    }

    /// The UTC days the window touches.
    var days: ClosedRange<Int32> {
        let lowDay = low.timestamp == .min ? Int32.min : Day.of(low.timestamp)
        let highDay = high.timestamp == .max ? Int32.max : Day.of(high.timestamp)
        return lowDay...max(lowDay, highDay)
    }
}
