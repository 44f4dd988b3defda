import Foundation

/// Log text for benchmarks: the loghub samples from `../shared/corpus/loghub` (or
/// `$LOGSTORE_CORPUS`) when present, otherwise synthetic lines of the same shapes.
public enum Corpus {
    public static let directory: String? = {
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["LOGSTORE_CORPUS"] { candidates.append(env) }
        let here = URL(fileURLWithPath: #filePath)
        // Benchmarks/BenchSupport/Corpus.swift → repository → ../shared/corpus/loghub
        let repo = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(repo.deletingLastPathComponent().appendingPathComponent("shared/corpus/loghub").path)
        candidates.append(FileManager.default.currentDirectoryPath + "/../shared/corpus/loghub")
        candidates.append(FileManager.default.currentDirectoryPath + "/../../shared/corpus/loghub")
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/HDFS_2k.log") }
    }()

    /// (file name, lines) of every loghub sample, or nil without the corpus.
    public static let loghub: [(String, [String])]? = {
        guard let directory else { return nil }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".log") }.sorted()
        return names.compactMap { name in
            guard let text = try? String(contentsOfFile: directory + "/" + name, encoding: .utf8) else { return nil }
            return (name, text.split(whereSeparator: \.isNewline).map(String.init))  // the files end lines with CRLF
        }
    }()

    /// Every loghub line (or synthetic ones), for feeding generators.
    public static let lines: [String] = {
        if let loghub { return loghub.flatMap(\.1) }
        return (0..<20_000).map {
            "081109 20\($0 % 60) \($0) INFO dfs.DataNode$PacketResponder: PacketResponder \($0 % 3) for block blk_\($0 &* 7919) terminating"
        }
    }()

    /// A line of about `size` bytes built from corpus text (deterministic in `i`).
    public static func line(_ i: Int, size: Int) -> [UInt8] {
        var bytes = Array(lines[i % lines.count].utf8)
        var k = i + 1
        while bytes.count < size {
            bytes.append(0x20)
            bytes.append(contentsOf: lines[(k &* 31) % lines.count].utf8)
            k += 1
        }
        return Array(bytes.prefix(size))
    }
}

/// A temporary data directory removed at exit of the benchmark.
public func temporaryDirectory(_ name: String) -> String {
    let path = NSTemporaryDirectory() + "logstore-bench-\(name)-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
