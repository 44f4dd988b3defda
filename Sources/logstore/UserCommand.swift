import ArgumentParser
import Foundation
import LogStoreHTTP

/// `logstore user`: manages the users file `logstore serve --users` reads (and reloads when
/// it changes). The file is written with mode 0600.
struct UserCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Manage the users file: users, their roles and secrets.",
        discussion: """
            Roles: ingest (bulk and FluentBit's http output; --index limits it to index patterns), \
            read (searches, logs, tail, stats), admin (everything). A password is read from standard \
            input (a prompt on a terminal) unless --password is given.
            """,
        subcommands: [Add.self, Passwd.self, Key.self, Remove.self, List.self])

    /// Where the users file is, shared by every subcommand.
    struct FileOption: ParsableArguments {
        @Option(help: ArgumentHelp("Users file (env LOGSTORE_USERS).", valueName: "file"))
        var users: String = ProcessInfo.processInfo.environment["LOGSTORE_USERS"] ?? "users.json"

        func load(missingIsEmpty: Bool = false) throws -> UsersFile {
            do { return try UsersFile.load(users, missingIsEmpty: missingIsEmpty) } catch { throw ValidationError("\(error)") }
        }
    }

    /// `logstore user add NAME --role ROLE`.
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a user with a password.")
        @OptionGroup var file: FileOption
        @Argument(help: "Letters, digits, _, - and @.") var name: String
        @Option(help: "ingest, read or admin; repeat for several.") var role: [Permission] = []
        @Option(help: "Index pattern an ingest user may write (e.g. 'fluentbit-*'); repeat for several.") var index: [String] = []
        @Option(help: "The password (for scripts; otherwise read from standard input).") var password: String?

        func validate() throws {
            if !UserRecord.isValidName(name) { throw ValidationError("user name '\(name)' must be letters, digits, _, - or @ (at most 64)") }
            if role.isEmpty { throw ValidationError("give at least one --role (ingest, read, admin)") }
        }

        func run() throws {
            var users = try file.load(missingIsEmpty: true)
            if users.users.contains(where: { $0.name == name }) { throw ValidationError("user '\(name)' exists; use 'logstore user passwd'") }
            let secret = try password ?? readSecret(prompt: "Password for \(name): ")
            let record = UserRecord(name: name, roles: role, indices: index.isEmpty ? nil : index, password: try PasswordHash.make(password: secret))
            users.users.append(record)
            try users.save(to: file.users)
            print("added \(name) (\(role.map(\.rawValue).joined(separator: ", "))) to \(file.users)")
        }
    }

    /// `logstore user passwd NAME`.
    struct Passwd: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a user's password.")
        @OptionGroup var file: FileOption
        @Argument var name: String
        @Option(help: "The password (for scripts; otherwise read from standard input).") var password: String?

        func run() throws {
            var users = try file.load()
            guard let i = users.users.firstIndex(where: { $0.name == name }) else { throw ValidationError("no user '\(name)' in \(file.users)") }
            users.users[i].password = try PasswordHash.make(password: try password ?? readSecret(prompt: "New password for \(name): "))
            try users.save(to: file.users)
            print("password of \(name) changed")
        }
    }

    /// `logstore user key NAME`: prints a new bearer API key.
    struct Key: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an API key to a user and print it (send it as 'Authorization: Bearer KEY'; shown once).")
        @OptionGroup var file: FileOption
        @Argument var name: String

        func run() throws {
            var users = try file.load()
            guard let i = users.users.firstIndex(where: { $0.name == name }) else { throw ValidationError("no user '\(name)' in \(file.users)") }
            let key = PasswordHash.makeKey()
            users.users[i].keys = (users.users[i].keys ?? []) + [key.stored]
            try users.save(to: file.users)
            print("\(name).\(key.secret)")
        }
    }

    /// `logstore user remove NAME`.
    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a user.")
        @OptionGroup var file: FileOption
        @Argument var name: String

        func run() throws {
            var users = try file.load()
            guard users.users.contains(where: { $0.name == name }) else { throw ValidationError("no user '\(name)' in \(file.users)") }
            users.users.removeAll { $0.name == name }
            try users.save(to: file.users)
            print("removed \(name)")
        }
    }

    /// `logstore user list`.
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the users, their roles and index patterns.")
        @OptionGroup var file: FileOption

        func run() throws {
            for user in try file.load().users {
                let indices = user.indices.map { " indices=\($0.joined(separator: ","))" } ?? ""
                let keys = (user.keys?.count ?? 0) > 0 ? " keys=\(user.keys?.count ?? 0)" : ""
                print("\(user.name) roles=\(user.roles.map(\.rawValue).joined(separator: ","))\(indices)\(keys)")
            }
        }
    }
}

extension Permission: ExpressibleByArgument {}

/// readSecret reads a secret: with a prompt and no echo on a terminal, else the first line of
/// standard input.
///
/// - Throws: `ValidationError` for an empty secret.
func readSecret(prompt: String) throws -> String {
    var secret: String?
    if isatty(0) == 1, let typed = getpass(prompt) {
        secret = String(cString: typed)
    } else {
        secret = readLine(strippingNewline: true)
    }
    guard let secret, !secret.isEmpty else { throw ValidationError("empty password") }
    return secret
}
