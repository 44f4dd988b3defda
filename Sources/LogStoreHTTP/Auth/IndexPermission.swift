/// IndexPermission is the set of indices a request may write: every index, or the names
/// matching one of a few patterns (`*` matches any run of characters, e.g. `fluentbit-*`).
///
/// The request context carries one; the bulk handler consults it for each item and answers a
/// per-item 403 for an index outside it (see `BulkResult.deny(outside:)`).
public struct IndexPermission: Sendable, Equatable {
    /// The patterns; nil means every index.
    public let patterns: [String]?

    /// IndexPermission.any allows every index.
    public static let any = IndexPermission(patterns: nil)

    /// IndexPermission.init keeps `patterns`; nil or an empty list allows every index.
    public init(patterns: [String]?) {
        self.patterns = (patterns?.isEmpty ?? true) ? nil : patterns
    }

    /// IndexPermission.allowsAll is true when no pattern limits the indices.
    public var allowsAll: Bool { patterns == nil }

    /// IndexPermission.allows answers whether `index` matches one of the patterns.
    public func allows(_ index: String) -> Bool {
        guard let patterns else { return true }
        return patterns.contains { Self.matches(Array(index.utf8)[...], Array($0.utf8)[...]) }
    }

    /// IndexPermission.matches is a glob match where `*` stands for any run of bytes.
    static func matches(_ name: ArraySlice<UInt8>, _ pattern: ArraySlice<UInt8>) -> Bool {
        guard let star = pattern.firstIndex(of: UInt8(ascii: "*")) else { return name == pattern }
        let head = pattern[..<star]
        guard name.count >= head.count, name.prefix(head.count).elementsEqual(head) else { return false }
        let restPattern = pattern[(star + 1)...]
        let rest = name.dropFirst(head.count)
        if restPattern.isEmpty { return true }
        var start = rest.startIndex
        while start <= rest.endIndex {
            if matches(rest[start...], restPattern) { return true }
            start += 1
        }
        return false
    }
}
