#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Splits a body into non-blank lines (CR before LF dropped), counting line numbers from 1.
struct LineReader {
    let base: UnsafePointer<UInt8>
    let count: Int
    var position = 0
    var lineNumber = 0

    init(base: UnsafePointer<UInt8>, count: Int) {
        self.base = base
        self.count = count
    }

    /// The next line that holds something other than whitespace.
    mutating func next() -> (range: Range<Int>, number: Int)? {
        while position < count {
            let start = position
            var end = count
            if let found = memchr(base + start, 0x0A, count - start) {
                end = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(found))
            }
            position = end + 1
            lineNumber += 1
            var last = end
            if last > start, base[last - 1] == 0x0D { last -= 1 }
            var first = start
            while first < last, JSONScanner.isWhitespace(base[first]) { first += 1 }
            if first < last { return (start..<last, lineNumber) }
        }
        return nil
    }
}
