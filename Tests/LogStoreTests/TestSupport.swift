import Foundation
import Logging
@testable import LogStore

/// A fresh directory under the system temp dir, removed by `cleanup()`.
struct TempDirectory {
    let path: String

    init(_ name: String = "logstore-test") {
        path = NSTemporaryDirectory() + "\(name)-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

let testLogger: Logger = {
    var logger = Logger(label: "logstore.test")
    logger.logLevel = .warning
    return logger
}()

/// A deterministic random generator (SplitMix64) so failures reproduce from the seed.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

let nanosPerSecond: Int64 = 1_000_000_000
/// 2024-09-24T00:00:00Z
let day0: Int64 = 1_727_136_000 * nanosPerSecond

func line(_ key: StreamKey, _ ts: Int64, _ message: String, fields: String = "{}") -> IncomingLine {
    IncomingLine(stream: key, timestamp: ts, message: message, fields: fields)
}

extension Storage {
    /// Every line of the streams in `selector`, read page by page.
    func readAll(_ selector: StreamSelector, order: ReadOrder = .ascending, pageSize: Int = 1000) throws -> [LogLine] {
        let ids = streams(matching: selector).map(\.id)
        var out: [LogLine] = []
        var after: LogPosition?
        while true {
            let page = try read(LogQuery(streams: ids, after: after, limit: pageSize, order: order))
            out.append(contentsOf: page.lines)
            if page.lines.count < pageSize { return out }
            after = page.next
        }
    }
}
