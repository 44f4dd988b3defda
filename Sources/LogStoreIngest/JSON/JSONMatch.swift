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
