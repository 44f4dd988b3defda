import ArgumentParser

/// The `logstore` command: a log indexing server and its admin tools.
@main
struct Logstore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logstore",
        abstract: "A log indexing server for scientific workflow platforms (a drop-in for OpenSearch as FluentBit's and REANA's log store).",
        version: "0.1.0",
        subcommands: [
            ServeCommand.self, ImportCommand.self, LogsCommand.self, SearchCommand.self, HitsCommand.self, StatsCommand.self, CompactCommand.self, BackupCommand.self, DeleteCommand.self, TailCommand.self, UserCommand.self,
            DebugAppendLoop.self,
        ]
    )
}
