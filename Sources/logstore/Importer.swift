import ArgumentParser
import Foundation
import LogStore
import LogStoreIngest

/// Importer reads files, cuts them into chunks and stores each through the ingest pipeline.
actor Importer {
    /// Lines counted over every file.
    struct Totals {
        var stored = 0
        var refused = 0
        /// Lines of chunks stored before (the same input imported again).
        var alreadyStored = 0
    }

    let pipeline: IngestPipeline
    let defaultIndex: String
    let chunkBytes: Int
    var totals = Totals()
    private var lastProgress = ContinuousClock.now
    private let started = ContinuousClock.now

    init(pipeline: IngestPipeline, defaultIndex: String, chunkBytes: Int) {
        self.pipeline = pipeline
        self.defaultIndex = defaultIndex
        self.chunkBytes = chunkBytes
    }

    /// Imports one file (`-` is standard input; gzip is recognised by its magic bytes).
    func importFile(_ file: String) async throws {
        let bytes = try read(file)
        let isBulk = bytes.withUnsafeBufferPointer { BulkChunker.looksLikeBulk($0) }
        var chunker = BulkChunker(count: bytes.count)
        let arrival = Int64(Date().timeIntervalSince1970 * 1e9)
        while let chunk = bytes.withUnsafeBufferPointer({ chunker.next($0, bulk: isBulk, targetBytes: chunkBytes) }) {
            // Refused documents as (line in the file, error), in file order.
            var refused: [(line: Int, error: IngestError)] = []
            let (batch, key) = bytes.withUnsafeBufferPointer { buf -> (LineBatch, ChunkKey) in
                let slice = UnsafeBufferPointer(rebasing: buf[chunk.range])
                if isBulk {
                    let (parsed, key) = pipeline.parseBulk(slice, defaultIndex: defaultIndex, arrivalTime: arrival)
                    for item in parsed.items { if let error = item.error { refused.append((chunk.firstLine + item.line - 1, error)) } }
                    return (parsed.batch, key)
                }
                let (parsed, key) = pipeline.parseLines(slice, format: .jsonLines, index: defaultIndex, arrivalTime: arrival)
                for failure in parsed.failures { refused.append((chunk.firstLine + (failure.line ?? 1) - 1, failure.error)) }
                return (parsed.batch, key)
            }
            for (line, error) in refused { printError("\(file):\(line): \(error)") }
            totals.refused += refused.count
            if let receipt = try await pipeline.store(batch, chunk: key) {
                if receipt.duplicateChunk {
                    totals.alreadyStored += receipt.count
                } else {
                    totals.stored += receipt.count - receipt.duplicateIDs - receipt.linesStoredBefore
                    totals.alreadyStored += receipt.duplicateIDs + receipt.linesStoredBefore
                }
            }
            progress()
        }
    }

    /// The bytes of `file`, gunzipped when they are gzip.
    private func read(_ file: String) throws -> [UInt8] {
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
        return bytes
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
