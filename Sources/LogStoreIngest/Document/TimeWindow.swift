/// TimeWindow is the range of document times ingest accepts, relative to the arrival time of
/// their request, and how many distinct UTC days one request may write to. Each distinct day is
/// a segment of its own (an LMDB environment, two files, kept open): without a window, one body
/// of documents with thousands of dates opens thousands of files.
///
/// A document outside the window, or on a day beyond the first ``maxDays`` distinct days of its
/// request, is refused with a per-item error (``IngestError/outsideTimeWindow(_:)``,
/// ``IngestError/tooManyDays(limit:)``): resending it cannot succeed, so it is not a 429.
public struct TimeWindow: Sendable, Equatable {
    /// Oldest accepted document, as an age in nanoseconds before the arrival time; nil accepts
    /// any age.
    public var maxAgeNanoseconds: Int64?
    /// Furthest accepted document in the future, in nanoseconds after the arrival time; nil
    /// accepts any.
    public var maxFutureNanoseconds: Int64?
    /// Most distinct UTC days of one request; nil accepts any number.
    public var maxDays: Int?

    /// TimeWindow.unbounded accepts every time and any number of days (`logstore import`'s
    /// default: an import replays old logs on purpose).
    public static let unbounded = TimeWindow(maxAgeNanoseconds: nil, maxFutureNanoseconds: nil, maxDays: nil)

    /// TimeWindow.defaultMaxFuture: a day, for clocks that are wrong by a time zone.
    public static let defaultMaxFuture: Duration = .seconds(86_400)
    /// TimeWindow.defaultMaxDays: a FluentBit chunk holds seconds to minutes of logs (one or
    /// two days); a replay of older buffers rarely mixes more than a week.
    public static let defaultMaxDays = 8

    /// Creates a window; each nil or non-positive bound is off.
    public init(maxAgeNanoseconds: Int64?, maxFutureNanoseconds: Int64?, maxDays: Int?) {
        self.maxAgeNanoseconds = maxAgeNanoseconds.flatMap { $0 > 0 ? $0 : nil }
        self.maxFutureNanoseconds = maxFutureNanoseconds.flatMap { $0 > 0 ? $0 : nil }
        self.maxDays = maxDays.flatMap { $0 > 0 ? $0 : nil }
    }

    /// Creates a window from durations (saturating at `Int64.max` nanoseconds); each nil or
    /// zero bound is off.
    public init(maxAge: Duration?, maxFuture: Duration?, maxDays: Int?) {
        func ns(_ d: Duration) -> Int64 {
            let (s, overflow) = d.components.seconds.multipliedReportingOverflow(by: 1_000_000_000)
            return overflow ? (d.components.seconds < 0 ? .min : .max) : s
        }
        self.init(maxAgeNanoseconds: maxAge.map(ns), maxFutureNanoseconds: maxFuture.map(ns), maxDays: maxDays)
    }

    /// TimeWindow.check throws ``IngestError/outsideTimeWindow(_:)`` when `timestamp` (ns) is
    /// older than ``maxAgeNanoseconds`` or further than ``maxFutureNanoseconds`` from `arrival`
    /// (ns). The arithmetic saturates: no timestamp can overflow it.
    public func check(_ timestamp: Int64, arrival: Int64) throws(IngestError) {
        if let maxAge = maxAgeNanoseconds {
            let (oldest, overflow) = arrival.subtractingReportingOverflow(maxAge)
            if !overflow && timestamp < oldest {
                throw .outsideTimeWindow(
                    "the document's time \(Timestamp.formatRFC3339(timestamp)) is older than the accepted "
                        + "\(Self.describe(maxAge)) (documents from \(Timestamp.formatRFC3339(oldest)) on are accepted)")
            }
        }
        if let maxFuture = maxFutureNanoseconds {
            let (latest, overflow) = arrival.addingReportingOverflow(maxFuture)
            if !overflow && timestamp > latest {
                throw .outsideTimeWindow(
                    "the document's time \(Timestamp.formatRFC3339(timestamp)) is more than \(Self.describe(maxFuture)) "
                        + "in the future (documents up to \(Timestamp.formatRFC3339(latest)) are accepted)")
            }
        }
    }

    /// TimeWindow.day is the UTC day number of `timestamp` (ns since the epoch), rounding down.
    public static func day(_ timestamp: Int64) -> Int64 {
        let perDay: Int64 = 86_400_000_000_000
        return timestamp >= 0 ? timestamp / perDay : (timestamp + 1) / perDay - 1
    }

    /// A span as whole days, hours, minutes or seconds (`30d`, `12h`).
    static func describe(_ ns: Int64) -> String {
        for (unit, size) in [("d", Int64(86_400_000_000_000)), ("h", 3_600_000_000_000), ("m", 60_000_000_000)]
        where ns % size == 0 {
            return "\(ns / size)\(unit)"
        }
        return "\(ns / 1_000_000_000)s"
    }
}
