import Foundation

/// What `writeCompacted` wrote.
struct CompactedWrite {
    var blocks = 0
    var reencoded = 0
    /// Raw bytes (before compression) of the blocks re-encoded.
    var rawBytes = 0
    var blockBytes = 0
    var packs = 0
    /// Shared frames written (`SharedFrame.swift`).
    var frames = 0
    var runs = 0
    var runBytes = 0
    /// The stored size of the copy's preset dictionary (0 when it has none).
    var dictionaryBytes = 0
}
