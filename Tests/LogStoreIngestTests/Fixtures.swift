import Foundation

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

    /// Whether `bytes` is a JSON object according to Foundation (an independent check).
    static func jsonObject(_ bytes: [UInt8]) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(bytes), options: [])) as? [String: Any]
    }
}
