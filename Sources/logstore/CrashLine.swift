import ArgumentParser
import Foundation
import LogStore

/// The deterministic lines of the crash test.
public enum CrashLine {
    public static func make(task: Int, seq: UInt64) -> IncomingLine {
        let stream = StreamKey(index: "crash", workflow: "wf-\(task)", job: "job-\(seq % 5)")
        // Time advances 10 ms per line with up to 30 s of jitter, so lines arrive out of
        // order (as FluentBit's retried chunks do) and the log crosses a day boundary.
        let ts = 1_727_222_000_000_000_000 + Int64(seq) * 10_000_000 + Int64((seq &* 2_654_435_761) % 30_000) * 1_000_000 + Int64(task)
        return IncomingLine(stream: stream, timestamp: ts, message: "t\(task) s\(seq) " + String(repeating: "x", count: Int(seq % 50)))
    }
}
