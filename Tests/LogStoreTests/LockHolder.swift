import Foundation
import TestSupport

/// Another process holding LMDB's shared `fcntl` lock on an environment's lock file, as a
/// process with the environment open does (a backup, `logstore stats`): python3 takes the lock
/// on the first byte and keeps it until `release()`.
final class LockHolder {
    private let process = Process()
    private let input = Pipe()
    private var running = false

    /// Nil when python3 is missing.
    static func holding(_ lockFile: String) throws -> LockHolder? {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else { return nil }
        let holder = LockHolder()
        holder.process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        holder.process.arguments = [
            "-c", "import fcntl, sys; f = open(sys.argv[1], 'rb'); fcntl.lockf(f, fcntl.LOCK_SH, 1, 0); print('held', flush=True); sys.stdin.read()",
            lockFile,
        ]
        let output = Pipe()
        holder.process.standardInput = holder.input
        holder.process.standardOutput = output
        try holder.process.runGuarded()
        holder.running = true
        let said = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
        guard said.hasPrefix("held") else {
            holder.release()
            throw CocoaError(.fileLocking)
        }
        return holder
    }

    /// Ends the process (and its lock); waits for it.
    func release() {
        guard running else { return }
        running = false
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    deinit { release() }
}
