import Foundation

extension Writer {
    /// One block ready to store: its bytes, header and tokens.
    struct SealedBlock {
        var bytes: [UInt8]
        var header: BlockHeader
        var tokens: BlockTokens

        /// `lines` sorted by `(timestamp, LSN)`.
        init<Line: SealableLine>(lines: [Line], level: Int32, index: Bool) {
            (bytes, header) = BlockCodec.encodeSorted(lines, level: level)
            tokens = index ? BlockTokens(lines: lines) : BlockTokens()
        }
    }
}
