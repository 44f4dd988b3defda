import LogStore
import LogStoreIngest
import Testing

@Suite struct ContentDecoderTests {
    let text = Array(String(repeating: "GET /api/v1/users 200 12ms café ✓\n", count: 500).utf8)

    @Test func gzipRoundTrip() throws {
        let z = Compression.gzip(text)
        #expect(z.count < text.count / 10)
        #expect(z.prefix(2) == [0x1F, 0x8B])
        #expect(try ContentDecoder.decode(z, encoding: "gzip", maxOutput: 1 << 20) == text)
        #expect(try ContentDecoder.decode(z, encoding: "GZip", maxOutput: 1 << 20) == text)
        #expect(try ContentDecoder.decode(z, encoding: "x-gzip", maxOutput: 1 << 20) == text)
        #expect(try ContentDecoder.decode([], encoding: "gzip", maxOutput: 10) == [])
    }

    @Test func concatenatedMembers() throws {
        let a = Array("first\n".utf8)
        let b = Array("second\n".utf8)
        let body = Compression.gzip(a) + Compression.gzip(b, level: 1)
        #expect(try ContentDecoder.decode(body, encoding: "gzip", maxOutput: 100) == a + b)
    }

    @Test func deflateWrappedAndRaw() throws {
        let zlib = Compression.deflate(text, framing: .zlib)
        #expect(try ContentDecoder.decode(zlib, encoding: "deflate", maxOutput: 1 << 20) == text)
        // Raw deflate = the zlib stream without its 2-byte header and 4-byte adler32 trailer.
        let raw = Array(zlib[2..<(zlib.count - 4)])
        #expect(try ContentDecoder.decode(raw, encoding: "deflate", maxOutput: 1 << 20) == text)
    }

    @Test func identity() throws {
        #expect(try ContentDecoder.decode(text, encoding: nil, maxOutput: 1 << 20) == text)
        #expect(try ContentDecoder.decode(text, encoding: "identity", maxOutput: 1 << 20) == text)
        #expect(throws: IngestError.tooLarge(limit: 10)) {
            try ContentDecoder.decode(text, encoding: nil, maxOutput: 10)
        }
        #expect(throws: IngestError.unsupportedEncoding("br")) {
            try ContentDecoder.decode(text, encoding: "br", maxOutput: 1 << 20)
        }
    }

    @Test func bombIsBounded() throws {
        let zeros = [UInt8](repeating: 0, count: 64 << 20)  // 64 MiB of zeros → ~64 KiB gzip
        let bomb = Compression.gzip(zeros, level: 9)
        #expect(bomb.count < 200_000)
        #expect(throws: IngestError.tooLarge(limit: 1 << 20)) {
            try ContentDecoder.decode(bomb, encoding: "gzip", maxOutput: 1 << 20)
        }
        let e = IngestError.tooLarge(limit: 1 << 20)
        #expect(e.description.contains("1048576"))
    }

    @Test func corruptAndTruncated() {
        let z = Compression.gzip(text)
        #expect(throws: IngestError.self) {
            try ContentDecoder.decode(Array(z.prefix(z.count / 2)), encoding: "gzip", maxOutput: 1 << 20)
        }
        var corrupt = z
        corrupt[20] ^= 0xFF
        corrupt[21] ^= 0xFF
        #expect(throws: IngestError.self) { try ContentDecoder.decode(corrupt, encoding: "gzip", maxOutput: 1 << 20) }
        #expect(throws: IngestError.self) {
            try ContentDecoder.decode(Array("not gzip".utf8), encoding: "gzip", maxOutput: 1 << 20)
        }
        #expect(throws: IngestError.self) {
            try ContentDecoder.decode(z + [1, 2, 3], encoding: "gzip", maxOutput: 1 << 20)
        }
    }
}
