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
