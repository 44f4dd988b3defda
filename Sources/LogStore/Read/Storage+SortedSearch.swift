import Foundation

/// One key of a sort on document fields.
public struct SortKey: Sendable, Equatable {
    public enum Target: Sendable, Equatable {
        /// Every value of the field (dotted path): numbers, booleans (0 and 1), dates (epoch
        /// milliseconds: the time slot and strings that read as dates) and other strings.
        case field(String)
        /// The field's string values only (`field.keyword`), compared as bytes.
        case keyword(String)
        /// The line's time (epoch milliseconds): never missing.
        case timestamp
        /// The same for every line (`_score`: logstore does not score).
        case constant
    }

    public var target: Target
    public var descending: Bool
    /// Lines without a value come first (`missing: _first`) rather than last.
    public var missingFirst: Bool
    /// Of several values (an array), the smallest one decides (`mode: min`) or the largest.
    public var useMin: Bool

    public init(target: Target, descending: Bool = false, missingFirst: Bool = false, useMin: Bool? = nil) {
        self.target = target
        self.descending = descending
        self.missingFirst = missingFirst
        self.useMin = useMin ?? !descending
    }

    /// The field path this key reads (nil for the time and constant keys).
    var path: [UInt8]? {
        switch target {
        case .field(let p), .keyword(let p): return Array(p.utf8)
        case .timestamp, .constant: return nil
        }
    }

    /// -1, 0 or 1: `a` before, with or after `b` in the answer's order for this key.
    @inline(__always)
    func compare(_ a: SortValue, _ b: SortValue) -> Int {
        switch (a, b) {
        case (.missing, .missing): return 0
        case (.missing, _): return missingFirst ? -1 : 1
        case (_, .missing): return missingFirst ? 1 : -1
        default:
            let c = SortValue.natural(a, b)
            return descending ? -c : c
        }
    }

    /// The sort value a client gives for this key (a `search_after` string): a date text is
    /// its epoch milliseconds unless the key is a keyword.
    public func value(ofText text: String) -> SortValue {
        if case .keyword = target { return .string(Array(text.utf8)) }
        return SortValue.classify(.string, Array(text.utf8))
    }
}

/// One sort value of a line for one key.
public enum SortValue: Sendable, Equatable {
    case missing
    /// Numbers, booleans (0, 1) and dates (epoch milliseconds, a fraction for finer times).
    case number(Double)
    /// Strings (UTF-8 bytes), after every number.
    case string([UInt8])

    /// The natural order of two present values: numbers by value, then strings by bytes.
    static func natural(_ a: SortValue, _ b: SortValue) -> Int {
        switch (a, b) {
        case (.number(let x), .number(let y)): return x < y ? -1 : x > y ? 1 : 0
        case (.number, _): return -1
        case (_, .number): return 1
        case (.string(let x), .string(let y)):
            let n = min(x.count, y.count)
            let c = n == 0 ? 0 : x.withUnsafeBytes { p in y.withUnsafeBytes { q in memcmp(p.baseAddress!, q.baseAddress!, n) } }
            if c != 0 { return c < 0 ? -1 : 1 }
            return x.count < y.count ? -1 : x.count > y.count ? 1 : 0
        default: return 0
        }
    }

    /// Epoch milliseconds of `nanos`: whole milliseconds exactly, a fraction for finer times.
    public static func milliseconds(_ nanos: Int64) -> Double {
        var ms = nanos / 1_000_000
        var rest = nanos % 1_000_000
        if rest < 0 {
            ms -= 1
            rest += 1_000_000
        }
        return rest == 0 ? Double(ms) : Double(ms) + Double(rest) / 1_000_000
    }

    /// The sort value of one document value of a `.field` key.
    static func classify(_ kind: DocumentFields.ValueKind, _ text: [UInt8]) -> SortValue {
        switch kind {
        case .number:
            return DocumentFields.number(String(decoding: text, as: UTF8.self)).map { .number($0) } ?? .string(text)
        case .bool:
            return .number(text.first == UInt8(ascii: "t") ? 1 : 0)
        case .date, .string:
            if let nanos = text.withUnsafeBufferPointer({ DateText.parse($0) }) { return .number(milliseconds(nanos)) }
            return .string(text)
        }
    }
}

