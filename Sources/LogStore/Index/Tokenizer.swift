/// Splits log text into the lowercased words that the full-text index stores and queries match.
///
/// The same tokenizer runs at index time (every message), at query time (every query word and
/// phrase) and in `QueryMatcher` (the exact check of a candidate line), so the three always agree.
///
/// Rules:
/// - A token is a maximal run of *word characters*: Unicode letters (general categories `L*`),
///   marks (`M*`, so decomposed accents and Indic vowel signs stay inside their word) and
///   numbers (`N*`). Everything else separates tokens: spaces, punctuation (`-`, `_`, `.`, `:`,
///   `/`, …), symbols, emoji, control characters, and every byte that is not part of valid UTF-8.
///   Invalid input never traps; its bad bytes just act as separators.
/// - Tokens are lowercased: ASCII by a branch-free fast path, other characters by their Unicode
///   lowercase mapping (`É` → `é`, `Я` → `я`, `İ` → `i̇`). No Unicode normalization is applied: a
///   precomposed `é` and `e` + U+0301 are different tokens (log producers almost always emit NFC).
/// - A token longer than `maxTokenBytes` (64) UTF-8 bytes, counted after lowercasing, is cut to
///   its longest prefix of whole code points that fits in 64 bytes, so it stays valid UTF-8. Why:
///   index keys stay small and bounded (LMDB keys are at most 511 bytes and short keys keep the
///   postings B+tree shallow); the long runs seen in logs are base64 blobs, hashes and minified
///   data that nobody types in full; and a search for a long word still finds it, because the
///   query word is cut the same way (at the price of also matching other words that share those
///   first 64 bytes, which is vanishingly rare).
/// - Empty tokens are never produced.
///
/// Examples: `reana-run-job-a02532f6` → `reana`, `run`, `job`, `a02532f6`; `OOMKilled` →
/// `oomkilled`; `10.0.0.1:9200` → `10`, `0`, `0`, `1`, `9200`; `Café_ÉTÉ` → `café`, `été`.
public enum Tokenizer {
    /// Longest token kept, in UTF-8 bytes (see the type's documentation for why).
    public static let maxTokenBytes = 64

    /// Calls `body` with each token of `bytes` (UTF-8, possibly invalid), lowercased, in order.
    ///
    /// The buffer passed to `body` is scratch space that is overwritten by the next token: it is
    /// only valid during the call. Nothing is allocated per token (the scratch space lives on the
    /// stack), and for ASCII text nothing is allocated at all.
    @inline(__always)
    public static func forEachToken(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
        scanTokens(bytes) { token in
            body(token)
            return true
        }
    }

