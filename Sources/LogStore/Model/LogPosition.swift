/// A position in log order: `(@timestamp, LSN)`. Used as the cursor for paging a log.
///
/// Its text form is `"<timestamp ns>-<lsn>"`, e.g. `1727178598253000000-42`.
public struct LogPosition: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var timestamp: Int64
    public var lsn: LSN

    public init(timestamp: Int64, lsn: LSN) {
        self.timestamp = timestamp
        self.lsn = lsn
    }

    /// Parses the text form; nil when it is not one.
    public init?(_ text: String) {
        guard let dash = text.lastIndex(of: "-"), dash != text.startIndex,
            let ts = Int64(text[..<dash]), let lsn = LSN(text[text.index(after: dash)...])
        else { return nil }
        self.init(timestamp: ts, lsn: lsn)
    }

    public static func < (a: LogPosition, b: LogPosition) -> Bool {
        a.timestamp != b.timestamp ? a.timestamp < b.timestamp : a.lsn < b.lsn
    }

    public var description: String { "\(timestamp)-\(lsn)" }

    public static let minimum = LogPosition(timestamp: .min, lsn: 0)
    public static let maximum = LogPosition(timestamp: .max, lsn: .max)
}
