import Crypto
import Foundation
import LogStore
import Logging
import Synchronization

/// UserDirectory is the live set of users: the users file, read again when it changes
/// (`reloadIfChanged`, called by `SecurityReloadService` and on SIGHUP), and the check of an
/// `Authorization` header against it.
///
/// A verified header is remembered (by its SHA-256, at most `cacheLimit`, forgotten when the
/// file changes), so only the first request with given credentials pays the slow KDF; later
/// ones cost a hash and a dictionary lookup. Roles are read from the current file on every
/// request, so a changed role applies at once.
public final class UserDirectory: Sendable {
    /// UserDirectory.path is the users file.
    public let path: String
    let logger: Logger
    static let cacheLimit = 4096

    struct State {
        var users: [String: UserRecord] = [:]
        var signature: FileSignature?
        /// SHA-256 of an `Authorization` value verified before → the user's name.
        var verified: [SHA256Digest: String] = [:]
    }
    /// Guards the users, the file's signature and the cache of verified headers.
    let state = Mutex(State())

    /// What identifies a version of the file without reading it.
    struct FileSignature: Equatable {
        var inode: UInt64
        var size: Int64
        var modified: Int64
    }

    /// UserDirectory.init reads the users file at `path`.
    ///
    /// - Throws: `UsersFile.UsersFileError` when it is missing or not valid.
    public init(path: String, logger: Logger) throws {
        self.path = path
        self.logger = logger
        let signature = Self.signature(path)
        let file = try UsersFile.load(path)
        state.withLock {
            $0.users = Dictionary(file.users.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            $0.signature = signature
        }
    }

    /// UserDirectory.count is the number of users.
    public var count: Int { state.withLock { $0.users.count } }

    /// UserDirectory.reloadIfChanged reads the file again when its inode, size or
    /// modification time changed (or always when `force`). A file that does not load keeps
    /// the users in force and is logged.
    ///
    /// - Returns: true when the users were replaced.
    @discardableResult
    public func reloadIfChanged(force: Bool = false) -> Bool {
        let signature = Self.signature(path)
        if !force, signature == state.withLock({ $0.signature }) { return false }
        do {
            let file = try UsersFile.load(path)
            state.withLock {
                $0.users = Dictionary(file.users.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
                $0.signature = signature
                $0.verified.removeAll()
            }
            logger.info("users file loaded", metadata: ["path": "\(path)", "users": "\(file.users.count)"])
            return true
        } catch {
            state.withLock { $0.signature = signature }
            logger.error("users file not reloaded; the previous users stay in force", metadata: ["error": "\(error)"])
            return false
        }
    }

    static func signature(_ path: String) -> FileSignature? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileSignature(
            inode: UInt64(info.st_ino), size: Int64(info.st_size),
            modified: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec))
    }

    /// AuthenticationResult is a header's outcome: the user, or why not.
    public enum AuthenticationResult: Sendable {
        case user(UserRecord)
        /// The header is not Basic or Bearer, or not well-formed.
        case malformed
        /// No such user, or a wrong password or key.
        case rejected(name: String)
    }

    /// UserDirectory.authenticate checks an `Authorization` header value. A cache miss runs
    /// the KDF off the caller's thread.
    public func authenticate(header: String) async -> AuthenticationResult {
        let digest = SHA256.hash(data: Array(header.utf8))
        if let user = state.withLock({ s in s.verified[digest].flatMap { s.users[$0] } }) { return .user(user) }
        guard let credentials = Credentials.parse(header) else { return .malformed }
        guard let user = state.withLock({ $0.users[credentials.name] }) else {
            // Spend the same time as for a known user, so names cannot be told apart.
            _ = try? await blocking { PasswordHash.verify(password: "", stored: Self.decoy) }
            return .rejected(name: credentials.name)
        }
        let ok: Bool
        switch credentials {
        case .basic(_, let password):
            guard let stored = user.password else { return .rejected(name: user.name) }
            ok = (try? await blocking { PasswordHash.verify(password: password, stored: stored) }) ?? false
        case .key(_, let secret):
            ok = (user.keys ?? []).contains { PasswordHash.verifyKey(secret: secret, stored: $0) }
        }
        guard ok else { return .rejected(name: user.name) }
        state.withLock {
            if $0.verified.count >= Self.cacheLimit { $0.verified.removeAll(keepingCapacity: true) }
            $0.verified[digest] = user.name
        }
        return .user(user)
    }

    /// A stored password no one has, verified for unknown names (default rounds).
    static let decoy = "pbkdf2-sha256$\(PasswordHash.defaultIterations)$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
}
