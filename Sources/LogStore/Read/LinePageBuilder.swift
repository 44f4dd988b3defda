import Foundation

/// LinePageBuilder collects a `LinePage` while a log-order read walks its days: the decoded
/// blocks (and packed head lines) the lines point into, and the lines in page order. It counts
/// the bytes its sources hold against the read's limit (`StorageOptions.maxReadBytes`).
struct LinePageBuilder {
    var sources: [DecodedBlock] = []
    var sourceIDs: [BlockID?] = []
    var lines: [LinePage.Ref] = []
    var truncated = false
    /// Bytes the sources hold in memory.
    private(set) var bytes = 0
    /// The most `bytes` may reach.
    let maxBytes: Int
    /// Past `maxBytes`, end the page early (true) instead of failing the read.
    let shortPages: Bool
    /// Set when the page ended early at `maxBytes`: no later day is read.
    var endedEarly = false

    init(limit: Int, maxBytes: Int = Limits.maxReadBytes, shortPages: Bool = false) {
        lines.reserveCapacity(min(limit, 10_000))
        self.maxBytes = maxBytes
        self.shortPages = shortPages
    }

    /// The number the next source added gets.
    var nextSource: Int32 { Int32(sources.count) }

    /// True once the sources hold more than `maxBytes`.
    var overLimit: Bool { bytes > maxBytes }

    /// Adds a source (`id` nil for head lines and copied-out lines); returns its number.
    mutating func add(_ source: DecodedBlock, id: BlockID?) -> Int32 {
        sources.append(source)
        sourceIDs.append(id)
        bytes += source.memorySize
        return Int32(sources.count - 1)
    }

    /// The page, its cursor at the last line.
    func build() -> LinePage {
        LinePage(lines: lines, sources: sources, sourceIDs: sourceIDs, next: lines.last?.position, truncated: truncated)
    }
}