/// Where a sorted search continues: after the line with these sort values (and, when given,
/// this position, the last tie-breaker); without a position, after every line with these values.
public struct SortCursor: Sendable {
    public var values: [SortValue]
    public var position: LogPosition?

    public init(values: [SortValue], position: LogPosition?) {
        self.values = values
        self.position = position
    }
}

/// A search ordered by field values: the matching lines of `visit`, ordered by `keys` and then
/// by log position (ascending, or descending when `tieDescending`), after `after`, the first
/// `limit` of them.
public struct SortedSearch: Sendable {
    public var visit: LineVisit
    public var keys: [SortKey]
    public var tieDescending: Bool
    public var after: SortCursor?
    public var limit: Int

    public init(visit: LineVisit, keys: [SortKey], tieDescending: Bool = false, after: SortCursor? = nil, limit: Int) {
        self.visit = visit
        self.keys = keys
        self.tieDescending = tieDescending
        self.after = after
        self.limit = limit
    }

    /// -1, 0, 1: line a before, at or after line b.
    func compare(_ a: [SortValue], _ pa: LogPosition, _ b: [SortValue], _ pb: LogPosition) -> Int {
        let c = compareValues(a, b)
        if c != 0 { return c }
        if pa == pb { return 0 }
        return (pa < pb) != tieDescending ? -1 : 1
    }

    func compareValues(_ a: [SortValue], _ b: [SortValue]) -> Int {
        for k in keys.indices {
            let c = keys[k].compare(a[k], b[k])
            if c != 0 { return c }
        }
        return 0
    }

    /// Whether a line with `values` at `position` comes after the cursor.
    func isAfterCursor(_ values: [SortValue], _ position: LogPosition) -> Bool {
        guard let after else { return true }
        if let p = after.position { return compare(values, position, after.values, p) > 0 }
        return compareValues(values, after.values) > 0
    }
}

/// The answer of a sorted search: the lines in order (copied into one packed source), each
/// line's sort values, and how many lines matched (before the cursor was applied).
public struct SortedPage: Sendable {
    public var page: LinePage
    /// `values[i]`: the sort values of `page.lines[i]`, one per key.
    public var values: [[SortValue]]
    public var total: Int

    public static let empty = SortedPage(page: .empty, values: [], total: 0)
}

extension Storage {
    /// The lines of `search` in its order: one visit of every matching line (``visitLines``,
    /// within its deadline), each line's sort values read from its fields, the best `limit`
    /// kept in a bounded heap.
    public func sortedSearch(_ search: SortedSearch) throws -> SortedPage {
        let keys = search.keys
        let paths = keys.map(\.path)
        var heap = SortHeap(search: search, maxBytes: options.maxReadBytes)
        var total = 0
        // Lines of one block usually share their fields bytes: their values are read once
        // unless a value came from the line's own message or time.
        var lastFields: (base: UnsafeRawPointer?, count: Int) = (nil, -1)
        var lastValues: [SortValue]?
        var values = [SortValue](repeating: .missing, count: keys.count)
        try visitLines(search.visit) { line in
            total += 1
            if search.limit == 0 { return }
            if let cached = lastValues, line.fields.count == lastFields.count, let base = line.fields.baseAddress,
                let previous = lastFields.base, previous == base || memcmp(previous, base, line.fields.count) == 0
            {
                values = cached
            } else {
                let fromSlot = Self.sortValues(keys: keys, paths: paths, fields: line.fields, message: line.message, timestamp: line.timestamp, into: &values)
                lastFields = (line.fields.baseAddress, line.fields.count)
                lastValues = fromSlot ? nil : values
            }
            for k in keys.indices where keys[k].target == .timestamp { values[k] = .number(SortValue.milliseconds(line.timestamp)) }
            let position = LogPosition(timestamp: line.timestamp, lsn: line.lsn)
            guard search.isAfterCursor(values, position) else { return }
            try heap.offer(values, position, line)
        }
        let entries = heap.sorted()
        var builder = HeadLinesBuilder()
        var refs: [LinePage.Ref] = []
        refs.reserveCapacity(entries.count)
        for (i, e) in entries.enumerated() {
            e.message.withUnsafeBytes { m in e.fields.withUnsafeBytes { f in builder.append(timestamp: e.position.timestamp, lsn: e.position.lsn, message: m, fields: f) } }
            refs.append(LinePage.Ref(timestamp: e.position.timestamp, lsn: e.position.lsn, stream: e.stream, source: 0, index: Int32(i)))
        }
        let page = LinePage(
            lines: refs, sources: entries.isEmpty ? [] : [builder.build()], sourceIDs: entries.isEmpty ? [] : [nil],
            next: refs.last?.position, truncated: false)
        return SortedPage(page: page, values: entries.map(\.values), total: total)
    }

