import Foundation
import LogStore

/// Reads captured request bodies from `Tests/Fixtures/` (located from this file's path).
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    /// The bytes of `Tests/Fixtures/<path>`, e.g. `fluentbit/es_default.body.raw`.
    static func bytes(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(path)))
    }

    /// Whether `bytes` (a fields value: its members other than the message and the time) is a
    /// JSON object according to Foundation (an independent check).
    static func jsonObject(_ bytes: [UInt8]) -> [String: Any]? {
        let other = Array(StoredSource.otherFields(String(decoding: bytes, as: UTF8.self)).utf8)
        return (try? JSONSerialization.jsonObject(with: Data(other), options: [])) as? [String: Any]
    }
}

extension IncomingLine {
    /// The members other than the message and the time, as a JSON object (a source template
    /// without its slots).
    var otherFields: String { StoredSource.otherFields(fieldsString) }
}
