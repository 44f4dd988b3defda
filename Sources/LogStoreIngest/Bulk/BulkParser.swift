import LogStore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// BulkParser parses OpenSearch/Elasticsearch `_bulk` NDJSON bodies (action line + document
/// line pairs) into one ``LineBatchBuilder`` batch and the outcome of every action.
///
/// `create` and `index` are parsed into documents; `update` is answered with a per-item
/// ``IngestError/unsupportedOperation(_:)`` (its body line is consumed); `delete` (no body line)
/// likewise. Blank lines are skipped, the last line may lack `\n`, CRLF is tolerated. A
/// malformed action line yields a per-item ``IngestError/badAction(_:)`` and its document line
/// is skipped. Error offsets count from the start of the offending line.
public struct BulkParser: Sendable {
    /// The parser used for each document line.
    public let documentParser: DocumentParser

    /// Creates a parser with a document parser for `mapping`.
    public init(mapping: FieldMapping = .reana, maxMessageBytes: Int = 1 << 20) {
        documentParser = DocumentParser(mapping: mapping, maxMessageBytes: maxMessageBytes)
    }

    /// Creates a parser around an existing document parser.
    public init(documentParser: DocumentParser) {
        self.documentParser = documentParser
    }

    /// Parses a whole bulk body. `defaultIndex` is the index from the URL (`/{index}/_bulk`),
    /// used when an action has no `_index`; `arrivalTime` (ns) stands in for missing timestamps.
    public func parse(_ body: [UInt8], defaultIndex: String?, arrivalTime: Int64) -> [BulkItem] {
        body.withUnsafeBufferPointer { parse($0, defaultIndex: defaultIndex, arrivalTime: arrivalTime) }
    }

    /// Parses a whole bulk body held in `body` into one item per action, each document a
    /// stand-alone line (for tests and tools; the ingest path uses ``parseBatch(_:defaultIndex:arrivalTime:)``).
    public func parse(_ body: UnsafeBufferPointer<UInt8>, defaultIndex: String?, arrivalTime: Int64) -> [BulkItem] {
        let result = parseBatch(body, defaultIndex: defaultIndex, arrivalTime: arrivalTime)
        return result.items.map { item in
            if let error = item.error { return BulkItem(op: item.op, line: item.line, result: .failure(error)) }
            return BulkItem(op: item.op, line: item.line, result: .success(result.batch.line(at: Int(item.document))))
        }
    }

    /// Parses a whole bulk body into one `LineBatch` and the outcome of every action, in
    /// request order (what the server and `logstore import` store and answer).
    public func parseBatch(_ body: UnsafeBufferPointer<UInt8>, defaultIndex: String?, arrivalTime: Int64) -> BulkResult {
        var result = BulkResult()
        guard let base = body.baseAddress else { return result }
        result.items.reserveCapacity(body.count / 300 + 1)
        var batch = LineBatchBuilder(lines: body.count / 300 + 1, bytes: body.count / 2 + 64)
        var lines = LineReader(base: base, count: body.count)
        var cache = IndexCache()
        var actions = ActionCache()
        var defaultIndexProblem: IngestError?
        if let defaultIndex {
            do throws(IngestError) { try NameLimits.checkIndexName(defaultIndex) } catch { defaultIndexProblem = error }
        }

        while let action = lines.next() {
            let actionLine = UnsafeBufferPointer(rebasing: body[action.range])
            let parsed: Result<Action, IngestError>
            if let known = actions.lookup(actionLine) {
                parsed = .success(known)
            } else {
                parsed = parseAction(actionLine, cache: &cache)
                if case .success(let a) = parsed { actions.insert(actionLine, a) }
            }
            switch parsed {
            case .failure(let error):
                result.fail(.index, line: action.number, error)
                skipDocumentLine(&lines, body: body, cache: &cache)
            case .success(let a):
                if a.op == .delete {
                    result.fail(.delete, line: action.number, .unsupportedOperation("delete"))
                    continue
                }
                guard let doc = lines.next() else {
                    result.fail(a.op, line: action.number, .badAction("\(a.op.rawValue) action has no document line"))
                    break
                }
                if a.op == .update {
                    result.fail(.update, line: doc.number, .unsupportedOperation("update"))
                    continue
                }
                guard let index = a.index ?? defaultIndex else {
                    result.fail(a.op, line: action.number, .badAction("no _index in the action and no index in the URL"))
                    continue
                }
                if let problem = a.problem ?? (a.index == nil ? defaultIndexProblem : nil) {
                    result.fail(a.op, line: action.number, problem)
                    continue
                }
                if let id = a.id, id.utf8.count > NameLimits.documentID(index: index) {
                    result.fail(a.op, line: action.number, .nameTooLong(what: "_id", length: id.utf8.count, limit: NameLimits.documentID(index: index)))
                    continue
                }
                do throws(IngestError) {
                    var position = 0
                    try documentParser.parseObject(
                        UnsafeBufferPointer(rebasing: body[doc.range]), at: &position, index: index,
                        arrivalTime: arrivalTime, into: &batch, wholeInput: true)
                    let n = batch.count - 1
                    if let id = a.id { batch.setLastID(id, overwrite: a.op == .index) }
                    result.items.append(BulkResult.Item(op: a.op, line: doc.number, document: Int32(n), error: nil))
                } catch {
                    result.fail(a.op, line: doc.number, error)
                }
            }
        }
        result.batch = batch.finish()
        return result
    }

