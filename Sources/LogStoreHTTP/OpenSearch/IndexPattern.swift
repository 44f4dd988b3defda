import Foundation

/// IndexPattern is the index part of an OpenSearch URL (`/{index}/_search`): a comma list of
/// names and `*` globs; empty, `_all` and `*` name every index.
struct IndexPattern: Sendable {
    /// The names and globs, trimmed, empty ones dropped.
    let parts: [String]

    /// Parses `text` (`logs-*,other`).
    init(_ text: String) {
        parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// Whether the pattern names every index.
    var isAll: Bool { parts.isEmpty || parts.contains("_all") }

    /// The names without a `*`: concrete indices that must exist.
    var concreteNames: [String] { parts.filter { !$0.contains("*") } }

    /// Whether `index` is one the pattern names.
    func matches(_ index: String) -> Bool {
        isAll || parts.contains { Self.glob($0, index) }
    }

    /// Whether `text` matches `pattern`, where `*` matches any run of characters and everything
    /// else matches literally.
    static func glob(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern.utf8)
        let t = Array(text.utf8)
        var pi = 0
        var ti = 0
        var star = -1
        var mark = 0
        while ti < t.count {
            if pi < p.count, p[pi] != UInt8(ascii: "*"), p[pi] == t[ti] {
                pi += 1
                ti += 1
            } else if pi < p.count, p[pi] == UInt8(ascii: "*") {
                star = pi
                mark = ti
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                ti = mark
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }
}
