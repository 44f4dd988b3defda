import LogStore

/// DeflatedPiece is bytes compressed once, to be copied into gzip members (`GzipWriter.append`).
struct DeflatedPiece: Sendable {
    let deflated: [UInt8]
    let crc: UInt32
    let length: Int

    var memorySize: Int { deflated.count + 48 }

    /// This piece followed by `next`: both end byte-aligned without a final block, so the bytes
    /// simply follow each other; the CRC-32 is combined.
    func joined(with next: DeflatedPiece) -> DeflatedPiece {
        DeflatedPiece(
            deflated: deflated + next.deflated,
            crc: Compression.crc32Combine(crc, next.crc, secondLength: next.length),
            length: length + next.length)
    }
}
