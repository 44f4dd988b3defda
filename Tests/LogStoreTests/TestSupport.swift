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
