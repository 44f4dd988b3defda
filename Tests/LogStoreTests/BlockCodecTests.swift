import Foundation
import Testing
@testable import LogStore
import TestSupport

@Suite("Block codec")
struct BlockCodecTests {
    func roundTrip(_ lines: [BlockLine], level: Int32 = 6) throws -> DecodedBlock {
        let bytes = BlockCodec.encode(lines, level: level)
        return try bytes.withUnsafeBytes { try BlockCodec.decode($0) }
    }

    @Test func roundTripsUnicodeEmptyAndOrdering() throws {
        let lines = [
            BlockLine(timestamp: 30, lsn: 7, message: Array("café ✓ \t \"quoted\" \\ 日本語 🚀".utf8), fields: Array(#"{"a":"ü"}"#.utf8)),
            BlockLine(timestamp: 10, lsn: 9, message: [], fields: []),
            BlockLine(timestamp: 10, lsn: 3, message: Array("first".utf8), fields: Array("{}".utf8)),
            BlockLine(timestamp: -5, lsn: 100, message: Array("before the epoch".utf8), fields: Array("{}".utf8)),
        ]
        let decoded = try roundTrip(lines)
        #expect(decoded.count == 4)
        // Sorted by (timestamp, LSN).
        #expect(decoded.timestamps == [-5, 10, 10, 30])
        #expect(decoded.lsns == [100, 3, 9, 7])
        #expect(decoded.message(3) == "café ✓ \t \"quoted\" \\ 日本語 🚀")
        #expect(decoded.fields(3) == #"{"a":"ü"}"#)
        #expect(decoded.message(2) == "")
        #expect(decoded.fields(2) == "")
        #expect(decoded.header.minTimestamp == -5 && decoded.header.maxTimestamp == 30)
        #expect(decoded.header.firstLSN == 3 && decoded.header.lastLSN == 100)
    }

    @Test func roundTripsOneMegabyteLines() throws {
        var rng = SeededRandom(seed: 1)
        let big = (0..<(1 << 20)).map { _ in UInt8.random(in: 32...126, using: &rng) }
        let lines = (0..<3).map { BlockLine(timestamp: Int64($0), lsn: LSN($0 + 1), message: big, fields: Array("{}".utf8)) }
        let decoded = try roundTrip(lines)
        for i in 0..<3 { #expect(Array(decoded.messageBytes(i)) == big) }
    }

    @Test func compressesRepetitiveLogText() throws {
        let lines = (0..<1000).map {
            BlockLine(
                timestamp: Int64($0) * 1_000_000, lsn: LSN($0 + 1),
                message: Array("2024-09-24 11:49:56,979 | root | MainThread | INFO | Workflow step \($0) finished".utf8),
                fields: Array(#"{"kubernetes.labels.job-name":"reana-run-job-a02532f6"}"#.utf8))
        }
        let raw = lines.reduce(0) { $0 + $1.message.count + $1.fields.count }
        let bytes = BlockCodec.encode(lines)
        #expect(bytes.count * 10 < raw, "block \(bytes.count) bytes for \(raw) raw bytes")
        let decoded = try bytes.withUnsafeBytes { try BlockCodec.decode($0) }
        #expect((0..<1000).allSatisfy { decoded.line($0) == lines[$0] })
    }

    /// Compaction's re-encoding: the same lines and header ranges at another zlib level; a
    /// block too small to compress stays stored; a corrupt block is refused.
    @Test func recompressKeepsTheBlock() throws {
        let lines = (0..<500).map {
            BlockLine(timestamp: Int64($0 % 7) * 1_000, lsn: LSN($0 * 3 + 1), message: Array("step \($0 % 13) done in \($0)ms".utf8), fields: Array(#"{"k":"v"}"#.utf8))
        }
        let fast = BlockCodec.encode(lines, level: 1)
        let small = try fast.withUnsafeBytes { try BlockCodec.recompress($0, level: 9) }
        #expect(small.count <= fast.count)
        let a = try fast.withUnsafeBytes { try BlockCodec.decode($0) }
        let b = try small.withUnsafeBytes { try BlockCodec.decode($0) }
        #expect((0..<500).allSatisfy { a.line($0) == b.line($0) })
        #expect(a.header.firstLSN == b.header.firstLSN && a.header.lastLSN == b.header.lastLSN && a.header.count == b.header.count)
        #expect(a.header.minTimestamp == b.header.minTimestamp && a.header.maxTimestamp == b.header.maxTimestamp)
        let tiny = BlockCodec.encode([BlockLine(timestamp: 1, lsn: 1, message: Array("x".utf8), fields: [])])
        #expect(try tiny.withUnsafeBytes { try BlockCodec.recompress($0, level: 9) } == tiny)
        var bad = fast
        bad[BlockHeader.size + 5] ^= 0x10
        #expect(throws: CorruptDataError.self) { try bad.withUnsafeBytes { try BlockCodec.recompress($0, level: 9) } }
    }

    @Test func detectsCorruption() throws {
        let lines = (0..<100).map { BlockLine(timestamp: Int64($0), lsn: LSN($0 + 1), message: Array("line \($0) of the log".utf8), fields: Array("{}".utf8)) }
        let good = BlockCodec.encode(lines)
        // Flip one bit anywhere after the magic/version: the crc (or header check) must catch it.
        for position in [8, 20, 40, 52, BlockHeader.size + 3, good.count - 1] {
            var bad = good
            bad[position] ^= 0x04
            #expect(throws: CorruptDataError.self) { try bad.withUnsafeBytes { try BlockCodec.decode($0) } }
        }
        var truncated = good
        truncated.removeLast(10)
        #expect(throws: CorruptDataError.self) { try truncated.withUnsafeBytes { try BlockCodec.decode($0) } }
        var badMagic = good
        badMagic[0] = 0
        #expect(throws: CorruptDataError.self) { try badMagic.withUnsafeBytes { try BlockCodec.decode($0) } }
    }

    /// Blocks are written as raw deflate (codec 2); blocks of codec 1 (a zlib stream, written
    /// before) must still decode to the same lines.
    @Test func zlibStreamBlocksOfEarlierVersionsStillDecode() throws {
        let lines = (0..<300).map { i in
            BlockLine(timestamp: Int64(i), lsn: LSN(i + 1), message: Array("line \(i) of a job: step \(i % 7) done".utf8), fields: Array("{}".utf8))
        }
        let current = BlockCodec.encode(lines, level: 6)
        let header = try current.withUnsafeBytes { try BlockHeader(parsing: $0) }
        #expect(header.codec == 2)
        // Rebuild the same block as codec 1: zlib stream of the same payload, fresh crc.
        let payload = try current.withUnsafeBytes {
            try Compression.inflate(UnsafeRawBufferPointer(rebasing: $0[BlockHeader.size...]), expectedSize: header.rawSize, raw: true)
        }
        let zlib = payload.withUnsafeBytes { Compression.deflate($0, level: 6) }
        #expect(zlib.prefix(1) == [0x78])  // a zlib header, not raw deflate
        var old = Array(current[0..<BlockHeader.size])
        old[5] = 1
        withUnsafeBytes(of: UInt32(zlib.count).littleEndian) { old.replaceSubrange(48..<52, with: $0) }
        var crc = old.withUnsafeBytes { Compression.crc32(UnsafeRawBufferPointer(rebasing: $0[0..<52])) }
        crc = zlib.withUnsafeBytes { Compression.crc32($0, crc: crc) }
        withUnsafeBytes(of: crc.littleEndian) { old.replaceSubrange(52..<56, with: $0) }
        old += zlib
        let a = try current.withUnsafeBytes { try BlockCodec.decode($0) }
        let b = try old.withUnsafeBytes { try BlockCodec.decode($0) }
        #expect(b.header.codec == 1)
        #expect((0..<a.count).map { a.line($0) } == (0..<b.count).map { b.line($0) })
        #expect(b.count == 300 && b.message(299) == "line 299 of a job: step 5 done")
    }

    /// Version 2 keeps each distinct field value once: the lines come back with their own
    /// fields whatever the pattern (one value, all distinct, alternating, scattered repeats,
    /// empty), and a stream's repeated metadata no longer takes room per line.
    @Test func fieldValuesAreStoredOnceEach() throws {
        let pod = Array(#"{"kubernetes.labels.job-name":"reana-run-job-02922f87-9deb-4b2a-b884-8b4245108b79","kubernetes.labels.user-uuid":"1e2feb89"}"#.utf8)
        let patterns: [(String, (Int) -> [UInt8])] = [
            ("one value", { _ in pod }),
            ("all distinct", { i in Array(#"{"time":"\#(i)"}"#.utf8) }),
            ("alternating", { i in Array(#"{"stream":"\#(i % 2 == 0 ? "stdout" : "stderr")"}"#.utf8) }),
            ("scattered", { i in [pod, [], Array("{}".utf8), Array(#"{"x":1}"#.utf8)][(i * 7 + i / 3) % 4] }),
            ("empty", { _ in [] }),
        ]
        for (name, fields) in patterns {
            let lines = (0..<700).map { i in
                BlockLine(timestamp: Int64(i * 13 % 500), lsn: LSN(i + 1), message: Array("line \(i) of \(name)".utf8), fields: fields(i))
            }
            let decoded = try roundTrip(lines, level: 1)
            #expect(decoded.header.version == BlockHeader.version)
            let sorted = lines.sorted { $0.position < $1.position }
            #expect((0..<700).allSatisfy { decoded.line($0) == sorted[$0] }, "\(name)")
        }
        let lines = (0..<1000).map { i in BlockLine(timestamp: Int64(i), lsn: LSN(i + 1), message: Array("step \(i)".utf8), fields: pod) }
        let header = try BlockCodec.encode(lines, level: 1).withUnsafeBytes { try BlockHeader(parsing: $0) }
        let messages = lines.reduce(0) { $0 + $1.message.count }
        // Three columns of ~1–2 byte varints, the messages, one copy of the fields.
        #expect(header.rawSize < messages + pod.count + 6 * 1000, "raw payload \(header.rawSize) bytes")
    }

    /// Timestamps of any precision come back exactly, both from the whole block and from its
    /// timestamp column alone; the stored unit is the largest power of ten (up to a second)
    /// dividing every line's offset from the block's first time, found here by brute force.
    @Test func timestampsOfEveryPrecisionRoundTrip() throws {
        var random = SeededRandom(seed: 3)
        let precisions: [Int64] = [1, 7, 1_000, 1_000_000, 1_000_000_000, 60_000_000_000, 10]
        for trial in 0..<300 {
            let precision = precisions[trial % precisions.count]
            let count = 1 + Int(random.next() % 300)
            let base = Int64(bitPattern: random.next() % (1 << 62)) / precision * precision - (trial % 2 == 0 ? 0 : 1 << 61)
            var lines: [BlockLine] = []
            for i in 0..<count {
                var ts = base + Int64(random.next() % 86_400_000_000_000) / precision * precision
                // Now and then a line of finer precision than the rest.
                if trial % 5 == 4 && i == count / 2 { ts += 3 }
                lines.append(BlockLine(timestamp: ts, lsn: LSN(i + 1), message: Array("line \(i)".utf8), fields: []))
            }
            let bytes = BlockCodec.encode(lines, level: 1)
            let decoded = try bytes.withUnsafeBytes { try BlockCodec.decode($0) }
            let sorted = lines.sorted { $0.position < $1.position }
            #expect(decoded.timestamps == sorted.map(\.timestamp), "trial \(trial)")
            #expect(try bytes.withUnsafeBytes { try BlockCodec.timestamps($0) } == sorted.map(\.timestamp), "trial \(trial)")
            let first = sorted[0].timestamp
            let expected = (0..<BlockHeader.unitNanos.count).last { u in sorted.allSatisfy { ($0.timestamp - first) % BlockHeader.unitNanos[u] == 0 } }!
            #expect(Int(decoded.header.timeUnit) == expected, "trial \(trial)")
        }
        // Millisecond times a second apart take fewer payload bytes than nanosecond ones.
        let ms = (0..<500).map { BlockLine(timestamp: Int64($0) * 1_000_137_000, lsn: LSN($0 + 1), message: [], fields: []) }
        let ns = (0..<500).map { BlockLine(timestamp: Int64($0) * 1_000_137_001, lsn: LSN($0 + 1), message: [], fields: []) }
        let msHeader = try BlockCodec.encode(ms, level: 1).withUnsafeBytes { try BlockHeader(parsing: $0) }
        let nsHeader = try BlockCodec.encode(ns, level: 1).withUnsafeBytes { try BlockHeader(parsing: $0) }
        #expect(msHeader.timeUnit == 3 && nsHeader.timeUnit == 0 && msHeader.rawSize + 500 < nsHeader.rawSize)
    }

    /// A version 2 block (nanosecond deltas, the unit byte reserved) still decodes, and
    /// compaction's re-encoding writes it in the current version with the same lines.
    @Test func version2BlocksStillDecode() throws {
        let lines = (0..<200).map {
            BlockLine(timestamp: 1_700_000_000_000_000_000 + Int64($0) * 1_000_000, lsn: LSN($0 + 1), message: Array("v2 line \($0)".utf8), fields: Array("{}".utf8))
        }
        var bytes = BlockCodec.encode(lines, level: 1)
        #expect(try bytes.withUnsafeBytes { try BlockHeader(parsing: $0) }.timeUnit == 6)
        // Lines as version 2 wrote them: deltas in nanoseconds (every other time is odd, so
        // the unit is 1 ns and the payload is version 2's), byte 6 zero.
        let odd = lines.map { BlockLine(timestamp: $0.timestamp + Int64($0.lsn % 2), lsn: $0.lsn, message: $0.message, fields: $0.fields) }
        var v2 = BlockCodec.encodeSorted(odd, level: 1).bytes
        #expect(v2[6] == 0)
        v2[4] = 2
        let crc = v2.withUnsafeBytes { b in Compression.crc32(UnsafeRawBufferPointer(rebasing: b[BlockHeader.size...]), crc: Compression.crc32(UnsafeRawBufferPointer(rebasing: b[0..<52]))) }
        withUnsafeBytes(of: crc.littleEndian) { for i in 0..<4 { v2[52 + i] = $0[i] } }
        let old = try v2.withUnsafeBytes { try BlockCodec.decode($0) }
        #expect(old.header.version == 2 && old.header.timeUnit == 0)
        #expect(old.timestamps == odd.map(\.timestamp))
        let again = try v2.withUnsafeBytes { try BlockCodec.recompress($0, level: 9) }
        let current = try again.withUnsafeBytes { try BlockCodec.decode($0) }
        #expect(current.header.version == BlockHeader.version && (0..<200).allSatisfy { current.line($0) == old.line($0) })
        bytes[6] = 10
        #expect(throws: CorruptDataError.self, "a unit past 10^9 ns") { try bytes.withUnsafeBytes { try BlockCodec.decode($0) } }
    }

    /// A shared frame gives back each of its blocks' lines; a bit flipped anywhere in it is
    /// caught (by the crc, or by the header and member table checks) and never read as lines.
    @Test func sharedFramesRoundTripAndCatchCorruption() throws {
        var random = SeededRandom(seed: 11)
        var blocks: [[BlockLine]] = []
        for b in 0..<40 {
            var lines: [BlockLine] = []
            for i in 0..<(1 + Int(random.next() % 9)) {
                let jitter = Int64(random.next() % 3) * 1_000_000
                let timestamp: Int64 = 1_700_000_000_000_000_000 + Int64(b * 1000 + i) * 1_000_000 + jitter
                let message = Array("job \(b) line \(i) \(random.next() % 1000)".utf8)
                let fields = Array(#"{"kubernetes.labels.job-name":"job-\#(b)"}"#.utf8)
                lines.append(BlockLine(timestamp: timestamp, lsn: LSN(b * 100 + i + 1), message: message, fields: fields))
            }
            blocks.append(lines)
        }
        let (frame, firsts) = BlockCodec.encodeFrame(blocks)
        let decoded = try frame.withUnsafeBytes { try BlockCodec.decodeFrame($0, firstLSNs: firsts) }
        #expect(decoded.count == blocks.count)
        for (block, lines) in zip(decoded, blocks) {
            let sorted = lines.sorted { $0.position < $1.position }
            #expect((0..<block.count).map { block.line($0) } == sorted)
        }
        let separately = blocks.map { BlockCodec.encode($0, level: 9).count }.reduce(0, +)
        #expect(frame.count * 3 < separately, "one frame (\(frame.count) bytes) is far smaller than the blocks one by one (\(separately))")
        for position in stride(from: 0, to: frame.count, by: 7) {
            var bad = frame
            bad[position] ^= 0x04
            #expect(throws: CorruptDataError.self, "byte \(position)") { try bad.withUnsafeBytes { try BlockCodec.decodeFrame($0, firstLSNs: firsts) } }
        }
    }

    /// Blocks of version 1 (every line's fields stored in full) still decode to the same lines.
    @Test func version1BlocksStillDecode() throws {
        let lines = (0..<400).map { (i: Int) -> BlockLine in
            let fields: [UInt8] = i % 5 == 0 ? [] : Array("{\"n\":\(i % 3)}".utf8)
            return BlockLine(timestamp: Int64(i / 3), lsn: LSN(i + 1), message: Array("v1 line \(i)".utf8), fields: fields)
        }
        // The version 1 payload, written by hand as FORMAT.md described it.
        var payload = ByteWriter(capacity: 1 << 16)
        var previous: Int64 = 0
        for line in lines {
            payload.varint(UInt64(bitPattern: line.timestamp - previous))
            previous = line.timestamp
        }
        var previousLSN: Int64 = 1
        for line in lines {
            payload.zigzag(Int64(line.lsn) - previousLSN)
            previousLSN = Int64(line.lsn)
        }
        for line in lines { payload.varint(UInt64(line.message.count)) }
        for line in lines { payload.varint(UInt64(line.fields.count)) }
        for line in lines { payload.bytes += line.message }
        for line in lines { payload.bytes += line.fields }
        let stored = payload.bytes.withUnsafeBytes { Compression.deflate($0, level: 6, raw: true) }
        var block = ByteWriter(capacity: 1 << 16)
        block.append(BlockHeader.magic)
        block.u8(1)
        block.u8(2)
        block.u8(0)
        block.u8(0)
        block.u32LE(UInt32(lines.count))
        block.u32LE(UInt32(payload.bytes.count))
        block.u64LE(0)
        block.u64LE(UInt64(lines.last!.timestamp))
        block.u64LE(1)
        block.u64LE(400)
        block.u32LE(UInt32(stored.count))
        var crc = block.bytes.withUnsafeBytes { Compression.crc32($0) }
        crc = stored.withUnsafeBytes { Compression.crc32($0, crc: crc) }
        block.u32LE(crc)
        block.append(stored)
        let decoded = try block.bytes.withUnsafeBytes { try BlockCodec.decode($0) }
        #expect(decoded.header.version == 1)
        #expect((0..<400).allSatisfy { decoded.line($0) == lines[$0] })
        // Compaction's recompression rewrites it in the current layout: the same lines, header
        // and ranges, fewer bytes before the codec.
        let again = try block.bytes.withUnsafeBytes { try BlockCodec.recompress($0, level: 9) }
        let redecoded = try again.withUnsafeBytes { try BlockCodec.decode($0) }
        #expect(redecoded.header.version == BlockHeader.version)
        #expect((0..<400).allSatisfy { redecoded.line($0) == lines[$0] })
        #expect(redecoded.header.count == 400 && redecoded.header.firstLSN == 1 && redecoded.header.lastLSN == 400)
        #expect(redecoded.header.minTimestamp == 0 && redecoded.header.maxTimestamp == lines.last!.timestamp)
        #expect(redecoded.header.rawSize < decoded.header.rawSize)
    }

    /// A version 2 payload whose value numbers point past its values is refused, not read.
    @Test func fieldValueNumbersAreChecked() throws {
        // Two lines, two values; the second line's delta points at value 2 of 2.
        var payload = ByteWriter(capacity: 64)
        payload.varint(0)
        payload.varint(1)
        payload.zigzag(0)
        payload.zigzag(1)
        payload.varint(1)
        payload.varint(1)
        payload.varint(2)
        payload.varint(1)
        payload.varint(1)
        payload.zigzag(0)
        payload.zigzag(2)
        payload.bytes += Array("abAB".utf8)
        var block = ByteWriter(capacity: 128)
        block.append(BlockHeader.magic)
        block.u8(2)
        block.u8(0)
        block.u8(0)
        block.u8(0)
        block.u32LE(2)
        block.u32LE(UInt32(payload.bytes.count))
        block.u64LE(0)
        block.u64LE(1)
        block.u64LE(1)
        block.u64LE(2)
        block.u32LE(UInt32(payload.bytes.count))
        var crc = block.bytes.withUnsafeBytes { Compression.crc32($0) }
        crc = payload.bytes.withUnsafeBytes { Compression.crc32($0, crc: crc) }
        block.u32LE(crc)
        block.append(payload.bytes)
        #expect(throws: CorruptDataError.self) { try block.bytes.withUnsafeBytes { try BlockCodec.decode($0) } }
        // The same payload with the delta pointing at value 1 decodes.
        var good = block.bytes
        let deltaAt = BlockHeader.size + 10
        #expect(good[deltaAt] == 4)  // zig-zag of 2
        good[deltaAt] = 2  // zig-zag of 1
        var fixed = Array(good[0..<52])
        var crc2 = fixed.withUnsafeBytes { Compression.crc32($0) }
        crc2 = good[BlockHeader.size...].withUnsafeBytes { Compression.crc32($0, crc: crc2) }
        withUnsafeBytes(of: crc2.littleEndian) { fixed += $0 }
        fixed += good[BlockHeader.size...]
        let decoded = try fixed.withUnsafeBytes { try BlockCodec.decode($0) }
        #expect(decoded.message(0) == "a" && decoded.fields(0) == "A")
        #expect(decoded.message(1) == "b" && decoded.fields(1) == "B")
    }

    @Test func smallBlocksStayUncompressed() throws {
        let bytes = BlockCodec.encode([BlockLine(timestamp: 1, lsn: 1, message: Array("hi".utf8), fields: Array("{}".utf8))])
        let header = try bytes.withUnsafeBytes { try BlockHeader(parsing: $0) }
        #expect(header.codec == 0)
    }
}
