extension UserDirectory {
    /// UserDirectory.user returns the current record of the user `name` (for a web session,
    /// whose roles and password are checked against the file in force at each request).
    func user(named name: String) -> UserRecord? {
        state.withLock { $0.users[name] }
    }
}
