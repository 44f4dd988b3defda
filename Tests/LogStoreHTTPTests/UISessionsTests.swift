import Foundation
import LogStore
import Testing

@testable import LogStoreHTTP

@Suite("Web viewer sessions and files")
struct UISessionsTests {
    @Test func aSessionLivesUntilItsExpiryOrItsEnd() {
        let sessions = UISessions(lifetime: .seconds(60), limit: 10)
        let start = ContinuousClock.now
        let (token, session) = sessions.create(user: "viewer", passwordStamp: "stamp", now: start)
        #expect(session.user == "viewer" && session.csrf.count >= 40 && session.csrf != token)
        #expect(sessions.session(token, now: start + .seconds(59))?.user == "viewer")
        #expect(sessions.session(token, now: start + .seconds(60)) == nil)  // expired, and forgotten
        #expect(sessions.session(token, now: start) == nil)
        let (other, _) = sessions.create(user: "viewer", passwordStamp: nil, now: start)
        sessions.end(other)
        #expect(sessions.session(other, now: start) == nil)
        #expect(sessions.session("not-a-token", now: start) == nil)
    }

    @Test func tokensAreRandomAndOnlyTheirDigestIsKept() {
        let sessions = UISessions()
        let tokens = (0..<200).map { _ in sessions.create(user: "u", passwordStamp: nil).token }
        #expect(Set(tokens).count == 200)
        #expect(tokens.allSatisfy { $0.count == 43 && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" } })
        let keys = sessions.sessions.withLock { Set($0.keys) }
        #expect(keys.isDisjoint(with: tokens))
    }

    @Test func aFullStoreDropsTheSessionExpiringFirst() {
        let sessions = UISessions(lifetime: .seconds(60), limit: 3)
        let start = ContinuousClock.now
        let made = (0..<3).map { i in sessions.create(user: "u\(i)", passwordStamp: nil, now: start + .seconds(i)).token }
        let newest = sessions.create(user: "new", passwordStamp: nil, now: start + .seconds(5)).token
        #expect(sessions.session(made[0], now: start + .seconds(5)) == nil)
        #expect(made.dropFirst().allSatisfy { sessions.session($0, now: start + .seconds(5)) != nil })
        #expect(sessions.session(newest, now: start + .seconds(5))?.user == "new")
    }

    @Test(arguments: [
        ("logstore_session=abc", "abc"), ("a=1; logstore_session=abc; b=2", "abc"), ("logstore_session_x=1; b=2", nil),
        ("logstore_session=", nil), ("", nil),
    ] as [(String, String?)])
    func theCookieIsFoundInTheHeader(_ header: String, _ token: String?) {
        #expect(UISessions.token(cookieHeader: header) == token)
    }

    @Test func tokensCompareWhole() {
        #expect(UIMiddleware.equal("abc", "abc"))
        #expect(!UIMiddleware.equal("abc", "abd") && !UIMiddleware.equal("abc", "ab") && !UIMiddleware.equal("", "a"))
    }

    @Test func everyEmbeddedFileHasItsTypeTagAndGzipForm() throws {
        #expect(UIAsset.embedded.count >= 14)
        for (name, file) in UIAsset.embedded {
            #expect(!file.bytes.isEmpty, "\(name) is empty")
            #expect(file.contentType != "application/octet-stream", "\(name) has no type")
            #expect(file.etag.hasPrefix("\"") && file.etag.count == 34)
            #expect(try file.gzipped.withUnsafeBytes { try Compression.inflate($0, framing: .gzip, maxOutput: 1 << 20) } == file.bytes)
        }
        #expect(UIAsset.contentType(of: "app.js") == "text/javascript; charset=utf-8")
        #expect(UIAsset.named("../Package.swift", directory: nil) == nil)
        let html = try #require(UIAsset.embedded["index.html"])
        #expect(String(decoding: html.bytes, as: UTF8.self).contains("<script type=\"module\" src=\"app.js\">"))
    }
}