    /// `sortedSearch` on a background thread within the visit's deadline.
    public func sortedSearchAsync(_ search: SortedSearch) async throws -> SortedPage {
        try await visitLinesAsync(search.visit) { storage, visit in
            var search = search
            search.visit = visit
            return try storage.sortedSearch(search)
        }
    }

    /// The sort values of one line for `keys` (time keys are left to the caller). Returns
    /// whether a value came from the line's message or time slot.
    static func sortValues(
        keys: [SortKey], paths: [[UInt8]?], fields: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer, timestamp: Int64,
        into values: inout [SortValue]
    ) -> Bool {
        for k in values.indices { values[k] = .missing }
        guard paths.contains(where: { $0 != nil }) else { return false }
        var found = values
        var fromSlot = false
        var walker = DocumentFields.Walker(owner: DocumentFields([]), leaves: [], state: nil)
        walker.collect = { path, kind, text, slot in
            for k in keys.indices {
                guard let p = paths[k], p.count == path.count, p.elementsEqual(path) else { continue }
                let value: SortValue
                if case .keyword = keys[k].target {
                    guard kind == .string || kind == .date else { continue }
                    value = .string(Array(text))
                } else {
                    value = SortValue.classify(kind, Array(text))
                }
                if slot { fromSlot = true }
                switch found[k] {
                case .missing: found[k] = value
                case let current:
                    let c = SortValue.natural(value, current)
                    if keys[k].useMin ? c < 0 : c > 0 { found[k] = value }
                }
            }
        }
        walker.walkDocument(fields: fields, message: message, timestamp: timestamp)
        values = found
        return fromSlot
    }
}

/// The best `limit` lines seen so far: a binary heap whose root is the worst of them.
struct SortHeap {
    struct Entry {
        var values: [SortValue]
        var position: LogPosition
        var stream: StreamID
        var message: [UInt8]
        var fields: [UInt8]
    }

    let search: SortedSearch
    var entries: [Entry] = []
    /// Bytes of lines the entries hold, and the most they may (`StorageOptions.maxReadBytes`).
    var bytes = 0
    let maxBytes: Int

    init(search: SortedSearch, maxBytes: Int = Limits.maxReadBytes) {
        self.search = search
        self.maxBytes = maxBytes
        entries.reserveCapacity(min(search.limit, 1 << 16))
    }

    /// `a` is worse than `b` (comes after it).
    @inline(__always)
    func worse(_ a: Entry, _ b: Entry) -> Bool {
        search.compare(a.values, a.position, b.values, b.position) > 0
    }

    mutating func offer(_ values: [SortValue], _ position: LogPosition, _ line: VisitedLine) throws(StorageError) {
        if entries.count == search.limit {
            guard let root = entries.first, search.compare(values, position, root.values, root.position) < 0 else { return }
            bytes -= root.message.count + root.fields.count
        }
        bytes += line.message.count + line.fields.count
        if bytes > maxBytes { throw .answerTooLarge(limit: maxBytes) }
        let entry = Entry(values: values, position: position, stream: line.stream, message: Array(line.message), fields: Array(line.fields))
        if entries.count < search.limit {
            entries.append(entry)
            var i = entries.count - 1
            while i > 0 {
                let parent = (i - 1) / 2
                guard worse(entries[i], entries[parent]) else { break }
                entries.swapAt(i, parent)
                i = parent
            }
        } else {
            entries[0] = entry
            var i = 0
            while true {
                let l = 2 * i + 1
                let r = l + 1
                var top = i
                if l < entries.count && worse(entries[l], entries[top]) { top = l }
                if r < entries.count && worse(entries[r], entries[top]) { top = r }
                if top == i { break }
                entries.swapAt(i, top)
                i = top
            }
        }
    }

    /// The kept lines, best first.
    func sorted() -> [Entry] {
        entries.sorted { search.compare($0.values, $0.position, $1.values, $1.position) < 0 }
    }
}