    /// Like `forEachToken`, but stops as soon as `body` returns false.
    ///
    /// - Returns: false when `body` stopped the scan, true when every token was visited.
    @inline(__always) @discardableResult
    public static func scanTokens(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: scratchCapacity) { scratch in
            scan(bytes, scratch.baseAddress!, body)
        }
    }

    /// The tokens of `text`, lowercased, in order.
    public static func tokens(_ text: String) -> [String] {
        var text = text
        return text.withUTF8 { tokens(UnsafeRawBufferPointer($0)) }
    }

    /// The tokens of UTF-8 `bytes` (invalid sequences separate tokens), lowercased, in order.
    public static func tokens(_ bytes: some Collection<UInt8>) -> [String] {
        if let result = bytes.withContiguousStorageIfAvailable({ tokens(UnsafeRawBufferPointer($0)) }) {
            return result
        }
        return Array(bytes).withUnsafeBytes { tokens($0) }
    }

    static func tokens(_ bytes: UnsafeRawBufferPointer) -> [String] {
        var result: [String] = []
        forEachToken(bytes) { result.append(String(decoding: $0, as: UTF8.self)) }
        return result
    }

    /// True when `scalar` is a word character (letter, mark or number); false for separators.
    public static func isWordCharacter(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if v < 0x80 {
            return (v | 0x20) &- 0x61 < 26 || v &- 0x30 < 10
        }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
            .nonspacingMark, .spacingMark, .enclosingMark,
            .decimalNumber, .letterNumber, .otherNumber:
            return true
        default:
            return false
        }
    }

    /// True when every byte of `bytes` is ASCII (8 bytes at a time).
    @inline(__always)
    static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let n = bytes.count
        guard n > 0 else { return true }
        let base = bytes.baseAddress!
        var acc: UInt64 = 0
        var i = 0
        while i &+ 8 <= n {
            acc |= base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            i &+= 8
        }
        while i < n {
            acc |= UInt64(base.load(fromByteOffset: i, as: UInt8.self))
            i &+= 1
        }
        return acc & 0x8080_8080_8080_8080 == 0
    }

    /// For each ASCII byte: 0 for a separator, otherwise the byte as it appears in a token
    /// (letters lowercased, digits unchanged). Allocated once, never freed.
    nonisolated(unsafe) static let asciiTokenBytes: UnsafePointer<UInt8> = {
        let table = UnsafeMutablePointer<UInt8>.allocate(capacity: 128)
        for b in 0..<128 {
            let byte = UInt8(b)
            let lower = byte | 0x20
            table[b] = lower &- 0x61 < 26 ? lower : (byte &- 0x30 < 10 ? byte : 0)
        }
        return UnsafePointer(table)
    }()

    /// The tokens of ASCII-only `bytes` (check with `isASCII`), each with its FNV-1a hash
    /// (`TokenTable.hash`) computed while it is copied: the indexer's fast path, the same tokens
    /// as `forEachToken`. `out` has room for `scratchCapacity` bytes.
    @inline(__always)
    static func forEachASCIIToken<Sink: ASCIITokenSink>(
        _ bytes: UnsafeRawBufferPointer, _ out: UnsafeMutablePointer<UInt8>, _ sink: inout Sink
    ) {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        let table = asciiTokenBytes
        let end = bytes.count
        let basis: UInt32 = 2_166_136_261
        var hash = basis
        var len = 0
        var i = 0
        while i < end {
            let c = table[Int(base[i])]
            i &+= 1
            if c != 0 {
                if len < maxTokenBytes {
                    out[len] = c
                    len &+= 1
                    hash = (hash ^ UInt32(c)) &* 16_777_619
                }
            } else if len > 0 {
                sink.token(UnsafeRawBufferPointer(start: out, count: len), hash: hash)
                len = 0
                hash = basis
            }
        }
        if len > 0 { sink.token(UnsafeRawBufferPointer(start: out, count: len), hash: hash) }
    }

    // MARK: - Implementation

    /// Room for one token plus the widest lowercase mapping of one code point (3 scalars).
    static let scratchCapacity = maxTokenBytes + 16

    /// The scanning loop. `out` has room for `scratchCapacity` bytes.
    ///
    /// `len` is the token's length so far; `limit` is `maxTokenBytes` until a code point did not
    /// fit, then the length at which the token was cut, so that nothing after the cut (even a
    /// shorter code point) is appended.
    @inline(__always)
    static func scan(
        _ bytes: UnsafeRawBufferPointer, _ out: UnsafeMutablePointer<UInt8>,
        _ body: (UnsafeRawBufferPointer) -> Bool
    ) -> Bool {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return true }
        let end = bytes.count
        var i = 0
        var len = 0
        var limit = maxTokenBytes
        while i < end {
            let b = base[i]
            if b < 0x80 {
                let lower = b | 0x20
                if lower &- 0x61 < 26 {
                    if len < limit {
                        out[len] = lower
                        len &+= 1
                    }
                } else if b &- 0x30 < 10 {
                    if len < limit {
                        out[len] = b
                        len &+= 1
                    }
                } else if len > 0 {
                    if !body(UnsafeRawBufferPointer(start: out, count: len)) { return false }
                    len = 0
                    limit = maxTokenBytes
                }
                i &+= 1
                continue
            }
            // Non-ASCII: decode one code point; invalid bytes count as separators.
            let width = validSequenceLength(base, i, end)
            if width > 0 {
                let scalar = decode(base + i, width)
                if isWordCharacter(scalar) {
                    appendLowercased(scalar, base + i, width, out, &len, &limit)
                    i &+= width
                    continue
                }
                i &+= width
            } else {
                i &+= 1
            }
            if len > 0 {
                if !body(UnsafeRawBufferPointer(start: out, count: len)) { return false }
                len = 0
                limit = maxTokenBytes
            }
        }
        if len > 0 {
            return body(UnsafeRawBufferPointer(start: out, count: len))
        }
        return true
    }

    /// Length (2…4) of the well-formed UTF-8 sequence starting at `p[i]` (a byte ≥ 0x80), or 0
    /// when it is not one (stray continuation byte, overlong form, surrogate, > U+10FFFF,
    /// truncated sequence).
    @inline(__always)
    static func validSequenceLength(_ p: UnsafePointer<UInt8>, _ i: Int, _ end: Int) -> Int {
        @inline(__always) func cont(_ k: Int) -> Bool { p[k] & 0xC0 == 0x80 }
        let b0 = p[i]
        let available = end &- i
        switch b0 {
        case 0xC2...0xDF:
            return available >= 2 && cont(i + 1) ? 2 : 0
        case 0xE0...0xEF:
            guard available >= 3 else { return 0 }
            let b1 = p[i + 1]
            let ok: Bool
            switch b0 {
            case 0xE0: ok = b1 >= 0xA0 && b1 <= 0xBF
            case 0xED: ok = b1 >= 0x80 && b1 <= 0x9F
            default: ok = b1 & 0xC0 == 0x80
            }
            return ok && cont(i + 2) ? 3 : 0
        case 0xF0...0xF4:
            guard available >= 4 else { return 0 }
            let b1 = p[i + 1]
            let ok: Bool
            switch b0 {
            case 0xF0: ok = b1 >= 0x90 && b1 <= 0xBF
            case 0xF4: ok = b1 >= 0x80 && b1 <= 0x8F
            default: ok = b1 & 0xC0 == 0x80
            }
            return ok && cont(i + 2) && cont(i + 3) ? 4 : 0
        default:
            return 0
        }
    }

    /// Decodes a sequence already checked by `validSequenceLength`.
    @inline(__always)
    static func decode(_ p: UnsafePointer<UInt8>, _ width: Int) -> Unicode.Scalar {
        var v: UInt32
        switch width {
        case 2: v = UInt32(p[0] & 0x1F)
        case 3: v = UInt32(p[0] & 0x0F)
        default: v = UInt32(p[0] & 0x07)
        }
        for k in 1..<width { v = v << 6 | UInt32(p[k] & 0x3F) }
        return Unicode.Scalar(v).unsafelyUnwrapped
    }

    /// Appends the lowercase form of a non-ASCII word character, or cuts the token if it does not
    /// fit (see `scan`).
    @inline(never)
    static func appendLowercased(
        _ scalar: Unicode.Scalar, _ source: UnsafePointer<UInt8>, _ width: Int,
        _ out: UnsafeMutablePointer<UInt8>, _ len: inout Int, _ limit: inout Int
    ) {
        // Fast path for the common alphabets where lowercase is a fixed offset (Latin-1,
        // Greek, Cyrillic), which avoids the property lookups and the String of
        // `lowercaseMapping`.
        let v = scalar.value
        var simple: UInt32 = 0
        switch v {
        case 0xC0...0xDE where v != 0xD7, 0x391...0x3AB where v != 0x3A2, 0x410...0x42F: simple = v + 0x20
        case 0x400...0x40F: simple = v + 0x50
        case 0xDF...0xFF where v != 0xF7, 0x3AC...0x3CE, 0x430...0x45F: simple = v
        default: break
        }
        if simple != 0 {
            // All of these are 2 bytes in UTF-8, before and after.
            if len &+ 2 <= limit {
                out[len] = UInt8(truncatingIfNeeded: 0xC0 | simple >> 6)
                out[len &+ 1] = UInt8(truncatingIfNeeded: 0x80 | simple & 0x3F)
                len &+= 2
            } else {
                limit = len
            }
            return
        }
        if !scalar.properties.changesWhenLowercased {
            if len &+ width <= limit {
                (out + len).update(from: source, count: width)
                len &+= width
            } else {
                limit = len
            }
            return
        }
        for lower in scalar.properties.lowercaseMapping.unicodeScalars {
            let utf8 = UTF8.encode(lower)!
            if len &+ utf8.count > limit {
                limit = len
                return
            }
            for byte in utf8 {
                out[len] = byte
                len &+= 1
            }
        }
    }
}

/// Receives the tokens of `Tokenizer.forEachASCIIToken` with their hashes.
protocol ASCIITokenSink {
    mutating func token(_ token: UnsafeRawBufferPointer, hash: UInt32)
}
