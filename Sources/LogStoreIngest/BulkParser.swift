#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Parses OpenSearch/Elasticsearch `_bulk` NDJSON bodies (action line + document line pairs).
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

    /// Parses a whole bulk body held in `body`.
    public func parse(_ body: UnsafeBufferPointer<UInt8>, defaultIndex: String?, arrivalTime: Int64) -> [BulkItem] {
        var items: [BulkItem] = []
        guard let base = body.baseAddress else { return items }
        items.reserveCapacity(body.count / 300 + 1)
        var lines = LineReader(base: base, count: body.count)
        var cache = IndexCache()

        while let action = lines.next() {
            let parsed = parseAction(UnsafeBufferPointer(rebasing: body[action.range]), cache: &cache)
            switch parsed {
            case .failure(let error):
                items.append(BulkItem(op: .index, line: action.number, result: .failure(error)))
                _ = lines.next()  // skip its document line
            case .success(let a):
                if a.op == .delete {
                    items.append(
                        BulkItem(op: .delete, line: action.number, result: .failure(.unsupportedOperation("delete"))))
                    continue
                }
                guard let doc = lines.next() else {
                    items.append(
                        BulkItem(
                            op: a.op, line: action.number,
                            result: .failure(.badAction("\(a.op.rawValue) action has no document line"))))
                    break
                }
                if a.op == .update {
                    items.append(
                        BulkItem(op: .update, line: doc.number, result: .failure(.unsupportedOperation("update"))))
                    continue
                }
                guard let index = a.index ?? defaultIndex else {
                    items.append(
                        BulkItem(
                            op: a.op, line: action.number,
                            result: .failure(.badAction("no _index in the action and no index in the URL"))))
                    continue
                }
                do throws(IngestError) {
                    var document = try documentParser.parse(
                        UnsafeBufferPointer(rebasing: body[doc.range]), index: index, arrivalTime: arrivalTime)
                    document.id = a.id
                    items.append(BulkItem(op: a.op, line: doc.number, result: .success(document)))
                } catch {
                    items.append(BulkItem(op: a.op, line: doc.number, result: .failure(error)))
                }
            }
        }
        return items
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
            let name = String(decoding: keyText, as: UTF8.self)
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
        return .success(Action(op: op, index: index, id: id))
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
