/// Turns one JSON log document into a ``ParsedDocument`` using a ``FieldMapping``.
///
/// One validating pass over the bytes: no object tree is built; only the mapped values are
/// decoded and the other top-level members are copied as raw bytes into `fields`.
/// Rules: the first present message path wins (a non-string message is kept as its JSON text,
/// `null` counts as absent); the first timestamp path whose value parses wins (a present but
/// unparsable one is left in `fields`; if none parses the document is rejected with
/// ``IngestError/badTimestamp(_:)``); no timestamp at all means `arrivalTime`.
public struct DocumentParser: Sendable {
    /// The mapping in use.
    public let mapping: FieldMapping
    /// Longest accepted decoded message, in bytes.
    public let maxMessageBytes: Int
    /// Deepest accepted nesting of objects and arrays.
    public let maxDepth: Int

    let paths: JSONPathSet
    let messagePaths: [Int]
    let timestampPaths: [Int]
    let jobPaths: [Int]
    let workflowPaths: [Int]
    let namespacePath: Int
    let podPath: Int
    let containerPath: Int

    /// Creates a parser; `maxMessageBytes` defaults to 1 MiB.
    public init(
        mapping: FieldMapping = .reana, maxMessageBytes: Int = 1 << 20,
        maxDepth: Int = JSONScanner.defaultMaxDepth
    ) {
        self.mapping = mapping
        self.maxMessageBytes = maxMessageBytes
        self.maxDepth = maxDepth
        var all = mapping.message + mapping.timestamp + mapping.job + mapping.workflow
        if let k = mapping.kubernetes { all += [k.namespace, k.pod, k.container] }
        let set = JSONPathSet(all)
        paths = set
        func indices(_ list: [String]) -> [Int] { list.compactMap { set.index(of: $0) } }
        messagePaths = indices(mapping.message)
        timestampPaths = indices(mapping.timestamp)
        jobPaths = indices(mapping.job)
        workflowPaths = indices(mapping.workflow)
        namespacePath = mapping.kubernetes.flatMap { set.index(of: $0.namespace) } ?? -1
        podPath = mapping.kubernetes.flatMap { set.index(of: $0.pod) } ?? -1
        containerPath = mapping.kubernetes.flatMap { set.index(of: $0.container) } ?? -1
    }

    /// Parses `bytes`, which must hold exactly one JSON object (surrounding whitespace allowed).
    public func parse(_ bytes: [UInt8], index: String, arrivalTime: Int64) throws(IngestError) -> ParsedDocument {
        try bytes.withUnsafeBufferPointer { (buf) throws(IngestError) -> ParsedDocument in
            try parse(buf, index: index, arrivalTime: arrivalTime)
        }
    }

    /// Parses `bytes`, which must hold exactly one JSON object (surrounding whitespace allowed).
    public func parse(
        _ bytes: UnsafeBufferPointer<UInt8>, index: String, arrivalTime: Int64
    ) throws(IngestError) -> ParsedDocument {
        var position = 0
        let document = try parseObject(bytes, at: &position, index: index, arrivalTime: arrivalTime)
        let rest = JSONScanner.skipWhitespace(bytes, from: position)
        guard rest == bytes.count else {
            throw .malformedJSON(offset: rest, reason: "unexpected data after the document")
        }
        return document
    }

