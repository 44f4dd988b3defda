/// BulkChunker cuts a body into chunks at line boundaries; for bulk bodies only after a document line, so
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
