/// A bulk operation name.
public enum BulkOp: String, Sendable, Equatable {
    case create, index, update, delete
}
