import Foundation
import LogStore

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
    static func glob(_ pattern: String, _ text: String) -> Bool { Glob.matches(pattern, text) }
}
