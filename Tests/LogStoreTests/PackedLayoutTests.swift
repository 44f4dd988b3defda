import Foundation
import Testing
@testable import LogStore
import TestSupport

/// The compacted layout's pieces: packed postings runs and the quantized LSN bound.
@Suite("Packed postings runs and block pointers")
struct PackedLayoutTests {
    @Test func quantizedBoundIsAnUpperBoundAndTight() {
        for span in [0, 1, 2, 15, 16, 17, 999, 1000, 123_456] as [UInt64] {
            for offset in Set([0, 1, span / 3, span / 2, span &- 1, span].filter { $0 <= span }) {
                let q = Self.bucket(offset: offset, span: span)
                #expect(q <= 15)
                let p = Posting(block: 0, count: 1, maxOffset: Posting.quantizedFlag | q)
                let first: LSN = 1000
                let bound = p.maxLSN(firstLSN: first, lastLSN: first + span)
                #expect(bound >= first + offset, "span \(span) offset \(offset)")
                #expect(bound <= first + span)
                // Within one bucket (1/16 of the span, rounded up) of the truth.
                #expect(bound - (first + offset) <= (span + 1 + 15) / 16)
            }
        }
        let exact = Posting(block: 0, count: 1, maxOffset: 7)
        #expect(exact.maxLSN(firstLSN: 10, lastLSN: 100) == 17)
    }

    @Test func blockPointerRoundTripsAndBlocksAreNotPointers() throws {
        let pointer = BlockPointer(pack: 3, offset: 1_000_000, length: 4242)
        let bytes = pointer.encoded()
        #expect(bytes.count == BlockPointer.encodedSize)
        #expect(try bytes.withUnsafeBytes { try BlockPointer.decode($0) } == pointer)
        let block = BlockCodec.encode([BlockLine(timestamp: 1, lsn: 1, message: Array("x".utf8), fields: [])])
        #expect(try block.withUnsafeBytes { try BlockPointer.decode($0) } == nil)
    }

