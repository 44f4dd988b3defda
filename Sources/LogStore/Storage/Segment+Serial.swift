import Synchronization

extension Segment {
    private static let serials = Atomic<UInt64>(0)

    /// A number no other `Segment` object of this process has.
    static func newSerial() -> UInt64 { serials.add(1, ordering: .relaxed).newValue }
}
