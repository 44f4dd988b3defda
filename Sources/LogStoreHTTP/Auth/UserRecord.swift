/// UserRecord is one user of the users file: a name, roles, optionally the indices an ingest
/// user may write, the stored form of a password and of API keys (see `PasswordHash`).
public struct UserRecord: Sendable, Codable, Equatable {
    /// A name of letters, digits, `_`, `-` and `@` (no `:`, which ends the name in HTTP Basic,
    /// and no `.`, which ends it in an API key).
    public var name: String
    public var roles: [Permission]
    /// Index patterns (`fluentbit-*`) an `ingest` role may write; nil or empty: every index.
    public var indices: [String]?
    /// `pbkdf2-sha256$…`, or nil for a user with API keys only.
    public var password: String?
    /// `sha256$…` of each API key.
    public var keys: [String]?

    public init(name: String, roles: [Permission], indices: [String]? = nil, password: String? = nil, keys: [String]? = nil) {
        self.name = name
        self.roles = roles
        self.indices = indices
        self.password = password
        self.keys = keys
    }

    /// UserRecord.isValidName answers whether `name` can be a user's name.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.unicodeScalars.allSatisfy { ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || "_-@".unicodeScalars.contains($0) }
    }

    /// UserRecord.allows answers whether the user's roles grant what a route needs.
    public func allows(_ requirement: RouteRequirement) -> Bool {
        switch requirement {
        case .open, .authenticated: return true
        case .permission(let needed): return roles.contains { $0.grants(needed) }
        }
    }

    /// UserRecord.indexPermission is what the user may write: every index for an admin or
    /// an ingest role without patterns, else the patterns.
    public var indexPermission: IndexPermission {
        roles.contains(.admin) ? .any : IndexPermission(patterns: indices)
    }
}
