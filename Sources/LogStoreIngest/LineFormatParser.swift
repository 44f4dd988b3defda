/// Parses the documents of an `http`-output body in one of the ``LineFormat``s.
///
/// `json_lines` recovers after a bad line (one error per bad line). In `json` and `json_stream`
/// bodies a malformed document ends the parse (its error is the last result), since the next
/// document's start cannot be found reliably; an array element that is valid JSON but not an
/// object gives one ``IngestError/notAnObject`` and parsing continues.
public struct LineFormatParser: Sendable {
    /// The parser used for each document.
    public let documentParser: DocumentParser

    /// Creates a parser around a document parser.
    public init(documentParser: DocumentParser = DocumentParser()) {
        self.documentParser = documentParser
    }

    /// Parses `body` in `format`; every document goes to `index`.
    public func parse(
        _ body: [UInt8], format: LineFormat, index: String, arrivalTime: Int64
    ) -> [Result<ParsedDocument, IngestError>] {
        body.withUnsafeBufferPointer { buf in
            switch format {
            case .json: return parseArray(buf, index: index, arrivalTime: arrivalTime)
            case .jsonLines: return parseLines(buf, index: index, arrivalTime: arrivalTime)
            case .jsonStream: return parseStream(buf, from: 0, index: index, arrivalTime: arrivalTime)
            case .msgpack: return parseMessagePack(buf, index: index, arrivalTime: arrivalTime)
            }
        }
    }

    /// FluentBit msgpack events: each record is converted to JSON and parsed; the event time is
    /// used when the record has no mapped timestamp. A malformed event ends the list with its error.
    public func parseMessagePack(
        _ body: UnsafeBufferPointer<UInt8>, index: String, arrivalTime: Int64
    ) -> [Result<ParsedDocument, IngestError>] {
        MessagePackReader.records(body, maxDepth: documentParser.maxDepth).map { record in
            switch record {
            case .failure(let error):
                return .failure(error)
            case .success(let event):
                do throws(IngestError) {
                    return .success(
                        try documentParser.parse(event.json, index: index, arrivalTime: event.time ?? arrivalTime))
                } catch {
                    return .failure(error)
                }
            }
        }
    }

    /// One document per line; blank lines skipped, CRLF tolerated. Offsets count from each line.
    public func parseLines(
        _ body: UnsafeBufferPointer<UInt8>, index: String, arrivalTime: Int64
    ) -> [Result<ParsedDocument, IngestError>] {
        var results: [Result<ParsedDocument, IngestError>] = []
        guard let base = body.baseAddress else { return results }
        var lines = LineReader(base: base, count: body.count)
        while let line = lines.next() {
            do throws(IngestError) {
                let document = try documentParser.parse(
                    UnsafeBufferPointer(rebasing: body[line.range]), index: index, arrivalTime: arrivalTime)
                results.append(.success(document))
            } catch {
                results.append(.failure(error))
            }
        }
        return results
    }

    /// Objects back to back, separated by optional whitespace. Offsets count from the body start.
    public func parseStream(
        _ body: UnsafeBufferPointer<UInt8>, from offset: Int, index: String, arrivalTime: Int64
    ) -> [Result<ParsedDocument, IngestError>] {
        var results: [Result<ParsedDocument, IngestError>] = []
        var position = JSONScanner.skipWhitespace(body, from: offset)
        while position < body.count {
            do throws(IngestError) {
                let document = try documentParser.parseObject(
                    body, at: &position, index: index, arrivalTime: arrivalTime)
                results.append(.success(document))
            } catch {
                results.append(.failure(error))
                return results
            }
            position = JSONScanner.skipWhitespace(body, from: position)
        }
        return results
    }

    /// One top-level array of objects. Offsets count from the body start.
    public func parseArray(
        _ body: UnsafeBufferPointer<UInt8>, index: String, arrivalTime: Int64
    ) -> [Result<ParsedDocument, IngestError>] {
        var results: [Result<ParsedDocument, IngestError>] = []
        var position = JSONScanner.skipWhitespace(body, from: 0)
        guard position < body.count else { return results }
        if body[position] == 0x7B {
            return parseStream(body, from: position, index: index, arrivalTime: arrivalTime)
        }
        guard body[position] == 0x5B else {
            return [.failure(.malformedJSON(offset: position, reason: "expected '[' (json format)"))]
        }
        position = JSONScanner.skipWhitespace(body, from: position + 1)
        if position < body.count, body[position] == 0x5D {
            position += 1
        } else {
            while true {
                let elementStart = position
                do throws(IngestError) {
                    let document = try documentParser.parseObject(
                        body, at: &position, index: index, arrivalTime: arrivalTime)
                    results.append(.success(document))
                } catch {
                    guard error == .notAnObject else {
                        results.append(.failure(error))
                        return results
                    }
                    // Skip the non-object value and go on with the next element.
                    do throws(IngestError) {
                        let value = try JSONScanner.scanValue(
                            body, from: elementStart, maxDepth: documentParser.maxDepth)
                        position = value.range.upperBound
                        results.append(.failure(.notAnObject))
                    } catch {
                        results.append(.failure(error))
                        return results
                    }
                }
                position = JSONScanner.skipWhitespace(body, from: position)
                guard position < body.count else {
                    results.append(
                        .failure(.malformedJSON(offset: position, reason: "unexpected end of input in array")))
                    return results
                }
                if body[position] == 0x2C {
                    position = JSONScanner.skipWhitespace(body, from: position + 1)
                    continue
                }
                if body[position] == 0x5D {
                    position += 1
                    break
                }
                results.append(.failure(.malformedJSON(offset: position, reason: "expected ',' or ']' in array")))
                return results
            }
        }
        let rest = JSONScanner.skipWhitespace(body, from: position)
        if rest < body.count {
            results.append(.failure(.malformedJSON(offset: rest, reason: "unexpected data after the array")))
        }
        return results
    }
}
