import ArgumentParser
import Foundation
import LogStore
import LogStoreHTTP
import LogStoreIngest

/// `logstore import`: loads log files into a data directory.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import log documents from files (OpenSearch bulk NDJSON as FluentBit sends it, or one JSON document per line; .gz accepted).",
        discussion: """
            Bad documents are reported on standard error with their file and line number; the \
            good ones are stored, and the exit status is non-zero when any line was refused. \
            The data directory must not be in use by a running server.
            """
    )

    @OptionGroup var data: DataOptions

    @Option(help: "Index for documents whose bulk action names none, and for plain NDJSON.")
    var index: String = "logs"

    @Option(help: "Field mapping, e.g. 'job=labels.job;workflow=labels.run' (default: REANA's labels).")
    var mapping: String?

    @Option(help: "Documents per append batch.")
    var batch: Int = 5000

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
        let importer = Importer(store: store, parser: DocumentParser(mapping: fieldMapping), defaultIndex: index, batchSize: max(1, batch))
        let start = ContinuousClock.now
        for file in files {
            try await importer.importFile(file)
        }
        let seconds = Double((ContinuousClock.now - start).components.attoseconds) / 1e18 + Double((ContinuousClock.now - start).components.seconds)
        let stats = await importer.totals
        if stderrIsTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        let rate = seconds > 0 ? Int(Double(stats.stored) / seconds) : stats.stored
        printError(
            "imported \(stats.stored) lines from \(files.count) file(s) in \(String(format: "%.2f", seconds)) s (\(rate) lines/s)"
                + (stats.refused > 0 ? "; \(stats.refused) refused" : ""))
        if stats.refused > 0 { throw ExitCode(1) }
    }
}

/// Reads files, parses them in chunks and appends the documents.
actor Importer {
    struct Totals {
        var stored = 0
        var refused = 0
    }

    let store: Storage
    let parser: DocumentParser
    let defaultIndex: String
    let batchSize: Int
    var totals = Totals()
    private var lastProgress = ContinuousClock.now
    private let started = ContinuousClock.now

    init(store: Storage, parser: DocumentParser, defaultIndex: String, batchSize: Int) {
        self.store = store
        self.parser = parser
        self.defaultIndex = defaultIndex
        self.batchSize = batchSize
    }

    func importFile(_ file: String) async throws {
        var bytes: [UInt8]
        do {
            if file == "-" {
                bytes = [UInt8](FileHandle.standardInput.readDataToEndOfFile())
            } else {
                bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file), options: .alwaysMapped))
            }
        } catch {
            printError("error: cannot read \(file): \(error.localizedDescription)")
            throw ExitCode(1)
        }
        if bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B {
            do {
                bytes = try ContentDecoder.decode(bytes, encoding: "gzip", maxOutput: Int.max)
            } catch {
                printError("error: \(file): \(error)")
                throw ExitCode(1)
            }
        }
        let isBulk = bytes.withUnsafeBufferPointer { BulkChunker.looksLikeBulk($0) }
        var chunker = BulkChunker(count: bytes.count)
        let arrival = Int64(Date().timeIntervalSince1970 * 1e9)
        let bulk = BulkParser(documentParser: parser)
        let lineParser = LineFormatParser(documentParser: parser)
        var pending: [IncomingLine] = []
        while true {
            let chunk = bytes.withUnsafeBufferPointer { chunker.next($0, bulk: isBulk, targetBytes: 4 << 20) }
            guard let chunk else { break }
            let results: [(line: Int, result: Result<ParsedDocument, IngestError>)] = bytes.withUnsafeBufferPointer { buf in
                let slice = UnsafeBufferPointer(rebasing: buf[chunk.range])
                if isBulk {
                    return bulk.parse(slice, defaultIndex: defaultIndex, arrivalTime: arrival).map { ($0.line, $0.result) }
                }
                return lineParser.parseLines(slice, index: defaultIndex, arrivalTime: arrival).enumerated().map { ($0.offset + 1, $0.element) }
            }
            let lineNumbers = isBulk ? [] : nonBlankLineNumbers(bytes, chunk.range, firstLine: chunk.firstLine)
            for (i, item) in results.enumerated() {
                switch item.result {
                case .success(let document):
                    pending.append(IncomingLine(document))
                case .failure(let error):
                    totals.refused += 1
                    let number = isBulk ? chunk.firstLine + item.line - 1 : (i < lineNumbers.count ? lineNumbers[i] : chunk.firstLine + i)
                    printError("\(file):\(number): \(error)")
                }
                if pending.count >= batchSize {
                    totals.stored += try await store.append(pending).count
                    pending.removeAll(keepingCapacity: true)
                    progress()
                }
            }
        }
        if !pending.isEmpty { totals.stored += try await store.append(pending).count }
    }

    /// 1-based numbers of the non-blank lines of `range` (plain NDJSON skips blank lines).
    private func nonBlankLineNumbers(_ bytes: [UInt8], _ range: Range<Int>, firstLine: Int) -> [Int] {
        var numbers: [Int] = []
        var number = firstLine
        var blank = true
        for i in range {
            let b = bytes[i]
            if b == 0x0A {
                if !blank { numbers.append(number) }
                number += 1
                blank = true
            } else if b != 0x20 && b != 0x09 && b != 0x0D {
                blank = false
            }
        }
        if !blank { numbers.append(number) }
        return numbers
    }

    private func progress() {
        guard stderrIsTerminal else { return }
        let now = ContinuousClock.now
        guard now - lastProgress >= .milliseconds(250) else { return }
        lastProgress = now
        let elapsed = now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        FileHandle.standardError.write(Data("\r\u{1B}[Kimported \(totals.stored) lines (\(Int(Double(totals.stored) / max(seconds, 0.001))) lines/s)".utf8))
    }
}

