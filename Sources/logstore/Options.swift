import ArgumentParser
import Foundation
import LogStore
import LogStoreHTTP
import Logging

/// Options every command shares.
struct DataOptions: ParsableArguments {
    @Option(
        name: .customLong("data-dir"),
        help: ArgumentHelp("Data directory (env LOGSTORE_DATA_DIR).", valueName: "path"))
    var dataDirectory: String = ProcessInfo.processInfo.environment["LOGSTORE_DATA_DIR"] ?? "./data"

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (env LOGSTORE_LOG_LEVEL).")
    var logLevel: String = ProcessInfo.processInfo.environment["LOGSTORE_LOG_LEVEL"] ?? "info"

    func logger(_ label: String = "logstore") -> Logger {
        _ = loggingBootstrapped
        var logger = Logger(label: label)
        logger.logLevel = Logger.Level(rawValue: logLevel.lowercased()) ?? .info
        return logger
    }
}

/// Writes to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// True when standard error is a terminal (progress lines are shown only then).
var stderrIsTerminal: Bool { isatty(2) == 1 }

extension ExitCode {
    static let badInput = ExitCode(2)
}

/// Log records go to standard error, so `logs` and `stats` output stays clean on stdout.
let loggingBootstrapped: Void = LoggingSystem.bootstrap(DeferredLogHandler.init(label:))
