/// The kind of a JSON value.
public enum JSONValueKind: Sendable, Equatable {
    case string, number, object, array, bool, null
}
