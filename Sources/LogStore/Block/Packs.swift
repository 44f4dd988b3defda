import Foundation

/// Packs: how compaction groups blocks into `packs` values.
enum Packs {
    /// Bytes of blocks per pack: large enough that the overflow-page rounding (≤ 4 KiB per pack)
    /// is negligible, small enough that a pack is written in one piece without a large buffer.
    static let target = 1 << 20
}
