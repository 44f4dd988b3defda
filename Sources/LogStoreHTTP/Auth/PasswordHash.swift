import Crypto
import CryptoExtras
import Foundation

/// PasswordHash makes and checks the stored form of a secret.
///
/// Passwords: PBKDF2-HMAC-SHA256 with a random 16-byte salt and `defaultIterations` rounds,
/// stored as `pbkdf2-sha256$ROUNDS$SALT$HASH` (base64). API keys are 32 random bytes, so a
/// single SHA-256 is as strong as a slow KDF for them: `sha256$HEX`. Every comparison is in
/// constant time.
public enum PasswordHash {
    /// PasswordHash.defaultIterations is OWASP's 2023 figure for PBKDF2-HMAC-SHA256.
    public static let defaultIterations = 600_000
    /// PasswordHash.minimumIterations is the fewest rounds a stored hash may use (tests and
    /// small machines; `logstore user` always writes `defaultIterations`).
    static let minimumIterations = 1_000

    /// PasswordHash.make derives the stored form of `password` with a fresh salt.
    ///
    /// - Throws: when the KDF fails (it does not for these parameters).
    public static func make(password: String, iterations: Int = defaultIterations) throws -> String {
        var salt = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for i in salt.indices { salt[i] = UInt8.random(in: 0...255, using: &generator) }
        let hash = try derive(password, salt: salt, iterations: iterations)
        return "pbkdf2-sha256$\(iterations)$\(Data(salt).base64EncodedString())$\(Data(hash).base64EncodedString())"
    }

    /// PasswordHash.verify answers whether `password` is the secret `stored` was made from;
    /// false for a stored form it cannot read.
    public static func verify(password: String, stored: String) -> Bool {
        let parts = stored.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "pbkdf2-sha256", let iterations = Int(parts[1]), iterations >= minimumIterations,
            let salt = Data(base64Encoded: String(parts[2])), let expected = Data(base64Encoded: String(parts[3])), expected.count == 32,
            let hash = try? derive(password, salt: [UInt8](salt), iterations: iterations)
        else { return false }
        return constantTimeEqual(hash, [UInt8](expected))
    }

    /// PasswordHash.makeKey returns a new API key secret (43 base64url characters) and its
    /// stored form.
    public static func makeKey() -> (secret: String, stored: String) {
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255, using: &generator) }
        let secret = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return (secret, storedKey(secret))
    }

    /// PasswordHash.storedKey is the stored form of an API key secret.
    static func storedKey(_ secret: String) -> String {
        "sha256$" + SHA256.hash(data: Array(secret.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// PasswordHash.verifyKey answers whether `secret` matches the stored form of an API key.
    public static func verifyKey(secret: String, stored: String) -> Bool {
        constantTimeEqual(Array(storedKey(secret).utf8), Array(stored.utf8))
    }

    static func derive(_ password: String, salt: [UInt8], iterations: Int) throws -> [UInt8] {
        let key = try KDF.Insecure.PBKDF2.deriveKey(
            from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: 32, unsafeUncheckedRounds: iterations)
        return key.withUnsafeBytes { Array($0) }
    }

    /// PasswordHash.constantTimeEqual compares two byte strings in time that depends only on
    /// their lengths.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}
