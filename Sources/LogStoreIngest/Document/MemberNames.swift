#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// MemberNames checks the member names of a document's top-level object as they are scanned:
/// the first name longer than ``NameLimits/fieldName`` bytes or given twice (compared as
/// written, escapes not resolved) is kept in ``problem``. OpenSearch refuses both
/// (`Duplicate field`); so does logstore, rather than keeping one of the two values silently.
struct MemberNames {
    /// The first problem found, nil while there is none.
    private(set) var problem: IngestError?
    /// Raw key ranges (quotes included) of the members seen so far, while there are few.
    private var ranges: [Range<Int>] = []
    /// Key hashes → a range holding that hash, once there are more members than a linear
    /// search should compare.
    private var byHash: [Int: Range<Int>] = [:]
    /// Members compared linearly before the hash table takes over.
    static let linearLimit = 24

    /// MemberNames.add records the member whose raw key is `key` in the buffer at `base`.
    mutating func add(_ key: Range<Int>, base: UnsafePointer<UInt8>) {
        guard problem == nil else { return }
        if key.count - 2 > NameLimits.fieldName {
            problem = .nameTooLong(what: "a field name", length: key.count - 2, limit: NameLimits.fieldName)
            return
        }
        if ranges.count < Self.linearLimit {
            for seen in ranges where seen.count == key.count && memcmp(base + seen.lowerBound, base + key.lowerBound, key.count) == 0 {
                return duplicate(key, base: base)
            }
            ranges.append(key)
            if ranges.count == Self.linearLimit { for r in ranges { byHash[hash(r, base)] = r } }
            return
        }
        let h = hash(key, base)
        if let seen = byHash[h], seen.count == key.count, memcmp(base + seen.lowerBound, base + key.lowerBound, key.count) == 0 {
            return duplicate(key, base: base)
        }
        byHash[h] = key
    }

    private mutating func duplicate(_ key: Range<Int>, base: UnsafePointer<UInt8>) {
        let name = String(decoding: UnsafeBufferPointer(start: base + key.lowerBound + 1, count: max(0, key.count - 2)), as: UTF8.self)
        problem = .duplicateKey(name)
    }

    private func hash(_ key: Range<Int>, _ base: UnsafePointer<UInt8>) -> Int {
        var hasher = Hasher()
        hasher.combine(bytes: UnsafeRawBufferPointer(start: base + key.lowerBound, count: key.count))
        return hasher.finalize()
    }
}
