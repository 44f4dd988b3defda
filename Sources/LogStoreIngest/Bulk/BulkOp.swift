/// BulkOp is the operation of a bulk action line.
public enum BulkOp: String, Sendable, Equatable {
    case create, index, update, delete
}
