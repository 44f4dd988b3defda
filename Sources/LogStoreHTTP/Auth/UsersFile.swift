import Foundation

/// UsersFile reads and writes the users file: JSON `{"users":[UserRecord…]}`, written
/// atomically (a new file renamed over the old) with mode 0600 whatever the umask.
public struct UsersFile: Sendable, Codable, Equatable {
    public var users: [UserRecord]

    public init(users: [UserRecord] = []) {
        self.users = users
    }

    /// UsersFileError says which file and what is wrong with it.
    public struct UsersFileError: Error, CustomStringConvertible {
        public let description: String
    }

    /// UsersFile.load reads `path`; a missing file is an empty list when `missingIsEmpty`.
    ///
    /// - Throws: `UsersFileError` for an unreadable file, bad JSON, a bad name or a duplicate.
    public static func load(_ path: String, missingIsEmpty: Bool = false) throws -> UsersFile {
        if missingIsEmpty && !FileManager.default.fileExists(atPath: path) { return UsersFile() }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw UsersFileError(description: "cannot read users file \(path): \(error.localizedDescription)")
        }
        let file: UsersFile
        do { file = try JSONDecoder().decode(UsersFile.self, from: data) } catch {
            throw UsersFileError(description: "users file \(path) is not valid: \(error)")
        }
        var seen = Set<String>()
        for user in file.users {
            guard UserRecord.isValidName(user.name) else { throw UsersFileError(description: "users file \(path): bad user name '\(user.name)'") }
            guard seen.insert(user.name).inserted else { throw UsersFileError(description: "users file \(path): user '\(user.name)' twice") }
        }
        return file
    }

    /// UsersFile.save writes the file to `path` with mode 0600: a temporary file in the same
    /// directory, synced, then renamed over `path`.
    public func save(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let bytes = [UInt8](try encoder.encode(self)) + [0x0A]
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw UsersFileError(description: "cannot write \(temporary): \(String(cString: strerror(errno)))") }
        var ok = fchmod(fd, 0o600) == 0
        var written = 0
        while ok && written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { ok = false } else { written += n }
        }
        ok = ok && fsync(fd) == 0
        close(fd)
        guard ok, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw UsersFileError(description: "cannot write \(path): \(reason)")
        }
    }
}
