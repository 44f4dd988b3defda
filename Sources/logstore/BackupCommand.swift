import ArgumentParser
import Foundation
import LogStore

/// `logstore backup`: a consistent copy of a data directory, also while a server writes to it.
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy a data directory into a new one, also while a server is writing to it.",
        discussion: """
            Each day segment and then the catalog is copied as one LMDB read transaction sees \
            it (free pages left out), so the server is never blocked. The backup holds every \
            line acknowledged before it started; lines acknowledged while it runs may or may \
            not be in it. Files are written under DEST.partial and renamed to DEST once all are \
            complete and synced. The backup is a data directory: restore by stopping the \
            server and moving it into place, or serve it with --data-dir DEST.
            """
    )

    @OptionGroup var data: DataOptions

    @Option(name: .customLong("to"), help: ArgumentHelp("The new directory to write (must not exist).", valueName: "dest"))
    var destination: String

    func run() throws {
        let started = ContinuousClock.now
        let terminal = stderrIsTerminal
        let report: Backup.Report
        do {
            report = try Backup.run(directory: data.dataDirectory, to: destination) { p in
                let what = "backup \(p.name) (\(p.index)/\(p.count))"
                if p.done {
                    let line = "\(what): \(StatsFormatter.bytes(p.sourceBytes)) → \(StatsFormatter.bytes(p.copiedBytes))"
                    if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
                    printError(line)
                } else if terminal {
                    let share = p.sourceBytes > 0 ? min(100, Int(p.copiedBytes * 100 / p.sourceBytes)) : 0
                    FileHandle.standardError.write(Data("\r\u{1B}[K\(what): \(StatsFormatter.bytes(p.copiedBytes)) (~\(share) % of the file)".utf8))
                }
            }
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        for name in report.vanished { printError("\(name) was removed (retention) before it could be copied") }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(
            "backup: \(report.files.count) file(s), \(StatsFormatter.bytes(report.sourceBytes)) → \(StatsFormatter.bytes(report.backupBytes)) in \(String(format: "%.1f", seconds)) s, to \(destination)"
        )
    }
}
