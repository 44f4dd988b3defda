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
/// ones cost a hash and a dictionary lookup. Requests that arrive with the same header while
/// its check runs (a client opening several connections at once) wait for that one check
/// instead of running the KDF each. Roles are read from the current file on every request, so
/// a changed role applies at once.
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
        /// The checks running now, by the SHA-256 of their `Authorization` value.
        var checking: [SHA256Digest: Task<AuthenticationResult, Never>] = [:]
        /// Counts the loads of the file: a check started before a reload is not remembered.
        var generation = 0
    }
    /// Guards the users, the file's signature and the cache of verified headers.
    let state = Mutex(State())
    /// How many credentials were checked by their hash (KDF or API key), cache hits not counted.
    let checks = Atomic<Int>(0)

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
                $0.generation += 1
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
    /// the KDF off the caller's thread, once for all the requests carrying the same value.
    public func authenticate(header: String) async -> AuthenticationResult {
        enum Step: Sendable {
            case known(UserRecord)
            case wait(Task<AuthenticationResult, Never>)
            case malformed
        }
        let digest = SHA256.hash(data: Array(header.utf8))
        let step: Step = state.withLock { s in
            if let user = s.verified[digest].flatMap({ s.users[$0] }) { return .known(user) }
            if let running = s.checking[digest] { return .wait(running) }
            guard let credentials = Credentials.parse(header) else { return .malformed }
            let generation = s.generation
            let task = Task { await self.verify(credentials, digest: digest, generation: generation) }
            s.checking[digest] = task
            return .wait(task)
        }
        switch step {
        case .known(let user): return .user(user)
        case .wait(let task): return await task.value
        case .malformed: return .malformed
        }
    }

    /// UserDirectory.verify runs the check of one `Authorization` value, remembers a success
    /// (unless the file was reloaded meanwhile) and ends the check's entry in `checking`.
    private func verify(_ credentials: Credentials, digest: SHA256Digest, generation: Int) async -> AuthenticationResult {
        let result = await check(credentials)
        state.withLock {
            $0.checking[digest] = nil
            guard case .user(let user) = result, $0.generation == generation else { return }
            if $0.verified.count >= Self.cacheLimit { $0.verified.removeAll(keepingCapacity: true) }
            $0.verified[digest] = user.name
        }
        return result
    }

    /// UserDirectory.check runs the KDF (or the API key's hash) for `credentials`.
    private func check(_ credentials: Credentials) async -> AuthenticationResult {
        checks.add(1, ordering: .relaxed)
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
        return ok ? .user(user) : .rejected(name: user.name)
    }

    /// A stored password no one has, verified for unknown names (default rounds).
    static let decoy = "pbkdf2-sha256$\(PasswordHash.defaultIterations)$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
}
