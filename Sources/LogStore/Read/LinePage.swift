import Foundation

/// A page of lines referenced in place in their decoded blocks: no string or array per line.
/// The HTTP answers write straight from it; `logPage` materializes `LogLine`s.
public struct LinePage: Sendable {
    /// One line: its position, its stream and where its bytes are.
    public struct Ref: Sendable {
        public let timestamp: Int64
        public let lsn: LSN
        public let stream: StreamID
        @usableFromInline let source: Int32
        @usableFromInline let index: Int32

        public var position: LogPosition { LogPosition(timestamp: timestamp, lsn: lsn) }
        /// True for the first line of its block (where `wholeBlock` can start).
        public var startsSource: Bool { index == 0 }
    }

    public var lines: [Ref]
    /// The decoded blocks (and head lines, packed the same way) the refs point into.
    @usableFromInline let sources: [DecodedBlock]
    /// Each source's block identity (nil for head lines).
    let sourceIDs: [BlockID?]
    /// Position of the last line returned; nil when the page is empty.
    public var next: LogPosition?
    /// True when the page was cut by the limit (more lines may follow).
    public var truncated: Bool

    /// Calls `body` with the message bytes of `ref`.
    @inlinable
    public func withMessage<R>(_ ref: Ref, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withMessageAndFields(ref) { message, _ in try body(message) }
    }

    /// Calls `body` with the message and the fields bytes of `ref` (the block is borrowed, not
    /// copied: the answers' per-line loops use this).
    @inlinable
    public func withMessageAndFields<R>(_ ref: Ref, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        // Only the payload is held across `body`: a whole `DecodedBlock` would be copied (five
        // retains and releases per line, ~10 % of a read).
        let block = Int(ref.source)
        let (message, fields) = sources[block].ranges(Int(ref.index))
        let payload = sources[block].payload
        return try payload.withUnsafeBytes {
            try body(UnsafeRawBufferPointer(rebasing: $0[message]), UnsafeRawBufferPointer(rebasing: $0[fields]))
        }
    }

    /// `ref` as a `LogLine` (two strings).
    public func logLine(_ ref: Ref) -> LogLine {
        sources[Int(ref.source)].logLine(Int(ref.index), stream: ref.stream)
    }

    /// No lines.
    public static let empty = LinePage(lines: [], sources: [], sourceIDs: [], next: nil, truncated: false)

    /// When `lines[i...]` starts with every line of one sealed block, in the block's order (and
    /// nothing else in between): the block's identity and line count. Answers cache what they
    /// build from a whole block under its identity.
    public func wholeBlock(startingAt i: Int, in lines: ArraySlice<Ref>) -> (id: BlockID, count: Int)? {
        let first = lines[i]
        guard first.index == 0, let id = sourceIDs[Int(first.source)] else { return nil }
        let n = sources[Int(first.source)].count
        let lastIndex = i + n - 1
        guard lastIndex < lines.endIndex else { return nil }
        let last = lines[lastIndex]
        // Lines of one source come in increasing index order (both are in position order), so
        // the first and the last at these places put all n lines of the block in between.
        guard last.source == first.source, Int(last.index) == n - 1 else { return nil }
        return (id, n)
    }

    /// The page with materialized lines.
    public var logPage: LogPage {
        LogPage(lines: lines.map(logLine), next: next, truncated: truncated)
    }
}
