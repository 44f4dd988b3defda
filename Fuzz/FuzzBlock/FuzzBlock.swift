import CZlib
import LogStore

/// FuzzBlock feeds libFuzzer's input to the block codec. The first byte picks the mode:
///
/// - even: the rest is lines (split at `\n`) encoded as a block, which must decode to the same
///   lines; then one byte of the encoded block, chosen by the input, is changed and the crc set
///   right, and that near-valid block must decode or throw `CorruptDataError`.
/// - odd: the rest is a stored block whose crc (bytes 52..<56) is set right first, so the
///   fuzzer reaches the header checks, the codecs and the column decoding.
/// - 2 modulo 4: the lines are cut into blocks of `1 + (mode >> 2) % 16` lines and stored as
///   one shared frame, whose blocks must decode to the same lines; then one byte of the frame
///   is changed and the crc set right, and it must decode or throw `CorruptDataError`.
///
/// A decoded block's lines must all be readable.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBlock(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard let mode = input.first else { return 0 }
    let rest = Array(input.dropFirst())
    if mode & 1 == 1 {
        decodeReadingEveryLine(withCorrectCRC(rest))
        return 0
    }
    if mode & 3 == 2 {
        fuzzFrame(rest, perBlock: 1 + Int(mode >> 2) % 16)
        return 0
    }
    let lines = rest.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).prefix(2000).enumerated().map { i, line in
        BlockLine(
            timestamp: 1_700_000_000_000_000_000 + Int64(i) * 1_000_003 + Int64(line.first ?? 0), lsn: LSN(i + 1),
            message: Array(line), fields: i % 3 == 0 ? Array(#"{"stream":"stdout"}"#.utf8) : Array("{}".utf8))
    }
    var encoded = BlockCodec.encode(lines, level: 1)
    guard let decoded = try? encoded.withUnsafeBytes({ try BlockCodec.decode($0) }) else {
        fatalError("a block of \(lines.count) lines does not decode")
    }
    guard decoded.count == lines.count, (0..<decoded.count).allSatisfy({ decoded.line($0) == lines[$0] }) else {
        fatalError("a block of \(lines.count) lines decodes to other lines")
    }
    if rest.count >= 3, !encoded.isEmpty {
        let position = (Int(rest[0]) << 8 | Int(rest[1])) % encoded.count
        encoded[position] ^= rest[rest.count - 1] | 1
        decodeReadingEveryLine(withCorrectCRC(encoded))
    }
    return 0
}

/// `bytes` with the crc at 52..<56 computed over bytes 0..<52 and the payload after 56.
func withCorrectCRC(_ bytes: [UInt8]) -> [UInt8] {
    guard bytes.count >= 56 else { return bytes }
    var out = bytes
    var crc = out.withUnsafeBufferPointer { crc32(0, $0.baseAddress, 52) }
    crc = out.withUnsafeBufferPointer { crc32(crc, $0.baseAddress.map { $0 + 56 }, UInt32($0.count - 56)) }
    for i in 0..<4 { out[52 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt(i))) }
    return out
}

/// Decodes `bytes` as a stored block, reading every line when it decodes.
func decodeReadingEveryLine(_ bytes: [UInt8]) {
    guard let block = try? bytes.withUnsafeBytes({ try BlockCodec.decode($0) }) else { return }
    for i in 0..<block.count { _ = block.line(i) }
}

/// The frame mode: `rest` as lines, `perBlock` lines a block, one frame.
func fuzzFrame(_ rest: [UInt8], perBlock: Int) {
    let lines = rest.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).prefix(2000).enumerated().map { i, line in
        BlockLine(
            timestamp: 1_700_000_000_000_000_000 + Int64(i) * 1_000_000 * Int64(line.first ?? 1), lsn: LSN(i + 1),
            message: Array(line), fields: i % 2 == 0 ? Array(#"{"stream":"stdout"}"#.utf8) : Array("{}".utf8))
    }
    let blocks = stride(from: 0, to: lines.count, by: perBlock).map { Array(lines[$0..<min($0 + perBlock, lines.count)]) }
    var (frame, firsts) = BlockCodec.encodeFrame(blocks, level: 1)
    guard let decoded = try? frame.withUnsafeBytes({ try BlockCodec.decodeFrame($0, firstLSNs: firsts) }) else {
        fatalError("a frame of \(blocks.count) blocks does not decode")
    }
    for (block, lines) in zip(decoded, blocks) {
        let sorted = lines.sorted { ($0.timestamp, $0.lsn) < ($1.timestamp, $1.lsn) }
        guard block.count == sorted.count, (0..<block.count).allSatisfy({ block.line($0) == sorted[$0] }) else {
            fatalError("a frame's block of \(lines.count) lines decodes to other lines")
        }
    }
    if rest.count >= 3 {
        let position = (Int(rest[0]) << 8 | Int(rest[1])) % frame.count
        frame[position] ^= rest[rest.count - 1] | 1
        let changed = withCorrectCRC(frame)
        guard let blocks = try? changed.withUnsafeBytes({ try BlockCodec.decodeFrame($0, firstLSNs: firsts) }) else { return }
        for block in blocks { for i in 0..<block.count { _ = block.line(i) } }
    }
}
