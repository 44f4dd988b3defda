#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A compiled set of dotted key paths (`kubernetes.labels.job-name`) to look for while scanning.
///
/// A path matches both nested objects (`{"kubernetes":{"labels":{"job-name":…}}}`), flat keys
/// with literal dots (`{"kubernetes.labels.job-name":…}`) and any mix of the two.
public struct JSONPathSet: Sendable {
    /// The distinct paths, in first-seen order, as UTF-8.
    public let paths: [[UInt8]]
    let flat: [UInt8]
    let starts: [Int]
    let lengths: [Int]
    /// Every proper dot-prefix of every path (`kubernetes`, `kubernetes.labels`).
    let prefixFlat: [UInt8]
    let prefixStarts: [Int]
    let prefixLengths: [Int]
    let maxLength: Int

    /// Compiles `paths`; duplicates are kept once.
    public init(_ paths: [String]) {
        var distinct: [[UInt8]] = []
        for p in paths {
            let bytes = Array(p.utf8)
            if !distinct.contains(bytes) { distinct.append(bytes) }
        }
        var prefixes: [[UInt8]] = []
        for p in distinct {
            for (k, b) in p.enumerated() where b == 0x2E && k > 0 {
                let prefix = Array(p[0..<k])
                if !prefixes.contains(prefix) { prefixes.append(prefix) }
            }
        }
        var flat: [UInt8] = []
        var starts: [Int] = []
        for p in distinct {
            starts.append(flat.count)
            flat += p
        }
        var prefixFlat: [UInt8] = []
        var prefixStarts: [Int] = []
        for p in prefixes {
            prefixStarts.append(prefixFlat.count)
            prefixFlat += p
        }
        self.paths = distinct
        self.flat = flat
        self.starts = starts
        self.lengths = distinct.map(\.count)
        self.prefixFlat = prefixFlat
        self.prefixStarts = prefixStarts
        self.prefixLengths = prefixes.map(\.count)
        self.maxLength = distinct.map(\.count).max() ?? 0
    }

    /// The index of `path`, if it is in the set.
    public func index(of path: String) -> Int? {
        paths.firstIndex(of: Array(path.utf8))
    }

    @inline(__always)
    func match(_ key: UnsafePointer<UInt8>, _ length: Int) -> Int {
        Self.find(key, length, flat, starts, lengths)
    }

    @inline(__always)
    func isPrefix(_ key: UnsafePointer<UInt8>, _ length: Int) -> Bool {
        Self.find(key, length, prefixFlat, prefixStarts, prefixLengths) >= 0
    }

    @inline(__always)
    static func find(
        _ key: UnsafePointer<UInt8>, _ length: Int, _ flat: [UInt8], _ starts: [Int], _ lengths: [Int]
    ) -> Int {
        guard length > 0 else { return lengths.firstIndex(of: 0) ?? -1 }
        return flat.withUnsafeBufferPointer { f -> Int in
            guard let base = f.baseAddress else { return -1 }
            let first = key[0]
            for k in 0..<lengths.count where lengths[k] == length {
                let candidate = base + starts[k]
                if candidate[0] == first && memcmp(candidate, key, length) == 0 { return k }
            }
            return -1
        }
    }
}
