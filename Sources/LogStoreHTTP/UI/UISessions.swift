import Crypto
import Foundation
import Synchronization

/// UISessions holds the web viewer's logins: an opaque random token (the `logstore_session`
/// cookie, HttpOnly, SameSite=Strict) → the user, when it expires, and the CSRF token that
/// every unsafe request made with the cookie must repeat in `X-CSRF-Token`.
///
/// Only the SHA-256 of a token is kept (a memory dump reveals no usable cookie). Sessions live
/// in memory: a restart signs everyone out. A session ends at its expiry, at logout, or when
/// the user's stored password changes or the user leaves the users file.
final class UISessions: Sendable {
    struct Session: Sendable {
        var user: String
        /// The user's stored password hash at login: a changed password ends the session.
        var passwordStamp: String?
        var csrf: String
        var expires: ContinuousClock.Instant
    }

    /// How long a session lasts after login.
    let lifetime: Duration
    /// At most this many sessions; the one expiring first is dropped for a new one.
    let limit: Int
    /// Guards the sessions by token digest.
    let sessions = Mutex([String: Session]())

    init(lifetime: Duration = .seconds(12 * 3600), limit: Int = 10_000) {
        self.lifetime = lifetime
        self.limit = limit
    }

    /// UISessions.create starts a session for `user`; returns its cookie token and CSRF token.
    func create(user: String, passwordStamp: String?, now: ContinuousClock.Instant = .now) -> (token: String, session: Session) {
        let token = Self.randomToken()
        let session = Session(user: user, passwordStamp: passwordStamp, csrf: Self.randomToken(), expires: now + lifetime)
        sessions.withLock { all in
            if all.count >= limit {
                all = all.filter { $0.value.expires > now }
                if all.count >= limit, let first = all.min(by: { $0.value.expires < $1.value.expires }) { all.removeValue(forKey: first.key) }
            }
            all[Self.digest(token)] = session
        }
        return (token, session)
    }

    /// UISessions.session returns the live session of a cookie token, nil when unknown or expired.
    func session(_ token: String, now: ContinuousClock.Instant = .now) -> Session? {
        let key = Self.digest(token)
        return sessions.withLock { all in
            guard let session = all[key] else { return nil }
            if session.expires <= now {
                all.removeValue(forKey: key)
                return nil
            }
            return session
        }
    }

    /// UISessions.end forgets a session (logout, or a user who changed).
    func end(_ token: String) {
        _ = sessions.withLock { $0.removeValue(forKey: Self.digest(token)) }
    }

    /// 32 random bytes from the system's generator, base64url without padding.
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func digest(_ token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// UISessions.cookieName is the session cookie's name.
    static let cookieName = "logstore_session"

    /// UISessions.token returns the session cookie's value in a `Cookie` header, if any.
    static func token(cookieHeader: String?) -> String? {
        guard let cookieHeader else { return nil }
        for part in cookieHeader.split(separator: ";") {
            let pair = part.trimmingCharacters(in: .whitespaces)
            guard pair.hasPrefix(cookieName + "=") else { continue }
            let value = pair.dropFirst(cookieName.count + 1)
            return value.isEmpty ? nil : String(value)
        }
        return nil
    }
}
