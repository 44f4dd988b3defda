import CShims
import Foundation
import Testing

/// A global the test changes: a writable segment (.data or .bss) that the release must keep.
nonisolated(unsafe) var releaseProbe = 0x5EED

/// `logstore_release_code_pages` (the server's memory releaser, every 2 s): the executable's
/// read-only pages leave the resident set, and the process runs on with its data intact.
@Suite("Code page release")
struct CodePageReleaseTests {
    struct Mapping {
        var perms: String
        var size: Int
        var rss: Int
    }

    /// This process's mappings of its own executable (/proc/self/smaps).
    func executableMappings() throws -> [Mapping] {
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let text = try String(contentsOfFile: "/proc/self/smaps", encoding: .utf8)
        var out: [Mapping] = []
        var current: Mapping?
        for row in text.split(separator: "\n") {
            let f = row.split(separator: " ", omittingEmptySubsequences: true)
            if let range = f.first, range.contains("-"), f.count >= 5, !range.hasSuffix(":") {
                if let c = current { out.append(c) }
                current = nil
                guard f.count >= 6, String(f[5...].joined(separator: " ")) == exe else { continue }
                let bounds = range.split(separator: "-").map { Int($0, radix: 16)! }
                current = Mapping(perms: String(f[1]), size: bounds[1] - bounds[0], rss: 0)
            } else if f.first == "Rss:", current != nil {
                current!.rss = Int(f[1])! * 1024
            }
        }
        if let c = current { out.append(c) }
        return out
    }

    @Test func releasesReadOnlyPagesAndKeepsData() throws {
        #if os(Linux)
        releaseProbe = Int(Date().timeIntervalSince1970)  // a value no file page holds
        let expected = releaseProbe
        let before = try executableMappings()
        let code = try #require(before.first { $0.perms == "r-xp" })
        #expect(code.rss > 0)

        let released = logstore_release_code_pages()
        let after = try executableMappings()

        // Every read-only mapping is covered (whole pages inside each segment).
        let readOnly = before.filter { $0.perms == "r-xp" || $0.perms == "r--p" }
        #expect(released >= code.size - 2 * 4096)
        #expect(released <= readOnly.reduce(0) { $0 + $1.size })
        // The code mapping lost most of its resident pages (other tests running in parallel
        // fault a few back in at once).
        let codeAfter = try #require(after.first { $0.perms == "r-xp" })
        #expect(codeAfter.rss < code.rss)
        // Writable data is untouched, and code keeps running from pages faulted back in.
        #expect(releaseProbe == expected)
        let words = (0..<1000).map { "line \($0)" }.joined(separator: " ").split(separator: " ")
        #expect(words.count == 2000)
        #expect(Dictionary(grouping: words, by: { $0.count }).keys.sorted() == [1, 2, 3, 4])
        #else
        #expect(logstore_release_code_pages() == 0)
        #endif
    }
}
