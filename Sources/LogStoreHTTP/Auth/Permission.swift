/// Permission is what a route needs and what a role grants: `ingest` (bulk and FluentBit's
/// http output), `read` (search, logs, tail, streams, hits, stats, the OpenSearch read APIs),
/// `admin` (delete, compact, backup, user management).
///
/// A user's roles are permissions; `admin` grants every permission.
public enum Permission: String, Sendable, Codable, CaseIterable {
    case ingest
    case read
    case admin

    /// Permission.grants answers whether holding `self` allows a call that needs `needed`.
    public func grants(_ needed: Permission) -> Bool {
        self == needed || self == .admin
    }
}
