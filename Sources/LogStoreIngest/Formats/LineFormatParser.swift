import LogStore

/// LineFormatParser parses the documents of an `http`-output body in one of the ``LineFormat``s
/// into one `LineBatch` (the same document parser as the bulk path).
///
/// `json_lines` recovers after a bad line (one failure per bad line). In `json` and `json_stream`
/// bodies a malformed document ends the parse (its error is the last failure), since the next
/// document's start cannot be found reliably; an array element that is valid JSON but not an
/// object gives one ``IngestError/notAnObject`` and parsing continues.
public struct LineFormatParser: Sendable {
    /// The parser used for each document.
    public let documentParser: DocumentParser

    /// Creates a parser around a document parser.
    public init(documentParser: DocumentParser = DocumentParser()) {
        self.documentParser = documentParser
    }

    /// Parses `body` in `format` into one result per document, each parsed one a stand-alone
    /// line (for tests and tools; the ingest path uses ``parseBatch(_:format:index:arrivalTime:)``).
    public func parse(
        _ body: [UInt8], format: LineFormat, index: String, arrivalTime: Int64
    ) -> [Result<IncomingLine, IngestError>] {
        body.withUnsafeBufferPointer { parseBatch($0, format: format, index: index, arrivalTime: arrivalTime).results }
    }

    /// Parses `body` in `format` into one batch; every document goes to `index`, documents
    /// without a timestamp get `arrivalTime` (ns).
    public func parseBatch(
        _ body: UnsafeBufferPointer<UInt8>, format: LineFormat, index: String, arrivalTime: Int64
    ) -> LineFormatResult {
        var batch = LineBatchBuilder(lines: body.count / 300 + 1, bytes: body.count / 2 + 64)
        var failures: [LineFormatResult.Failure] = []
        switch format {
        case .json: parseArray(body, index: index, arrivalTime: arrivalTime, into: &batch, &failures)
        case .jsonLines: parseLines(body, index: index, arrivalTime: arrivalTime, into: &batch, &failures)
        case .jsonStream: parseStream(body, from: 0, index: index, arrivalTime: arrivalTime, into: &batch, &failures)
        case .msgpack: parseMessagePack(body, index: index, arrivalTime: arrivalTime, into: &batch, &failures)
        }
        var result = LineFormatResult()
        result.batch = batch.finish()
        result.failures = failures
        return result
    }

    /// FluentBit msgpack events: each record is converted to JSON and parsed; the event time is
    /// used when the record has no mapped timestamp. A malformed event ends the list with its error.
    func parseMessagePack(
        _ body: UnsafeBufferPointer<UInt8>, index: String, arrivalTime: Int64, into batch: inout LineBatchBuilder,
        _ failures: inout [LineFormatResult.Failure]
    ) {
        for record in MessagePackReader.records(body, maxDepth: documentParser.maxDepth) {
            do throws(IngestError) {
                let event = try record.get()
                try event.json.withUnsafeBufferPointer { (json) throws(IngestError) in
                    var position = 0
                    try documentParser.parseObject(
                        json, at: &position, index: index, arrivalTime: event.time ?? arrivalTime, into: &batch,
                        wholeInput: true)
                }
            } catch {
                failures.append(.init(document: batch.count + failures.count + 1, line: nil, error: error))
            }
        }
    }

    /// One document per line; blank lines skipped, CRLF tolerated. Offsets count from each line.
    func parseLines(
        _ body: UnsafeBufferPointer<UInt8>, index: String, arrivalTime: Int64, into batch: inout LineBatchBuilder,
        _ failures: inout [LineFormatResult.Failure]
    ) {
        guard let base = body.baseAddress else { return }
        var lines = LineReader(base: base, count: body.count)
        while let line = lines.next() {
            do throws(IngestError) {
                var position = 0
                try documentParser.parseObject(
                    UnsafeBufferPointer(rebasing: body[line.range]), at: &position, index: index,
                    arrivalTime: arrivalTime, into: &batch, wholeInput: true)
            } catch {
                failures.append(.init(document: batch.count + failures.count + 1, line: line.number, error: error))
            }
        }
    }

    /// Objects back to back, separated by optional whitespace. Offsets count from the body start.
    func parseStream(
        _ body: UnsafeBufferPointer<UInt8>, from offset: Int, index: String, arrivalTime: Int64,
        into batch: inout LineBatchBuilder, _ failures: inout [LineFormatResult.Failure]
    ) {
        var position = JSONScanner.skipWhitespace(body, from: offset)
        while position < body.count {
            do throws(IngestError) {
                try documentParser.parseObject(
                    body, at: &position, index: index, arrivalTime: arrivalTime, into: &batch)
            } catch {
                failures.append(.init(document: batch.count + failures.count + 1, line: nil, error: error))
                return
            }
            position = JSONScanner.skipWhitespace(body, from: position)
        }
    }

    /// One top-level array of objects. Offsets count from the body start.
    func parseArray(
        _ body: UnsafeBufferPointer<UInt8>, index: String, arrivalTime: Int64, into batch: inout LineBatchBuilder,
        _ failures: inout [LineFormatResult.Failure]
    ) {
        func fail(_ error: IngestError) {
            failures.append(.init(document: batch.count + failures.count + 1, line: nil, error: error))
        }
        var position = JSONScanner.skipWhitespace(body, from: 0)
        guard position < body.count else { return }
        if body[position] == 0x7B {
            return parseStream(body, from: position, index: index, arrivalTime: arrivalTime, into: &batch, &failures)
        }
        guard body[position] == 0x5B else {
            return fail(.malformedJSON(offset: position, reason: "expected '[' (json format)"))
        }
        position = JSONScanner.skipWhitespace(body, from: position + 1)
        if position < body.count, body[position] == 0x5D {
            position += 1
        } else {
            while true {
                let elementStart = position
                do throws(IngestError) {
                    try documentParser.parseObject(
                        body, at: &position, index: index, arrivalTime: arrivalTime, into: &batch)
                } catch {
                    guard error == .notAnObject else { return fail(error) }
                    // Skip the non-object value and go on with the next element.
                    do throws(IngestError) {
                        let value = try JSONScanner.scanValue(
                            body, from: elementStart, maxDepth: documentParser.maxDepth)
                        position = value.range.upperBound
                        fail(.notAnObject)
                    } catch {
                        return fail(error)
                    }
                }
                position = JSONScanner.skipWhitespace(body, from: position)
                guard position < body.count else {
                    return fail(.malformedJSON(offset: position, reason: "unexpected end of input in array"))
                }
                if body[position] == 0x2C {
                    position = JSONScanner.skipWhitespace(body, from: position + 1)
                    continue
                }
                if body[position] == 0x5D {
                    position += 1
                    break
                }
                return fail(.malformedJSON(offset: position, reason: "expected ',' or ']' in array"))
            }
        }
        let rest = JSONScanner.skipWhitespace(body, from: position)
        if rest < body.count {
            fail(.malformedJSON(offset: rest, reason: "unexpected data after the array"))
        }
    }
}
