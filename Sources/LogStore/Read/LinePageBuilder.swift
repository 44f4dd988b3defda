import Foundation

/// LinePageBuilder collects a `LinePage` while a log-order read walks its days: the decoded
/// blocks (and packed head lines) the lines point into, and the lines in page order.
struct LinePageBuilder {
    var sources: [DecodedBlock] = []
    var sourceIDs: [BlockID?] = []
    var lines: [LinePage.Ref] = []
    var truncated = false

    init(limit: Int) {
        lines.reserveCapacity(min(limit, 10_000))
    }

    /// The number the next source added gets.
    var nextSource: Int32 { Int32(sources.count) }

    /// Adds a source (`id` nil for head lines); returns its number.
    mutating func add(_ source: DecodedBlock, id: BlockID?) -> Int32 {
        sources.append(source)
        sourceIDs.append(id)
        return Int32(sources.count - 1)
    }

    /// The page, its cursor at the last line.
    func build() -> LinePage {
        LinePage(lines: lines, sources: sources, sourceIDs: sourceIDs, next: lines.last?.position, truncated: truncated)
    }
}
