import ArgumentParser
import Foundation
import LogStore
import LogStoreHTTP

/// `logstore debug-append-loop`: the writer side of the crash test (hidden).
///
/// Appends deterministic lines forever from several concurrent tasks and prints
/// `ACK <task> <first seq> <last seq>` after each append returns (so every printed line is
/// acknowledged). Line `seq` of task `t` is `CrashLine.make(task:seq:)`.
struct DebugAppendLoop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "debug-append-loop",
        abstract: "Append test lines forever, printing acknowledgements (used by the crash test).",
        shouldDisplay: false
    )

    @OptionGroup var data: DataOptions
    @Option(help: "Concurrent appenders.") var tasks: Int = 4
    @Option(help: "Seal heads at this many lines (small values exercise blocks).") var sealLines: Int = 64
    @Option(help: "Pause between appends of one task, in milliseconds (bounds the data a test must check).")
    var pauseMs: Int = 0
    @Option(help: "fsync or written[:INTERVAL], as for serve.") var durability: String = "fsync"

    func run() async throws {
        var options = StorageOptions()
        options.sealLines = sealLines
        guard let mode = DurabilityText.parse(durability) else { throw ValidationError("--durability '\(durability)'") }
        options.durability = mode
        let store = try Storage.open(directory: data.dataDirectory, options: options, logger: data.logger())
        // Resume numbering after what is already stored, so rounds never reuse a sequence.
        let base = UInt64(store.lastLSN) * 10
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<tasks {
                group.addTask {
                    var seq = base + 1
                    var rng = SystemRandomNumberGenerator()
                    while true {
                        let count = Int.random(in: 1...120, using: &rng)
                        let lines = (0..<count).map { CrashLine.make(task: task, seq: seq + UInt64($0)) }
                        _ = try await store.append(lines)
                        // One write(2) per line: atomic on a pipe, nothing left in a buffer at SIGKILL.
                        FileHandle.standardOutput.write(Data("ACK \(task) \(seq) \(seq + UInt64(count) - 1)\n".utf8))
                        seq += UInt64(count)
                        if pauseMs > 0 { try await Task.sleep(for: .milliseconds(pauseMs)) }
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}
