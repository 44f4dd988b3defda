import CZlib
import Foundation
import Testing
import TestSupport
@testable import LogStore

/// `BlockCodec.timestamps` (only the payload's first column inflated) gives the timestamps the
/// whole decode gives, for stored and deflated blocks of every size, with a preset dictionary,
/// and refuses damaged blocks with an error.
@Suite("Block timestamp columns")
struct BlockTimestampsTests {
    static func lines(_ n: Int, _ g: inout SeededRandom) -> [BlockLine] {
        let start = Int64.random(in: -1_000_000_000_000...2_000_000_000_000_000_000, using: &g)
        let spread = [Int64(0), 1_000, 60_000_000_000, 86_400_000_000_000].randomElement(using: &g)!
        return (0..<n).map { i in
            BlockLine(
                timestamp: start + (spread == 0 ? 0 : Int64.random(in: 0...spread, using: &g)), lsn: LSN(1000 + i),
                message: Array("line \(i) \(String(repeating: "x", count: Int.random(in: 0...300, using: &g)))".utf8),
                fields: Array("{\"level\":\"L\(i % 3)\"}".utf8))
        }
    }

    @Test func prefixEqualsWholeDecode() throws {
        var g = SeededRandom(seed: 7)
        for round in 0..<60 {
            let n = [1, 2, 3, 10, 200, 1000, 4000].randomElement(using: &g)!
            let bytes = BlockCodec.encode(Self.lines(n, &g), level: Int32(round % 10))
            let whole = try bytes.withUnsafeBytes { try BlockCodec.decode($0) }
            let prefix = try bytes.withUnsafeBytes { try BlockCodec.timestamps($0) }
            #expect(prefix == whole.timestamps, "round \(round): \(n) lines, codec \(whole.header.codec)")
        }
    }

    /// Codec 3 (raw deflate with the day's preset dictionary): the prefix read needs the
    /// dictionary and then equals the block's timestamps.
    @Test func presetDictionary() throws {
        var g = SeededRandom(seed: 8)
        let lines = Self.lines(500, &g).sorted { ($0.timestamp, $0.lsn) < ($1.timestamp, $1.lsn) }
        // A block whose payload was deflated with a preset dictionary: its header from a
        // plain encode, its payload compressed again here.
        let plain = BlockCodec.encode(lines)
        let header = try plain.withUnsafeBytes { try BlockHeader(parsing: $0) }
        let payload = try plain.withUnsafeBytes { try BlockCodec.decode($0) }.payload
        let dictionary = Array("line 1 xxxxxxxxxxxxxxxx {\"level\":\"L1\"}".utf8)
        let stored = Self.deflate(payload, dictionary: dictionary, raw: true)
        var block = Array(plain[0..<BlockHeader.size])
        block[5] = 3
        withUnsafeBytes(of: UInt32(stored.count).littleEndian) { block.replaceSubrange(48..<52, with: $0) }
        block.append(contentsOf: stored)
        let decoded = try block.withUnsafeBytes { b in try dictionary.withUnsafeBytes { try BlockCodec.timestamps(b, dictionary: $0) } }
        #expect(decoded == lines.map(\.timestamp))
        #expect(header.count == 500)
        #expect(throws: CorruptDataError.self, "no dictionary") { _ = try block.withUnsafeBytes { try BlockCodec.timestamps($0) } }
    }

    @Test func damagedBlocksAreErrors() throws {
        var g = SeededRandom(seed: 9)
        let bytes = BlockCodec.encode(Self.lines(1000, &g))
        var refused = 0
        for cut in [BlockHeader.size + 1, BlockHeader.size + 10, BlockHeader.size + 40] {
            // Truncated: the header's payload size no longer matches.
            #expect(throws: CorruptDataError.self) { _ = try Array(bytes[0..<cut]).withUnsafeBytes { try BlockCodec.timestamps($0) } }
        }
        for i in 0..<200 {
            var damaged = bytes
            let at = BlockHeader.size + Int.random(in: 0..<min(64, bytes.count - BlockHeader.size), using: &g)
            damaged[at] ^= UInt8(1 << (i % 8))
            do {
                let t = try damaged.withUnsafeBytes { try BlockCodec.timestamps($0) }
                // Flipped bits that still inflate to a column spanning the header's range.
                #expect(t.count == 1000 && t.first! <= t.last!)
            } catch is CorruptDataError {
                refused += 1
            }
        }
        #expect(refused > 0)
    }

    /// `payload` deflated with a preset dictionary (raw deflate, or a zlib stream).
    static func deflate(_ payload: [UInt8], dictionary: [UInt8], raw: Bool) -> [UInt8] {
        var z = z_stream()
        precondition(deflateInit2_(&z, 6, Z_DEFLATED, raw ? -15 : 15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK)
        defer { deflateEnd(&z) }
        var dictionary = dictionary
        precondition(deflateSetDictionary(&z, &dictionary, UInt32(dictionary.count)) == Z_OK)
        var input = payload
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&z, UInt(payload.count))) + 64)
        let produced = input.withUnsafeMutableBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in
                z.next_in = i.baseAddress
                z.avail_in = UInt32(i.count)
                z.next_out = o.baseAddress
                z.avail_out = UInt32(o.count)
                precondition(CZlib.deflate(&z, Z_FINISH) == Z_STREAM_END)
                return o.count - Int(z.avail_out)
            }
        }
        return Array(out[0..<produced])
    }
}
