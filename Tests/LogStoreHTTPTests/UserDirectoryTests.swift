import Foundation
import LogStore
import Testing

@testable import LogStoreHTTP

@Suite("Users file checks")
struct UserDirectoryTests {
    static func basic(_ name: String, _ password: String) -> String {
        "Basic " + Data("\(name):\(password)".utf8).base64EncodedString()
    }

    @Test func concurrentRequestsWithTheSameCredentialsRunOneCheck() async throws {
        let path = try AuthTests.usersFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let users = try UserDirectory(path: path, logger: testLogger)
        let header = Self.basic("reana", "read-secret")
        let names = await withTaskGroup(of: String?.self) { group in
            for _ in 0..<32 {
                group.addTask {
                    if case .user(let user) = await users.authenticate(header: header) { return user.name }
                    return nil
                }
            }
            return await group.reduce(into: [String?]()) { $0.append($1) }
        }
        #expect(names == Array(repeating: "reana", count: 32))
        #expect(users.checks.load(ordering: .relaxed) == 1)
        // Remembered: no further check, until the file changes.
        _ = await users.authenticate(header: header)
        #expect(users.checks.load(ordering: .relaxed) == 1)
        #expect(users.state.withLock { $0.checking.isEmpty })

        // Wrong credentials are never remembered; each later attempt is checked again.
        let wrong = Self.basic("reana", "guess")
        for _ in 0..<3 {
            guard case .rejected(let name) = await users.authenticate(header: wrong) else {
                Issue.record("a wrong password was accepted")
                return
            }
            #expect(name == "reana")
        }
        #expect(users.checks.load(ordering: .relaxed) == 4)
        guard case .malformed = await users.authenticate(header: "Basic !!!") else {
            Issue.record("a malformed header was not refused as such")
            return
        }
        #expect(users.checks.load(ordering: .relaxed) == 4)

        // A changed file forgets what was verified.
        var file = try UsersFile.load(path)
        file.users.removeAll { $0.name == "loader" }
        try file.save(to: path)
        #expect(users.reloadIfChanged(force: true))
        guard case .user = await users.authenticate(header: header) else {
            Issue.record("the reader was refused after a reload")
            return
        }
        #expect(users.checks.load(ordering: .relaxed) == 5)
    }
}
