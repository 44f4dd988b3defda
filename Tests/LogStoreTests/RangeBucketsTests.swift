import Foundation
import Testing
import TestSupport

@testable import LogStore

/// Range buckets never lose a match: every value inside a range has a bucket token among the
/// range's cover, for numbers and dates alike, and the cover stays small.
@Suite("Range buckets")
struct RangeBucketsTests {
    static func number(_ r: inout SeededRandom) -> Double {
        switch Int.random(in: 0..<5, using: &r) {
        case 0: return Double(Int.random(in: -1000...1000, using: &r))
        case 1: return Double.random(in: -1e6...1e6, using: &r)
        case 2: return [0, -0.0, 1, -1, 500, 499.999, 1e300, -1e-300, 2e-308][Int.random(in: 0..<9, using: &r)]
        case 3: return Double(Int.random(in: 195...605, using: &r))
        default: return Double.random(in: -1...1, using: &r) * pow(10, Double(Int.random(in: -20...20, using: &r)))
        }
    }

    @Test func everyValueInARangeIsCovered() {
        var r = SeededRandom(seed: 0xB0C4E7)
        let path = Array("f".utf8)
        var largest = 0
        for _ in 0..<20_000 {
            let a = Self.number(&r)
            let b = Self.number(&r)
            let v = Self.number(&r)
            let (lo, hi) = (min(a, b), max(a, b))
            let lower = Bool.random(using: &r) ? nil : RangeBound(text: "", number: lo, date: 0, inclusive: true)
            let upper = Bool.random(using: &r) ? nil : RangeBound(text: "", number: hi, date: 0, inclusive: true)
            if lower == nil && upper == nil { continue }
            let cover = Set(RangeBuckets.number.cover(path, lo: lower.map { RangeBuckets.key($0.number!) } ?? 0, hi: upper.map { RangeBuckets.key($0.number!) } ?? .max))
            largest = max(largest, cover.count)
            let inside = (lower.map { v >= $0.number! } ?? true) && (upper.map { v <= $0.number! } ?? true)
            let hit = !cover.isDisjoint(with: RangeBuckets.number.tokens(path, key: RangeBuckets.key(v)))
            if inside { #expect(hit, "\(v) in \(lo)...\(hi) not covered") }
        }
        #expect(largest <= 4 * 30 + 16)
        // Dates: nanoseconds around now, ranges of seconds to years.
        for _ in 0..<20_000 {
            let base = Int64(1_727_136_000) * 1_000_000_000
            let span = Int64(pow(10, Double(Int.random(in: 0...17, using: &r))))
            let a = base + Int64.random(in: -span...span, using: &r)
            let b = a + Int64.random(in: 0...span, using: &r)
            let v = base + Int64.random(in: -span...span, using: &r)
            let cover = Set(RangeBuckets.date.cover(path, lo: RangeBuckets.key(a), hi: RangeBuckets.key(b)))
            #expect(cover.count <= 8 * 30 + 16)
            if v >= a && v <= b {
                #expect(!cover.isDisjoint(with: RangeBuckets.date.tokens(path, key: RangeBuckets.key(v))), "\(v) in \(a)...\(b)")
            }
        }
    }

    @Test func rangesWithTextBoundsAreNotBucketed() {
        let text = RangeBound(text: "abc", number: nil, date: nil, inclusive: true)
        let number = RangeBound(text: "5", number: 5, date: 5_000_000, inclusive: true)
        #expect(RangeBuckets.covering([], lower: text, upper: nil) == nil)
        #expect(RangeBuckets.covering([], lower: number, upper: text) == nil)
        #expect(RangeBuckets.covering([], lower: number, upper: nil) != nil)
    }
}