/// Cuts a body into chunks at line boundaries; for bulk bodies only after a document line, so
/// an action and its document stay together.
struct BulkChunker {
    let count: Int
    var offset = 0
    var line = 1

    init(count: Int) { self.count = count }

    /// Whether the first non-blank line is a bulk action (`{"create":{…}}` and the like).
    static func looksLikeBulk(_ buf: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        while i < buf.count, [0x20, 0x09, 0x0A, 0x0D].contains(buf[i]) { i += 1 }
        guard i < buf.count, buf[i] == 0x7B else { return false }
        i += 1
        while i < buf.count, buf[i] == 0x20 || buf[i] == 0x09 { i += 1 }
        for op in ["\"create\"", "\"index\"", "\"update\"", "\"delete\""] {
            let o = Array(op.utf8)
            if i + o.count <= buf.count, Array(buf[i..<(i + o.count)]) == o {
                var j = i + o.count
                while j < buf.count, buf[j] == 0x20 || buf[j] == 0x09 { j += 1 }
                guard j < buf.count, buf[j] == 0x3A else { return false }
                j += 1
                while j < buf.count, buf[j] == 0x20 || buf[j] == 0x09 { j += 1 }
                return j < buf.count && buf[j] == 0x7B
            }
        }
        return false
    }

    /// The next chunk of about `targetBytes`, with the number of its first line.
    mutating func next(_ buf: UnsafeBufferPointer<UInt8>, bulk: Bool, targetBytes: Int) -> (range: Range<Int>, firstLine: Int)? {
        guard offset < count else { return nil }
        let start = offset
        let firstLine = line
        var end = min(count, start + targetBytes)
        // Extend to the end of the line.
        while end < count && buf[end - 1] != 0x0A { end += 1 }
        if bulk {
            // Extend until the next line is an action line (or the end).
            while end < count {
                let rest = UnsafeBufferPointer(rebasing: buf[end...])
                if Self.looksLikeBulk(rest) { break }
                end += 1
                while end < count && buf[end - 1] != 0x0A { end += 1 }
            }
        }
        for i in start..<end where buf[i] == 0x0A { line += 1 }
        offset = end
        return (start..<end, firstLine)
    }
}
