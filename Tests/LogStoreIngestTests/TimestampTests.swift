import LogStore
import LogStoreIngest
import Testing

@Suite struct TimestampTests {
    // 2024-05-01T12:00:00Z
    let base: Int64 = 1_714_564_800 * 1_000_000_000

    @Test func rfc3339Forms() {
        #expect(Timestamp.parse("2024-05-01T12:00:00Z") == base)
        #expect(Timestamp.parse("2024-05-01T12:00:00.123Z") == base + 123_000_000)
        #expect(Timestamp.parse("2024-05-01T12:00:00.123456Z") == base + 123_456_000)
        #expect(Timestamp.parse("2024-05-01T12:00:00.123456789Z") == base + 123_456_789)
        #expect(Timestamp.parse("2024-05-01T12:00:00.1234567891234Z") == base + 123_456_789)
        #expect(Timestamp.parse("2024-05-01 12:00:00.123456") == base + 123_456_000)  // java_sql_timestamp
        #expect(Timestamp.parse("2024-05-01T12:00:00") == base)
        #expect(Timestamp.parse("2024-05-01t12:00:00z") == base)
        #expect(Timestamp.parse("2024-05-01T14:00:00+02:00") == base)
        #expect(Timestamp.parse("2024-05-01T14:00:00+0200") == base)
        #expect(Timestamp.parse("2024-05-01T14:00:00+02") == base)
        #expect(Timestamp.parse("2024-05-01T07:30:00.5-04:30") == base + 500_000_000)
        #expect(Timestamp.parse("2024-05-01T12:00Z") == base)
        #expect(Timestamp.parse("2024-05-01") == base - 12 * 3600 * 1_000_000_000)
        #expect(Timestamp.parse("1970-01-01T00:00:00Z") == 0)
        #expect(Timestamp.parse("1969-12-31T23:59:59.999Z") == -1_000_000)
        #expect(Timestamp.parse("2024-02-29T00:00:00Z") != nil)
    }

    @Test func rejectsBadDates() {
        for bad in [
            "", "2024", "2024-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "2024-05-01T24:00:00Z",
            "2024-05-01T12:60:00Z", "2024-05-01X12:00:00Z", "2024-05-01T12:00:00.Z", "2024-05-01T12:00:00Zjunk",
            "2024-05-01T12:00:00+2", "yesterday", "3000-01-01T00:00:00Z", "1500-01-01T00:00:00Z",
        ] {
            #expect(Timestamp.parse(bad) == nil, "\(bad)")
        }
    }

    @Test func epochNumbers() {
        #expect(Timestamp.parseNumber("1714564800.123457") == base + 123_457_000)
        #expect(Timestamp.parseNumber("1714564801.25") == base + 1_250_000_000)
        #expect(Timestamp.parseNumber("1714564804.0") == base + 4_000_000_000)
        #expect(Timestamp.parseNumber("1714564800") == base)
        #expect(Timestamp.parseNumber("1714564800123") == base + 123_000_000)  // ms
        #expect(Timestamp.parseNumber("1714564800123456") == base + 123_456_000)  // µs
        #expect(Timestamp.parseNumber("1714564800123456789") == base + 123_456_789)  // ns
        #expect(Timestamp.parseNumber("1.714564800123457e9") == base + 123_457_000)
        #expect(Timestamp.parseNumber("1.7145648001234570e+09") == base + 123_457_000)
        #expect(Timestamp.parseNumber("0") == 0)
        #expect(Timestamp.parseNumber("-1.5") == -1_500_000_000)
        #expect(Timestamp.parseNumber("abc") == nil)
        #expect(Timestamp.parseNumber("1e400") == nil)
    }

    @Test func format() {
        #expect(Timestamp.formatRFC3339(1_727_178_598_253_000_000) == "2024-09-24T11:49:58.253Z")
        #expect(Timestamp.formatRFC3339(base) == "2024-05-01T12:00:00.000Z")
        #expect(Timestamp.formatRFC3339(base + 123_456_000) == "2024-05-01T12:00:00.123456Z")
        #expect(Timestamp.formatRFC3339(base + 123_456_789) == "2024-05-01T12:00:00.123456789Z")
        #expect(Timestamp.formatRFC3339(base + 1) == "2024-05-01T12:00:00.000000001Z")
        #expect(Timestamp.formatRFC3339(0) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.formatRFC3339(-1_000_000) == "1969-12-31T23:59:59.999Z")
    }

    /// The writer that keeps the previous date writes exactly what `formatRFC3339` writes: runs
    /// within a day, across midnight, before the epoch, every fraction width, and the ends of
    /// the nanosecond range (years 1677 and 2262).
    @Test func cachedDateWriterMatchesFormat() {
        var writer = RFC3339Writer()
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        let day: Int64 = 86_400 * 1_000_000_000
        let starts: [Int64] = [base, base + day - 5_000_000_000, 0, -1, -day - 7, Int64.min / 2, Int64.max / 2]
        let buf = UnsafeMutablePointer<UInt8>.allocate(capacity: 32)
        defer { buf.deallocate() }
        for start in starts {
            var t = start
            for _ in 0..<2000 {
                let width = next() % 3
                let step = Int64(next() % 3_000) * (width == 0 ? 1_000_000 : width == 1 ? 1_000 : 1) + Int64(next() % 2)
                t += next() % 50 == 0 ? day / 3 : step
                let count = writer.write(t, to: buf)
                let got = String(decoding: UnsafeBufferPointer(start: buf, count: count), as: UTF8.self)
                #expect(got == Timestamp.formatRFC3339(t), "at \(t)")
                if got != Timestamp.formatRFC3339(t) { return }
            }
        }
    }

    @Test func roundTripAcrossYears() {
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<2000 {
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            // roughly 1900 ... 2185
            let nanos = Int64(bitPattern: x % 9_000_000_000_000_000_000) - 2_208_988_800_000_000_000
            let text = Timestamp.formatRFC3339(nanos)
            #expect(Timestamp.parse(text) == nanos, "\(text)")
        }
    }
}
