import LogStore

/// DocumentParser turns one JSON log document into one line of a ``LineBatchBuilder`` (the
/// engine's `LineBatch`) using a ``FieldMapping``.
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
    /// Accepted document times and days per request (unbounded by default).
    public let window: TimeWindow

    let paths: JSONPathSet
    let messagePaths: [Int]
    let timestampPaths: [Int]
    let jobPaths: [Int]
    let workflowPaths: [Int]
    /// Message and timestamp paths (their top-level members are not copied to the fields unless
    /// unused), and the same as a flag per path.
    let skippablePaths: [Int]
    let skippable: [Bool]
    let namespacePath: Int
    let podPath: Int
    let containerPath: Int

    /// Creates a parser; `maxMessageBytes` defaults to 1 MiB.
    public init(
        mapping: FieldMapping = .reana, maxMessageBytes: Int = 1 << 20,
        maxDepth: Int = JSONScanner.defaultMaxDepth, window: TimeWindow = .unbounded
    ) {
        self.window = window
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
        var skippable = [Bool](repeating: false, count: set.paths.count)
        for k in messagePaths + timestampPaths { skippable[k] = true }
        self.skippable = skippable
        skippablePaths = skippable.indices.filter { skippable[$0] }
        namespacePath = mapping.kubernetes.flatMap { set.index(of: $0.namespace) } ?? -1
        podPath = mapping.kubernetes.flatMap { set.index(of: $0.pod) } ?? -1
        containerPath = mapping.kubernetes.flatMap { set.index(of: $0.container) } ?? -1
    }

    /// Parses `bytes`, which must hold exactly one JSON object (surrounding whitespace allowed),
    /// into a stand-alone line (for tests and tools; the ingest path parses into a batch).
    public func parse(_ bytes: [UInt8], index: String, arrivalTime: Int64) throws(IngestError) -> IncomingLine {
        try bytes.withUnsafeBufferPointer { (buf) throws(IngestError) -> IncomingLine in
            try parse(buf, index: index, arrivalTime: arrivalTime)
        }
    }

    /// Parses `bytes`, which must hold exactly one JSON object (surrounding whitespace allowed),
    /// into a stand-alone line.
    public func parse(
        _ bytes: UnsafeBufferPointer<UInt8>, index: String, arrivalTime: Int64
    ) throws(IngestError) -> IncomingLine {
        var batch = LineBatchBuilder()
        var position = 0
        try parseObject(bytes, at: &position, index: index, arrivalTime: arrivalTime, into: &batch, wholeInput: true)
        return batch.finish().line(at: 0)
    }

    /// Parses the object starting at `position` (leading whitespace allowed) into `batch` (its
    /// fields and message appended to `batch.bytes`, one entry added to `batch.lines`) and
    /// moves `position` just past it. With `wholeInput`, only whitespace may follow the object.
    /// On error `batch` holds the same documents as before.
    public func parseObject(
        _ bytes: UnsafeBufferPointer<UInt8>, at position: inout Int, index: String, arrivalTime: Int64,
        into batch: inout LineBatchBuilder, wholeInput: Bool = false
    ) throws(IngestError) {
        let count = paths.paths.count
        let start = position
        let mark = batch.bytes.count
        // The source template's marker; the members follow (``StoredSource``).
        batch.bytes.append(StoredSource.marker)
        let outcome: Result<Int, IngestError> = withUnsafeTemporaryAllocation(
            of: Hit.self, capacity: max(count, 1)
        ) { hitBuffer in
            guard let hits = hitBuffer.baseAddress else {
                return .failure(.malformedJSON(offset: start, reason: "no memory"))
            }
            hits.initialize(repeating: Hit(), count: count)
            // The visitor appends the members to the batch's buffer (moved in and out, no copy).
            var visitor = FieldsVisitor(bytes: bytes, hits: hits, skippable: skippable)
            swap(&visitor.fields, &batch.bytes)
            let end: Int
            do throws(IngestError) {
                end = try JSONScanner.scanObject(bytes, from: start, paths: paths, maxDepth: maxDepth, visitor: &visitor)
            } catch {
                swap(&visitor.fields, &batch.bytes)
                return .failure(error)
            }
            swap(&visitor.fields, &batch.bytes)
            if let problem = visitor.names.problem { return .failure(problem) }
            do throws(IngestError) {
                try resolve(
                    bytes, hits: hits, fieldsStart: mark, into: &batch, index: index, arrivalTime: arrivalTime,
                    end: wholeInput ? end : nil)
            } catch {
                return .failure(error)
            }
            return .success(end)
        }
        switch outcome {
        case .success(let end):
            position = end
        case .failure(let error):
            if batch.bytes.count > mark { batch.bytes.removeLast(batch.bytes.count - mark) }
            throw error
        }
    }

    /// Completes the document whose members were copied to `batch.bytes[fieldsStart...]`: picks
    /// the message, timestamp and stream from the matches, finishes the fields object and
    /// records the line. Throws before changing anything but `batch.bytes` past `fieldsStart`.
    /// With `end`, only whitespace may follow the object there (checked after the fields, as
    /// the errors of a document are reported in that order).
    func resolve(
        _ bytes: UnsafeBufferPointer<UInt8>, hits: UnsafeMutablePointer<Hit>, fieldsStart: Int,
        into batch: inout LineBatchBuilder, index: String, arrivalTime: Int64, end: Int?
    ) throws(IngestError) {
        let (messageHit, messageCount) = try appendMessage(bytes, hits: hits, to: &batch.bytes)
        let (timestamp, timestampHit) = try pickTimestamp(bytes, hits: hits, arrivalTime: arrivalTime)
        try window.check(timestamp, arrival: arrivalTime)
        let day = TimeWindow.day(timestamp)
        if let maxDays = window.maxDays, day != batch.lastDay, !batch.days.contains(day), batch.days.count >= maxDays {
            throw .tooManyDays(limit: maxDays)
        }
        if let end {
            let rest = JSONScanner.skipWhitespace(bytes, from: end)
            guard rest == bytes.count else { throw .malformedJSON(offset: rest, reason: "unexpected data after the document") }
        }

        makeSlots(bytes, hits: hits, message: messageHit, timestamp: timestampHit, nanos: timestamp, in: &batch.bytes)
        // Close the object: `{…}` between the template marker and the message.
        let membersEnd = batch.bytes.count - messageCount
        if membersEnd == fieldsStart + 1 {
            batch.bytes.insert(contentsOf: [0x7B, 0x7D], at: membersEnd)
        } else {
            batch.bytes[fieldsStart + 1] = 0x7B  // the leading comma of the first member becomes `{`
            batch.bytes.insert(0x7D, at: membersEnd)
        }
        let fieldsCount = batch.bytes.count - messageCount - fieldsStart
        let messageStart = fieldsStart + fieldsCount

        let stream = try resolveStream(bytes, hits: hits, index: index, in: &batch)
        if day != batch.lastDay {
            batch.days.insert(day)
            batch.lastDay = day
        }

        // Share the fields object of the stream's previous document when it is the same.
        var sharedFields = fieldsStart
        var finalMessageStart = messageStart
        let previous = batch.keys[Int(stream)]
        if previous.lastFieldsStart >= 0 && previous.lastFieldsCount == fieldsCount
            && batch.sameBytes(previous.lastFieldsStart, fieldsStart, count: fieldsCount)
        {
            sharedFields = previous.lastFieldsStart
        }
        if sharedFields != fieldsStart {
            // Move the message down over the now redundant fields.
            batch.moveBytes(from: messageStart, to: fieldsStart, count: messageCount)
            batch.bytes.removeLast(fieldsCount)
            finalMessageStart = fieldsStart
        } else {
            batch.keys[Int(stream)].lastFieldsStart = fieldsStart
            batch.keys[Int(stream)].lastFieldsCount = fieldsCount
        }

        batch.lines.append(
            LineBatch.Line(
                timestamp: timestamp, stream: stream, id: -1, messageStart: finalMessageStart, messageCount: messageCount,
                fieldsStart: sharedFields, fieldsCount: fieldsCount))
    }


    /// Appends the message (the first present message path; `null` counts as absent) decoded
    /// after the members; returns its path (or -1) and its length.
    func appendMessage(
        _ bytes: UnsafeBufferPointer<UInt8>, hits: UnsafeMutablePointer<Hit>, to out: inout [UInt8]
    ) throws(IngestError) -> (hit: Int, count: Int) {
        for k in messagePaths where hits[k].found && hits[k].kind != .null {
            let h = hits[k]
            let before = out.count
            if h.kind == .string {
                if h.end - h.start - 2 > maxMessageBytes && !h.escapes { throw .lineTooLong(limit: maxMessageBytes) }
                JSONScanner.appendDecodedString(bytes, h.start..<h.end, to: &out)
            } else {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[h.start..<h.end]))
            }
            let count = out.count - before
            if count > maxMessageBytes { throw .lineTooLong(limit: maxMessageBytes) }
            return (k, count)
        }
        return (-1, 0)
    }

    /// The first timestamp path whose value parses, and that path (-1 and `arrivalTime` when no
    /// timestamp is present); throws when some are present and none parses.
    func pickTimestamp(
        _ bytes: UnsafeBufferPointer<UInt8>, hits: UnsafeMutablePointer<Hit>, arrivalTime: Int64
    ) throws(IngestError) -> (timestamp: Int64, hit: Int) {
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
            if let parsed { return (parsed, k) }
            if badTimestamp == nil {
                badTimestamp = String(decoding: UnsafeBufferPointer(rebasing: bytes[h.start..<h.end]), as: UTF8.self)
            }
        }
        if let badTimestamp { throw .badTimestamp(badTimestamp) }
        return (arrivalTime, -1)
    }

    /// Turns the top-level members that gave the message and the timestamp into slot members
    /// (``StoredSource``) in place: `,"key":value` becomes `,<slot>"key"` (never longer), the
    /// timestamp only when its text can be rendered again from the line's time (``TimestampForm``).
    /// The later member first, so the earlier one's offsets stay valid.
    func makeSlots(
        _ bytes: UnsafeBufferPointer<UInt8>, hits: UnsafeMutablePointer<Hit>, message: Int, timestamp: Int, nanos: Int64,
        in out: inout [UInt8]
    ) {
        var slots: [(hit: Int, head: (UInt8, UInt8?))] = []
        if message >= 0, hits[message].skipped {
            slots.append((message, (hits[message].kind == .string ? StoredSource.messageSlot : StoredSource.rawMessageSlot, nil)))
        }
        if timestamp >= 0, hits[timestamp].skipped, timestamp != message {
            let h = hits[timestamp]
            if let form = TimestampForm.choose(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[h.start..<h.end])), nanos: nanos) {
                slots.append((timestamp, (StoredSource.timestampSlot, form)))
            }
        }
        if slots.count == 2, hits[slots[0].hit].fieldStart < hits[slots[1].hit].fieldStart { slots.swapAt(0, 1) }
        for (k, head) in slots {
            let h = hits[k]
            let keyCount = h.keyEnd - h.keyStart
            let headCount = head.1 == nil ? 1 : 2
            // `,` key `:` value → `,` head key: move the key right over the `:` and the value.
            out.withUnsafeMutableBufferPointer { b in
                guard let base = b.baseAddress else { return }
                let keyAt = base + h.fieldStart + 1
                UnsafeMutableRawPointer(keyAt + headCount).copyMemory(from: keyAt, byteCount: keyCount)  // overlapping: a memmove
                keyAt[0] = head.0
                if let form = head.1 { keyAt[1] = form }
            }
            out.removeSubrange((h.fieldStart + 1 + headCount + keyCount)..<h.fieldEnd)
        }
    }

    /// The stream of the document in `batch`: its key `index 0x00 workflow 0x00 job` from the
    /// mapped paths (the Kubernetes fallback when neither job nor workflow is found). Throws
    /// ``IngestError/nameTooLong(what:length:limit:)`` (the batch's streams unchanged) when a
    /// part is over its ``NameLimits``.
    func resolveStream(
        _ bytes: UnsafeBufferPointer<UInt8>, hits: UnsafeMutablePointer<Hit>, index: String, in batch: inout LineBatchBuilder
    ) throws(IngestError) -> Int32 {
        batch.scratch.removeAll(keepingCapacity: true)
        batch.scratch.append(contentsOf: index.utf8)
        let indexCount = batch.scratch.count
        batch.scratch.append(0)
        let workflowFound = appendFirstText(bytes, hits, workflowPaths, to: &batch.scratch)
        var workflowCount = batch.scratch.count - indexCount - 1
        batch.scratch.append(0)
        let jobFound = appendFirstText(bytes, hits, jobPaths, to: &batch.scratch)
        if !jobFound && !workflowFound && podPath >= 0 {
            batch.scratch.removeLast(batch.scratch.count - indexCount - 1)
            _ = appendText(bytes, hits, namespacePath, to: &batch.scratch)
            workflowCount = batch.scratch.count - indexCount - 1
            batch.scratch.append(0)
            if appendText(bytes, hits, podPath, to: &batch.scratch) {
                let mark = batch.scratch.count
                batch.scratch.append(0x2F)
                if !appendText(bytes, hits, containerPath, to: &batch.scratch) { batch.scratch.removeLast(batch.scratch.count - mark) }
            }
        }
        try NameLimits.checkStream(
            index: indexCount, workflow: workflowCount, job: batch.scratch.count - indexCount - 1 - workflowCount - 1)
        return batch.resolveStream(indexCount: indexCount, workflowCount: workflowCount, index: index)

    }

    /// Appends the text of the first of `list` that has one; false when none has.
    @inline(__always)
    func appendFirstText(
        _ bytes: UnsafeBufferPointer<UInt8>, _ hits: UnsafeMutablePointer<Hit>, _ list: [Int], to out: inout [UInt8]
    ) -> Bool {
        for k in list where appendText(bytes, hits, k, to: &out) { return true }
        return false
    }

    /// Appends the value at path `k` as text: decoded strings, numbers and booleans as written.
    /// False (nothing appended) for other kinds, empty strings and absent values.
    @inline(__always)
    func appendText(
        _ bytes: UnsafeBufferPointer<UInt8>, _ hits: UnsafeMutablePointer<Hit>, _ k: Int, to out: inout [UInt8]
    ) -> Bool {
        guard k >= 0 else { return false }
        let h = hits[k]
        guard h.found else { return false }
        switch h.kind {
        case .string:
            guard h.end - h.start > 2 else { return false }
            if h.escapes {
                JSONScanner.appendDecodedString(bytes, h.start..<h.end, to: &out)
            } else {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[(h.start + 1)..<(h.end - 1)]))
            }
            return true
        case .number, .bool:
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[h.start..<h.end]))
            return true
        default:
            return false
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
        /// Where the member was left out of the `fields` buffer (top-level matches at message and
        /// timestamp paths only).
        var fieldStart = -1
        /// Where the member ends in the `fields` buffer.
        var fieldEnd = -1
        /// A top-level member at a message or timestamp path, copied at `fieldStart..<fieldEnd`.
        var skipped = false
        /// The member's key (quotes included) in the document, when `skipped`.
        var keyStart = 0
        var keyEnd = 0
    }

    /// Records matches and appends every top-level member to the `fields` buffer (the batch's
    /// buffer, positions are absolute), each written as `,"key":value` (the first comma becomes
    /// `{` at the end).
    struct FieldsVisitor: JSONObjectVisitor {
        let base: UnsafePointer<UInt8>?
        let hits: UnsafeMutablePointer<Hit>
        var fields: [UInt8] = []
        var pendingHit = -1
        /// The top-level member names: duplicates and over-long names.
        var names = MemberNames()

        /// Per path: whether a top-level member there is left out (message and timestamp paths).
        let skippable: [Bool]

        init(bytes: UnsafeBufferPointer<UInt8>, hits: UnsafeMutablePointer<Hit>, skippable: [Bool]) {
            base = bytes.baseAddress
            self.hits = hits
            self.skippable = skippable
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
            names.add(member.keyRange, base: base)
            if pendingHit >= 0 {
                let k = pendingHit
                pendingHit = -1
                if skippable[k] {
                    hits[k].fieldStart = fields.count
                    hits[k].skipped = true
                    hits[k].keyStart = member.keyRange.lowerBound
                    hits[k].keyEnd = member.keyRange.upperBound
                    appendMember(member, base)
                    hits[k].fieldEnd = fields.count
                    return
                }
            }
            appendMember(member, base)
        }

        /// Appends `,"key":value` as sent.
        @inline(__always)
        mutating func appendMember(_ member: JSONMember, _ base: UnsafePointer<UInt8>) {
            fields.append(0x2C)
            fields.append(
                contentsOf: UnsafeBufferPointer(start: base + member.keyRange.lowerBound, count: member.keyRange.count))
            fields.append(0x3A)
            fields.append(
                contentsOf: UnsafeBufferPointer(
                    start: base + member.valueRange.lowerBound, count: member.valueRange.count))
        }
    }
}
