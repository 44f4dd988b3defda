import LogStore

/// LineFormatResult is a parsed `http`-output body: the documents that parsed, as the engine
/// stores them, and why the others did not.
public struct LineFormatResult: Sendable {
    /// The documents that parsed.
    public var batch = LineBatch(bytes: [], lines: [], streams: [])
    /// The documents that did not parse, in body order.
    public var failures: [Failure] = []

    /// One document that did not parse.
    public struct Failure: Sendable, Equatable {
        /// 1-based position of the document among all documents of the body (parsed or not).
        public var document: Int
        /// 1-based line of the body (`json_lines` only; nil for the other formats).
        public var line: Int?
        /// Why it was refused.
        public var error: IngestError
    }

    public init() {}

    /// Documents in the body, parsed or not.
    public var documents: Int { batch.count + failures.count }

    /// One result per document in body order, each parsed one a stand-alone line (for tests and
    /// tools; the ingest path stores ``batch``).
    public var results: [Result<IncomingLine, IngestError>] {
        var out: [Result<IncomingLine, IngestError>] = []
        out.reserveCapacity(documents)
        var next = 0
        for failure in failures {
            while out.count + 1 < failure.document {
                out.append(.success(batch.line(at: next)))
                next += 1
            }
            out.append(.failure(failure.error))
        }
        while next < batch.count {
            out.append(.success(batch.line(at: next)))
            next += 1
        }
        return out
    }
}