    /// Skips the document line of a malformed action line, unless that line is itself a valid
    /// action: then the malformed line was a document whose action line is missing, and the
    /// next pair must not be swallowed (the malformed line already has its item).
    func skipDocumentLine(_ lines: inout LineReader, body: UnsafeBufferPointer<UInt8>, cache: inout IndexCache) {
        var peek = lines
        guard let next = peek.next() else { return }
        if case .success = parseAction(UnsafeBufferPointer(rebasing: body[next.range]), cache: &cache) { return }
        lines = peek
    }

    /// Parses one action line: `{"create":{"_index":"x","_id":"y"}}`.
    func parseAction(_ line: UnsafeBufferPointer<UInt8>, cache: inout IndexCache) -> Result<Action, IngestError> {
        var visitor = ActionVisitor()
        do throws(IngestError) {
            let end = try JSONScanner.scanObject(line, from: 0, paths: Self.actionPaths, visitor: &visitor)
            guard JSONScanner.skipWhitespace(line, from: end) == line.count else {
                return .failure(.badAction("unexpected data after the action object"))
            }
        } catch {
            if error == .notAnObject { return .failure(.badAction("the action line is not a JSON object")) }
            return .failure(.badAction(error.description))
        }
        guard visitor.members == 1, let key = visitor.firstKey else {
            return .failure(
                .badAction(visitor.members == 0 ? "empty action object" : "more than one operation in an action line"))
        }
        guard visitor.firstKind == .object else {
            return .failure(.badAction("the operation's value must be an object"))
        }
        let keyText = UnsafeBufferPointer(rebasing: line[(key.lowerBound + 1)..<(key.upperBound - 1)])
        let op: BulkOp
        switch Self.word(keyText) {
        case 0x63_72_65_61_74_65: op = .create
        case 0x69_6E_64_65_78: op = .index
        case 0x75_70_64_61_74_65: op = .update
        case 0x64_65_6C_65_74_65: op = .delete
        default:
            let name = String(decoding: keyText.prefix(256), as: UTF8.self)
            return .failure(.badAction("unknown operation \"\(name)\""))
        }
        var index: String?
        var id: String?
        if let m = visitor.indexMatch {
            guard m.kind == .string, m.valueRange.count > 2 else {
                return .failure(.badAction("_index must be a non-empty string"))
            }
            index = cache.string(line, m)
        }
        if let m = visitor.idMatch {
            switch m.kind {
            case .string: id = String(decoding: JSONScanner.decodeString(line, m.valueRange), as: UTF8.self)
            case .number: id = String(decoding: UnsafeBufferPointer(rebasing: line[m.valueRange]), as: UTF8.self)
            case .null: id = nil
            default: return .failure(.badAction("_id must be a string"))
            }
        }
        var problem: IngestError?
        if let index {
            do throws(IngestError) { try NameLimits.checkIndexName(index) } catch { problem = error }
        }
        return .success(Action(op: op, index: index, id: id, problem: problem))
    }

