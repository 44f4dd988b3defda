/// Errors found while decoding stored bytes: the data on disk is not what was written.
public struct CorruptDataError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
