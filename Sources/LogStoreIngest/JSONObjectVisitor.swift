/// The kind of a JSON value.
public enum JSONValueKind: Sendable, Equatable {
    case string, number, object, array, bool, null
}

/// One member of the scanned top-level object. Ranges are raw byte ranges into the scanned
/// buffer; `keyRange` and string `valueRange`s include their quotes.
public struct JSONMember: Sendable, Equatable {
    /// Position of the member in its object, from 0.
    public var index: Int
    /// Raw key text, quotes included.
    public var keyRange: Range<Int>
    /// Whether the key contains backslash escapes (then decode it before comparing).
    public var keyHasEscapes: Bool
    /// Raw value text exactly as received (strings with quotes, containers with their brackets).
    public var valueRange: Range<Int>
    /// The kind of the value.
    public var kind: JSONValueKind
}

/// A value found at one of the wanted dotted paths of a ``JSONPathSet``.
public struct JSONMatch: Sendable, Equatable {
    /// Index of the path in ``JSONPathSet/paths``.
    public var pathIndex: Int
    /// Raw value text (strings with quotes).
    public var valueRange: Range<Int>
    /// The kind of the value.
    public var kind: JSONValueKind
    /// For strings: whether the value contains backslash escapes.
    public var hasEscapes: Bool
    /// Set when the match is a member of the top-level object itself (not nested): its index.
    public var memberIndex: Int?
}

/// Receives what ``JSONScanner/scanObject(_:from:paths:maxDepth:visitor:)`` finds.
public protocol JSONObjectVisitor {
    /// Called for every member of the top-level object, in order, after its value was scanned.
    mutating func visitMember(_ member: JSONMember)
    /// Called for every value whose dotted key path is one of the wanted paths, at any depth.
    /// A top-level match is reported just before the ``visitMember(_:)`` of the same member.
    mutating func visitMatch(_ match: JSONMatch)
}