    /// Up to 8 bytes packed big-endian into an integer (0 for longer texts), to compare op names.
    @inline(__always)
    static func word(_ text: UnsafeBufferPointer<UInt8>) -> UInt64 {
        guard text.count <= 8 else { return 0 }
        var v: UInt64 = 0
        for b in text { v = v << 8 | UInt64(b) }
        return v
    }

    /// `op._index` and `op._id` for each op (even indices: `_index`, odd: `_id`).
    static let actionPaths = JSONPathSet(
        ["create", "index", "update", "delete"].flatMap { [$0 + "._index", $0 + "._id"] })

    /// A parsed action line.
    struct Action {
        var op: BulkOp
        var index: String?
        var id: String?
        /// Why the well-formed action cannot be stored (an invalid index name), if so.
        var problem: IngestError?
    }

    /// Records the first member of an action object and the `_index`/`_id` matches.
    struct ActionVisitor: JSONObjectVisitor {
        var members = 0
        var firstKey: Range<Int>?
        var firstKind = JSONValueKind.null
        var indexMatch: JSONMatch?
        var idMatch: JSONMatch?

        mutating func visitMember(_ member: JSONMember) {
            if members == 0 {
                firstKey = member.keyRange
                firstKind = member.kind
            }
            members += 1
        }

        /// Only the first member's matches matter: an action with more members is rejected.
        mutating func visitMatch(_ match: JSONMatch) {
            guard members == 0 else { return }
            if match.pathIndex % 2 == 0 {
                if indexMatch == nil { indexMatch = match }
            } else if idMatch == nil {
                idMatch = match
            }
        }
    }

    /// The last two distinct action lines and what they parsed to: FluentBit repeats the same
    /// action line (`{"create":{"_index":"…"}}`) before every document.
    struct ActionCache {
        var lines: [[UInt8]] = []
        var actions: [Action] = []
        var next = 0

        func lookup(_ line: UnsafeBufferPointer<UInt8>) -> Action? {
            for (k, raw) in lines.enumerated() where raw.count == line.count {
                let same = raw.withUnsafeBufferPointer { r -> Bool in
                    guard let a = r.baseAddress, let b = line.baseAddress else { return r.count == 0 }
                    return memcmp(a, b, r.count) == 0
                }
                if same { return actions[k] }
            }
            return nil
        }

        mutating func insert(_ line: UnsafeBufferPointer<UInt8>, _ action: Action) {
            if lines.count < 2 {
                lines.append(Array(line))
                actions.append(action)
            } else {
                lines[next] = Array(line)
                actions[next] = action
                next = 1 - next
            }
        }
    }

    /// Reuses the last index name's String while consecutive actions name the same index.
    struct IndexCache {
        var raw: [UInt8] = []
        var value = ""

        mutating func string(_ line: UnsafeBufferPointer<UInt8>, _ m: JSONMatch) -> String {
            let bytes = UnsafeBufferPointer(rebasing: line[m.valueRange])
            let same = raw.withUnsafeBufferPointer { r -> Bool in
                guard r.count == bytes.count else { return false }
                guard let a = r.baseAddress, let b = bytes.baseAddress else { return r.count == 0 }
                return memcmp(a, b, r.count) == 0
            }
            if same { return value }
            raw = Array(bytes)
            value = String(decoding: JSONScanner.decodeString(line, m.valueRange), as: UTF8.self)
            return value
        }
    }
}
