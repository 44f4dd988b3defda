import CZlib
import Foundation
import Synchronization

/// A day's preset dictionary (block codec 3): up to `maxSize` bytes of the day's own text that
/// deflate may refer back to from the first byte of every block, so a block of a few lines
/// does not pay for spelling out again what every other block of the day says.
///
/// Written once per compacted segment, in its meta table under `Keys.metaDictionary`:
/// ```
/// 0 framing u8 (0 stored, 2 raw deflate)   1 size u32 LE (the dictionary's bytes)
/// 5 crc32 u32 LE (of the dictionary)       9 the dictionary after the framing
/// ```
enum PresetDictionary {
    /// zlib's window is 32 KiB; deflate matches reach 262 bytes less than that.
    static let maxSize = 32 * 1024 - 262

    /// The meta-table value for `dictionary`.
    static func stored(_ dictionary: [UInt8]) -> [UInt8] {
        let deflated = Compression.deflate(dictionary, level: 9, framing: .raw)
        let (framing, body): (UInt8, [UInt8]) = deflated.count < dictionary.count ? (2, deflated) : (0, dictionary)
        var w = ByteWriter(capacity: 9 + body.count)
        w.u8(framing)
        w.u32LE(UInt32(dictionary.count))
        w.u32LE(dictionary.withUnsafeBytes { Compression.crc32($0) })
        w.append(body)
        return w.bytes
    }

    /// The dictionary a meta-table value holds; checks its size and crc.
    static func parse(_ value: UnsafeRawBufferPointer) throws(CorruptDataError) -> [UInt8] {
        var r = ByteReader(value)
        let framing = try r.u8()
        let size = Int(try r.u32LE())
        let crc = try r.u32LE()
        guard size <= 32 * 1024 else { throw CorruptDataError("preset dictionary of \(size) bytes") }
        let body = UnsafeRawBufferPointer(rebasing: value[9...])
        let dictionary: [UInt8]
        switch framing {
        case 0: dictionary = body.array
        case 2:
            do {
                dictionary = try Compression.inflate(body, expectedSize: size, raw: true)
            } catch {
                throw CorruptDataError("preset dictionary: \(error)")
            }
        default: throw CorruptDataError("preset dictionary framing \(framing)")
        }
        guard dictionary.count == size, dictionary.withUnsafeBytes({ Compression.crc32($0) }) == crc else {
            throw CorruptDataError("preset dictionary crc mismatch")
        }
        return dictionary
    }

    /// `input` as raw deflate at `level` with `dictionary` preset.
    static func deflate(_ input: UnsafeRawBufferPointer, dictionary: [UInt8], level: Int32) -> [UInt8] {
        var stream = z_stream()
        let rc = deflateInit2_(&stream, level, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        precondition(rc == Z_OK, "BUG: deflateInit2 failed: \(rc)")
        defer { deflateEnd(&stream) }
        let set = dictionary.withUnsafeBytes { d in
            deflateSetDictionary(&stream, d.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt32(d.count))
        }
        precondition(set == Z_OK, "BUG: deflateSetDictionary failed: \(set)")
        let bound = Int(deflateBound(&stream, UInt(input.count))) + 32
        return [UInt8](unsafeUninitializedCapacity: bound) { out, initialized in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
            stream.avail_in = UInt32(input.count)
            stream.next_out = out.baseAddress
            stream.avail_out = UInt32(out.count)
            let result = CZlib.deflate(&stream, Z_FINISH)
            precondition(result == Z_STREAM_END, "BUG: deflate with a bound-sized buffer did not finish: \(result)")
            initialized = Int(stream.total_out)
        }
    }

    /// Inflates raw deflate `input` written with `dictionary` preset; its output must be
    /// exactly `expectedSize` bytes.
    static func inflate(_ input: UnsafeRawBufferPointer, dictionary: [UInt8], expectedSize: Int) throws(CorruptDataError) -> [UInt8] {
        do {
            return try inflateWithZlib(input, dictionary: dictionary, expectedSize: expectedSize)
        } catch {
            throw CorruptDataError("inflate with the preset dictionary failed: \(error)")
        }
    }

    private static func inflateWithZlib(
        _ input: UnsafeRawBufferPointer, dictionary: [UInt8], expectedSize: Int
    ) throws(CompressionError) -> [UInt8] {
        try Compression.inflateExact(input, expectedSize: expectedSize, framing: .raw, dictionary: dictionary)
    }
}

/// The preset dictionary of one open segment, read from its meta table the first time a block
/// of codec 3 needs it and kept while the segment object lives (a compaction's next generation
/// is a new object with its own).
final class SegmentDictionary: Sendable {
    private enum State {
        case unread
        case none
        case loaded([UInt8])
    }

    private let env: LMDBEnvironment
    private let meta: LMDBTable
    private let state = Mutex<State>(.unread)

    init(env: LMDBEnvironment, meta: LMDBTable) {
        self.env = env
        self.meta = meta
    }

    /// The segment's dictionary, or nil when it has none.
    func bytes() throws(CorruptDataError) -> [UInt8]? {
        switch state.withLock({ $0 }) {
        case .loaded(let bytes): return bytes
        case .none: return nil
        case .unread: break
        }
        let found: [UInt8]?
        do {
            let (env, meta) = (self.env, self.meta)
            found = try env.read { txn in try txn.get(meta, Keys.metaDictionary).map { try PresetDictionary.parse($0) } }
        } catch let error as CorruptDataError {
            throw error
        } catch {
            throw CorruptDataError("preset dictionary unreadable: \(error)")
        }
        state.withLock { $0 = found.map { .loaded($0) } ?? .none }
        return found
    }
}

extension Keys {
    /// Meta key of a compacted segment's preset dictionary (`PresetDictionary`).
    static let metaDictionary: [UInt8] = Array("dictionary".utf8)
}
