import Foundation
import Synchronization

/// The postings of blocks sealed since the last flush, in memory (one per segment). The writer
/// adds and flushes; readers look tokens up. Guarded by a mutex; lookups copy what they need.
/// Tokens live in one `TokenTable` (no allocation per token and block).
final class PendingIndex: Sendable {
    struct State {
        /// Block numbers whose tokens are here.
        var covered = Set<UInt32>()
        var tokens = TokenTable(capacity: 4096)
        /// Postings by token id, in block order.
        var postings: [[Posting]] = []
        var oldest: ContinuousClock.Instant?
        var newest: ContinuousClock.Instant?
        /// About the heap these postings hold (`approximateBytes`).
        var bytes = 0
        /// False for a day that keeps no token index (`Keys.metaUnindexed`): `add` does nothing.
        var accepts = true
    }

    /// A new token costs its bytes, its table slot and an array of its own; each posting its
    /// stride and the arrays' growth.
    static let bytesPerToken = 64
    static let bytesPerPosting = MemoryLayout<Posting>.stride * 3 / 2

    private let state: Mutex<State>

    /// `accepts`: false for a day that keeps no token index.
    init(accepts: Bool = true) {
        var s = State()
        s.accepts = accepts
        state = Mutex(s)
    }

    /// Whether `add` keeps tokens (the day is indexed).
    var accepts: Bool { state.withLock { $0.accepts } }

    /// The day is indexed from now on (writer thread, once `Keys.metaUnindexed` is gone).
    func acceptTokens() { state.withLock { $0.accepts = true } }

    /// Adds the tokens of block `number` (nothing for a day that keeps no token index). Writer
    /// thread, after the seal committed.
    func add(_ number: UInt32, _ tokens: BlockTokens) {
        state.withLock { s in
            if !s.accepts || !s.covered.insert(number).inserted { return }
            let now = ContinuousClock.now
            if s.oldest == nil { s.oldest = now }
            s.newest = now
            tokens.bytes.withUnsafeBytes { all in
                for i in 0..<tokens.count {
                    let token = UnsafeRawBufferPointer(rebasing: all[Int(tokens.starts[i])..<Int(tokens.starts[i + 1])])
                    let posting = Posting(block: number, count: tokens.counts[i], maxOffset: tokens.maxOffsets[i])
                    let (id, inserted) = s.tokens.insert(token, hash: tokens.hashes[i])
                    if inserted {
                        s.postings.append([posting])
                        s.bytes += token.count + Self.bytesPerToken
                    } else {
                        s.postings[id].append(posting)
                    }
                    s.bytes += Self.bytesPerPosting
                }
            }
        }
    }

    var blockCount: Int { state.withLock { $0.covered.count } }
    /// The blocks whose tokens are here.
    var coveredBlocks: Set<UInt32> { state.withLock { $0.covered } }
    /// About the bytes of memory the pending postings hold: varied text (numbers, addresses,
    /// ids) has many more distinct tokens per block than REANA's job logs.
    var approximateBytes: Int { state.withLock { $0.bytes } }
    var oldest: ContinuousClock.Instant? { state.withLock { $0.oldest } }
    var newest: ContinuousClock.Instant? { state.withLock { $0.newest } }

    /// Every pending token with its postings, tokens in byte order, and the highest block (for a flush).
    func snapshot() -> (entries: [(token: [UInt8], postings: [Posting])], top: UInt32?) {
        state.withLock { s in
            var entries: [(token: [UInt8], postings: [Posting])] = []
            entries.reserveCapacity(s.tokens.count)
            for id in 0..<s.tokens.count { entries.append((Array(s.tokens.token(id)), s.postings[id])) }
            entries.sort { $0.token.lexicographicallyPrecedes($1.token) }
            return (entries, s.covered.max())
        }
    }

    /// The pending tokens starting with `prefix`, with their postings.
    func entries(prefix: [UInt8]) -> [(token: [UInt8], postings: [Posting])] {
        state.withLock { s in
            var out: [(token: [UInt8], postings: [Posting])] = []
            for id in 0..<s.tokens.count where s.tokens.token(id).starts(with: prefix) { out.append((Array(s.tokens.token(id)), s.postings[id])) }
            return out
        }
    }

    /// Forgets everything (after a flush committed). Writer thread.
    func clear() {
        state.withLock { s in
            let accepts = s.accepts
            s = State()
            s.accepts = accepts
        }
    }

    /// The covered blocks and, for each token asked, its postings; for each prefix asked, the
    /// postings of every token starting with it.
    func view(tokens: Set<[UInt8]>, prefixes: Set<[UInt8]>) -> PendingView {
        state.withLock { s in
            var view = PendingView(covered: s.covered)
            if s.covered.isEmpty { return view }
            for token in tokens {
                view.tokens[token] = token.withUnsafeBytes { s.tokens.find($0) }.map { s.postings[$0] } ?? []
            }
            if !prefixes.isEmpty {
                for prefix in prefixes { view.prefixes[prefix] = [] }
                for id in 0..<s.tokens.count {
                    let token = s.tokens.token(id)
                    for prefix in prefixes where token.starts(with: prefix) { view.prefixes[prefix]!.append(contentsOf: s.postings[id]) }
                }
            }
            return view
        }
    }
}
