/// RouteRequirement is what a route asks of the caller before its handler runs.
public enum RouteRequirement: Sendable, Equatable, CustomStringConvertible {
    /// Open to anyone (`/health`).
    case open
    /// Any user with valid credentials (`GET /`, paths no route answers).
    case authenticated
    /// A user whose roles grant this permission.
    case permission(Permission)

    public var description: String {
        switch self {
        case .open: return "open"
        case .authenticated: return "authenticated"
        case .permission(let p): return p.rawValue
        }
    }
}
