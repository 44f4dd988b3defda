/// Writes RFC 3339 timestamps exactly as `Timestamp.writeRFC3339` does, keeping the date of the
/// last one: the lines of one answer mostly share a day, and working the date out of the day
/// number was half the cost of each timestamp.
public struct RFC3339Writer: Sendable {
    /// The day (since the epoch) whose `YYYY-MM-DDT` is cached, or `Int64.min`.
    private var day: Int64 = .min
    /// Bytes 0–7 and 8–9 of `YYYY-MM-DD` for `day`.
    private var head: UInt64 = 0
    private var tail: UInt16 = 0

    public init() {}

    /// Writes the RFC 3339 form of `nanos` at `buf` (room for 30 bytes); returns its length.
    public mutating func write(_ nanos: Int64, to buf: UnsafeMutablePointer<UInt8>) -> Int {
        let (days, secondOfDay, fraction) = Timestamp.split(nanos)
        let raw = UnsafeMutableRawPointer(buf)
        let count = 11 + Timestamp.writeTimeOfDay(secondOfDay, fraction, to: buf + 11)
        if days == day {
            raw.storeBytes(of: head, as: UInt64.self)
            raw.storeBytes(of: tail, toByteOffset: 8, as: UInt16.self)
            buf[10] = UInt8(ascii: "T")
        } else {
            Timestamp.writeDate(days, to: buf)
            day = days
            head = raw.loadUnaligned(as: UInt64.self)
            tail = raw.loadUnaligned(fromByteOffset: 8, as: UInt16.self)
        }
        return count
    }
}