    /// Parses the object starting at `position` (leading whitespace allowed) and moves `position`
    /// just past it. Used to walk arrays and streams of objects.
    public func parseObject(
        _ bytes: UnsafeBufferPointer<UInt8>, at position: inout Int, index: String, arrivalTime: Int64
    ) throws(IngestError) -> ParsedDocument {
        let count = paths.paths.count
        let start = position
        let outcome: Result<ParsedDocument, IngestError> = withUnsafeTemporaryAllocation(
            of: Hit.self, capacity: max(count, 1)
        ) { hitBuffer in
            guard let hits = hitBuffer.baseAddress else {
                return .failure(.malformedJSON(offset: start, reason: "no memory"))
            }
            hits.initialize(repeating: Hit(), count: count)
            var visitor = FieldsVisitor(bytes: bytes, hits: hits, capacity: min(bytes.count - start, 1 << 16))
            do throws(IngestError) {
                let end = try JSONScanner.scanObject(
                    bytes, from: start, paths: paths, maxDepth: maxDepth, visitor: &visitor)
                var fields: [UInt8] = []
                swap(&fields, &visitor.fields)  // keep the buffer uniquely referenced (no copy on write)
                let document = try resolve(
                    bytes, hits: hits, fields: &fields, index: index, arrivalTime: arrivalTime)
                position = end
                return .success(document)
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
    }

    /// Builds the document from the matches found by the scan.
    func resolve(
        _ bytes: UnsafeBufferPointer<UInt8>, hits: UnsafeMutablePointer<Hit>, fields: inout [UInt8],
        index: String, arrivalTime: Int64
    ) throws(IngestError) -> ParsedDocument {
        // Message.
        var message: [UInt8] = []
        var messageHit = -1
        for k in messagePaths where hits[k].found && hits[k].kind != .null {
            messageHit = k
            let h = hits[k]
            if h.kind == .string {
                if h.end - h.start - 2 > maxMessageBytes && !h.escapes { throw .lineTooLong(limit: maxMessageBytes) }
                message.reserveCapacity(h.end - h.start)
                JSONScanner.appendDecodedString(bytes, h.start..<h.end, to: &message)
            } else {
                message.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[h.start..<h.end]))
            }
            if message.count > maxMessageBytes { throw .lineTooLong(limit: maxMessageBytes) }
            break
        }

        // Timestamp.
        var timestamp = arrivalTime
        var timestampHit = -1
        var badTimestamp: String?
        for k in timestampPaths where hits[k].found {
            let h = hits[k]
            var parsed: Int64?
            switch h.kind {
            case .string:
                if h.escapes {
                    let decoded = JSONScanner.decodeString(bytes, h.start..<h.end)
                    parsed = Timestamp.parse(decoded)
                } else {
                    parsed = Timestamp.parse(UnsafeBufferPointer(rebasing: bytes[(h.start + 1)..<(h.end - 1)]))
                }
            case .number:
                parsed = Timestamp.parseNumber(UnsafeBufferPointer(rebasing: bytes[h.start..<h.end]))
            default:
                parsed = nil
            }
            if let parsed {
                timestamp = parsed
                timestampHit = k
                break
            }
            if badTimestamp == nil {
                badTimestamp = String(decoding: UnsafeBufferPointer(rebasing: bytes[h.start..<h.end]), as: UTF8.self)
            }
        }
        if timestampHit < 0, let badTimestamp { throw .badTimestamp(badTimestamp) }

        // Job and workflow.
        var job = firstText(bytes, hits, jobPaths)
        var workflow = firstText(bytes, hits, workflowPaths)
        if job == nil && workflow == nil && podPath >= 0 {
            workflow = text(bytes, hits, namespacePath)
            if let pod = text(bytes, hits, podPath) {
                if let container = text(bytes, hits, containerPath) {
                    job = pod + "/" + container
                } else {
                    job = pod
                }
            }
        }

        // Drop the message and timestamp members from `fields` (later range first).
        var ranges: [Range<Int>] = []
        for k in [messageHit, timestampHit] where k >= 0 && hits[k].fieldStart >= 0 {
            ranges.append(hits[k].fieldStart..<hits[k].fieldEnd)
        }
        if ranges.count == 2 && ranges[0].lowerBound < ranges[1].lowerBound { ranges.swapAt(0, 1) }
        for r in ranges { fields.removeSubrange(r) }
        if fields.isEmpty {
            fields = [0x7B, 0x7D]
        } else {
            fields[0] = 0x7B  // the leading comma of the first member becomes `{`
            fields.append(0x7D)
        }

        return ParsedDocument(
            index: index, workflow: workflow ?? "", job: job ?? "", timestamp: timestamp, message: message,
            fields: fields, id: nil)
    }

    @inline(__always)
    func firstText(_ bytes: UnsafeBufferPointer<UInt8>, _ hits: UnsafeMutablePointer<Hit>, _ list: [Int]) -> String? {
        for k in list {
            if let t = text(bytes, hits, k) { return t }
        }
        return nil
    }

    /// The value at path `k` as text: decoded strings, numbers and booleans as written; nil otherwise or when empty.
    @inline(__always)
    func text(_ bytes: UnsafeBufferPointer<UInt8>, _ hits: UnsafeMutablePointer<Hit>, _ k: Int) -> String? {
        guard k >= 0 else { return nil }
        let h = hits[k]
        guard h.found else { return nil }
        switch h.kind {
        case .string:
            guard h.end - h.start > 2 else { return nil }
            if h.escapes {
                return String(decoding: JSONScanner.decodeString(bytes, h.start..<h.end), as: UTF8.self)
            }
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[(h.start + 1)..<(h.end - 1)]), as: UTF8.self)
        case .number, .bool:
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[h.start..<h.end]), as: UTF8.self)
        default:
            return nil
        }
    }
}

extension DocumentParser {
    /// The first value found at one wanted path while scanning a document.
    struct Hit {
        var found = false
        var start = 0
        var end = 0
        var kind = JSONValueKind.null
        var escapes = false
        /// Where the member sits in the `fields` buffer (top-level matches only; -1 otherwise).
        var fieldStart = -1
        var fieldEnd = -1
    }

    /// Records matches and copies every top-level member into the `fields` buffer, each written as
    /// `,"key":value` (the first comma becomes `{` at the end).
    struct FieldsVisitor: JSONObjectVisitor {
        let base: UnsafePointer<UInt8>?
        let hits: UnsafeMutablePointer<Hit>
        var fields: [UInt8] = []
        var pendingHit = -1

        init(bytes: UnsafeBufferPointer<UInt8>, hits: UnsafeMutablePointer<Hit>, capacity: Int) {
            base = bytes.baseAddress
            self.hits = hits
            fields.reserveCapacity(max(capacity, 2))
        }

        mutating func visitMatch(_ match: JSONMatch) {
            let k = match.pathIndex
            guard !hits[k].found else { return }
            hits[k] = Hit(
                found: true, start: match.valueRange.lowerBound, end: match.valueRange.upperBound, kind: match.kind,
                escapes: match.hasEscapes)
            if match.memberIndex != nil { pendingHit = k }
        }

        mutating func visitMember(_ member: JSONMember) {
            guard let base else { return }
            let start = fields.count
            fields.append(0x2C)
            fields.append(
                contentsOf: UnsafeBufferPointer(start: base + member.keyRange.lowerBound, count: member.keyRange.count))
            fields.append(0x3A)
            fields.append(
                contentsOf: UnsafeBufferPointer(
                    start: base + member.valueRange.lowerBound, count: member.valueRange.count))
            if pendingHit >= 0 {
                hits[pendingHit].fieldStart = start
                hits[pendingHit].fieldEnd = fields.count
                pendingHit = -1
            }
        }
    }
}
