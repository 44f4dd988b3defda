import ArgumentParser
import Foundation
import LogStore
import LogStoreIngest

/// ImportCommand is `logstore import`: loads log files into a data directory through the
/// server's ingest pipeline (``IngestPipeline``): the same parsers, one commit per chunk of
/// input, and the same chunk keys, so a file imported twice is stored once.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import log documents from files (OpenSearch bulk NDJSON as FluentBit sends it, or one JSON document per line; .gz accepted).",
        discussion: """
            Bad documents are reported on standard error with their file and line number; the \
            good ones are stored, and the exit status is non-zero when any line was refused. \
            Input is stored in chunks of about --chunk-bytes, each committed once and recognised \
            when imported again (like a resent request). \
            The data directory must not be in use by a running server.
            """
    )

    @OptionGroup var data: DataOptions

    @Option(help: "Index for documents whose bulk action names none, and for plain NDJSON.")
    var index: String = "logs"

    @Option(help: "Field mapping, e.g. 'job=labels.job;workflow=labels.run' (default: REANA's labels).")
    var mapping: String?

    @Option(help: "Bytes of input per commit (cut at line boundaries, like one request body).")
    var chunkBytes: Int = 4 << 20

    @Argument(help: "Files to import ('-' reads standard input).")
    var files: [String]

    mutating func run() async throws {
        let fieldMapping: FieldMapping
        do {
            fieldMapping = try mapping.map { m throws(IngestError) in try FieldMapping(config: m) } ?? .reana
        } catch {
            printError("error: --mapping: \(error)")
            throw ExitCode.badInput
        }
        let store = try Storage.open(directory: data.dataDirectory, logger: data.logger())
        defer { store.close() }
        let importer = Importer(
            pipeline: IngestPipeline(storage: store, documentParser: DocumentParser(mapping: fieldMapping)),
            defaultIndex: index, chunkBytes: max(1, chunkBytes))
        let start = ContinuousClock.now
        for file in files {
            try await importer.importFile(file)
        }
        // Every line into compressed, indexed blocks now, as a server does once a head is 30 s
        // old: an imported directory is then as small and as fast to search as a served one.
        try await store.sealAll()
        // Sealing leaves the heads' pages free (most of a sparse day's file): given back to
        // the file system, so an imported directory takes no more room than its data.
        let released = try await store.releaseFreePages().filter { !$0.kept }
        let seconds = Double((ContinuousClock.now - start).components.attoseconds) / 1e18 + Double((ContinuousClock.now - start).components.seconds)
        let stats = await importer.totals
        if stderrIsTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        let rate = seconds > 0 ? Int(Double(stats.stored) / seconds) : stats.stored
        printError(
            "imported \(stats.stored) lines from \(files.count) file(s) in \(String(format: "%.2f", seconds)) s (\(rate) lines/s)"
                + (stats.refused > 0 ? "; \(stats.refused) refused" : "")
                + (stats.alreadyStored > 0 ? "; \(stats.alreadyStored) already stored" : "")
                + (released.isEmpty
                    ? ""
                    : "; \(StatsFormatter.bytes(released.reduce(0) { $0 + $1.bytesBefore - $1.bytesAfter })) of free pages given back from \(released.count) day(s)"))
        if stats.refused > 0 { throw ExitCode(1) }
    }
}