    @Test func aRunPointerOutsideItsPackIsRefusedNotMisread() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let env = try LMDBEnvironment(path: dir.path + "/runs.mdb", mapSize: 16 << 20)
        defer { env.close() }
        let table = try env.table("postruns")
        let packs = try env.table("packs")
        try env.write { txn in
            try txn.put(packs, Keys.u32(0), [UInt8](repeating: 1, count: 3000))
            try txn.put(table, Array("a".utf8), PostingRuns.pointer(pack: 0, offset: 2000, length: 1001))
            try txn.put(table, Array("b".utf8), PostingRuns.pointer(pack: 4, offset: 0, length: 10))
            try txn.put(table, Array("c".utf8), PostingRuns.pointer(pack: 0, offset: 0, length: 10) + [0])
        }
        try env.read { txn in
            for token in ["a", "b", "c"] {
                #expect(throws: CorruptDataError.self, "\(token)") { try PostingRuns.lookup(txn, table, packs: packs, token: Array(token.utf8)) }
            }
        }
    }

    /// Thousands of tokens over many runs: tokens found with exactly their postings, every
    /// prefix (including ones before the first and after the last token) yields exactly the
    /// tokens that start with it. In runs as written now (counts packed with the block delta,
    /// the LSN bound the block's last) and as written before (`count << 4 | q`), stored in the
    /// `postruns` values or (`inPacks`) in packs the values point into.
    @Test(arguments: [(false, false), (true, false), (false, true)])
    func lookupsAndPrefixScansMatchTheEntries(formerRuns: Bool, inPacks: Bool) throws {
        var rng = SeededRandom(seed: 7)
        let alphabet = Array("abcdez019_.".utf8)
        var entries: [[UInt8]: [Posting]] = [:]
        while entries.count < 6000 {
            let token = (0..<Int.random(in: 1...12, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            var block: UInt32 = 0
            var postings: [Posting] = []
            for _ in 0..<Int.random(in: 1...40, using: &rng) {
                block += UInt32.random(in: 1...500, using: &rng)
                let count = Bool.random(using: &rng) ? UInt32.random(in: 1...9, using: &rng) : UInt32.random(in: 1...100_000, using: &rng)
                postings.append(Posting(block: block, count: count, maxOffset: UInt64.random(in: 0...15, using: &rng)))
            }
            entries[token] = postings
        }
        let sorted = entries.keys.sorted { $0.lexicographicallyPrecedes($1) }
        let runs: [([UInt8], [UInt8])]
        if formerRuns {
            runs = Self.formerRuns(sorted.map { ($0, entries[$0]!) })
        } else {
            var builder = PostingRuns.Builder(level: 6)
            for token in sorted { try builder.add(token, entries[token]!) }
            try builder.flush()
            runs = builder.runs
        }
        #expect(runs.count > 5)

        let dir = TempDirectory()
        defer { dir.cleanup() }
        let env = try LMDBEnvironment(path: dir.path + "/runs.mdb", mapSize: 64 << 20)
        defer { env.close() }
        let table = try env.table("postruns")
        let packs = try env.table("packs")
        try env.write { txn in
            // Two packs after a pack 0 of other bytes, the runs split between them.
            var pack: [UInt8] = Array(repeating: 7, count: 100)
            var number: UInt32 = 1
            try txn.put(packs, Keys.u32(0), pack)
            pack = []
            for (i, (k, v)) in runs.enumerated() {
                guard inPacks else {
                    try txn.put(table, k, v, append: true)
                    continue
                }
                try txn.put(table, k, PostingRuns.pointer(pack: number, offset: pack.count, length: v.count), append: true)
                pack += v
                if i == runs.count / 2 {
                    try txn.put(packs, Keys.u32(number), pack)
                    number += 1
                    pack = []
                }
            }
            if inPacks { try txn.put(packs, Keys.u32(number), pack) }
        }
        // Runs written now keep no bucket: the bound is the block's last LSN (bucket 15).
        func quantized(_ ps: [Posting]) -> [Posting] {
            ps.map { Posting(block: $0.block, count: $0.count, maxOffset: Posting.quantizedFlag | (formerRuns ? $0.maxOffset : 15)) }
        }
        try env.read { txn in
            // The first and last token of every run, and a sample of the others (a debug build
            // inflates a run per lookup).
            var probes = Set(runs.map(\.0))
            for (i, token) in sorted.enumerated() where i % 15 == 0 || i == sorted.count - 1 { probes.insert(token) }
            // The last token of every run: the one just before the next run's first token.
            for run in runs.dropFirst() {
                if let j = sorted.firstIndex(of: run.0), j > 0 { probes.insert(sorted[j - 1]) }
            }
            for token in probes {
                #expect(try PostingRuns.lookup(txn, table, packs: packs, token: token) == quantized(entries[token]!))
            }
            for missing in [[UInt8(ascii: "A")], Array("zzzzzzzzzzzzzz".utf8), Array("abq".utf8), Array("0".utf8) + [0xFF]] {
                #expect(try PostingRuns.lookup(txn, table, packs: packs, token: missing).isEmpty)
            }
            var prefixes: [[UInt8]] = [[UInt8(ascii: "A")], Array("zzzzzzzzzzzzzz".utf8), [UInt8(ascii: "z")]]
            for _ in 0..<60 {
                let token = sorted.randomElement(using: &rng)!
                prefixes.append(Array(token.prefix(Int.random(in: 1...min(3, token.count), using: &rng))))
            }
            for prefix in prefixes {
                var got: [Posting] = []
                try PostingRuns.scan(txn, table, packs: packs, prefix: prefix) { got += $0 }
                let want = sorted.filter { $0.starts(with: prefix) }.flatMap { quantized(entries[$0]!) }
                #expect(got == want, "prefix \(String(decoding: prefix, as: UTF8.self))")
            }
        }
    }

    /// The 4-bit bucket runs written before held: ⌊16·offset/(span+1)⌋ of the highest matching
    /// LSN's offset within the block's LSN span (last − first).
    static func bucket(offset: UInt64, span: UInt64) -> UInt64 {
        min(15, (min(offset, span) << 4) / (span &+ 1))
    }

    /// Runs as written before counts were packed with the block delta: varint raw size, zlib
    /// stream; per posting varint delta and varint `count << 4 | q`; cut at ~32 KiB raw.
    static func formerRuns(_ entries: [([UInt8], [Posting])]) -> [([UInt8], [UInt8])] {
        var runs: [([UInt8], [UInt8])] = []
        var raw = ByteWriter(capacity: 40_000)
        var first: [UInt8]?
        var previous: [UInt8] = []
        func flush() {
            guard let start = first else { return }
            var w = ByteWriter(capacity: raw.bytes.count)
            w.varint(UInt64(raw.bytes.count))
            w.append(raw.bytes.withUnsafeBytes { Compression.deflate($0, level: 6) })
            runs.append((start, w.bytes))
            raw.bytes.removeAll()
            first = nil
            previous = []
        }
        for (token, postings) in entries {
            if first == nil { first = token }
            PostingRuns.appendEntryHead(token, after: previous, postings: postings.count, into: &raw)
            var prev: UInt32 = 0
            for p in postings {
                raw.varint(UInt64(p.block - prev))
                raw.varint(UInt64(p.count) << 4 | (p.maxOffset & 15))
                prev = p.block
            }
            previous = token
            if raw.bytes.count >= 32 * 1024 { flush() }
        }
        flush()
        return runs
    }
}
