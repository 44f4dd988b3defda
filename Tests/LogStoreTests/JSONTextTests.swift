import Foundation
import Testing

@testable import LogStore

@Suite("JSON text")
struct JSONTextTests {
    /// Strings of every length around the 8-byte steps, made of plain ASCII, quotes, backslashes,
    /// every control character, DEL and multi-byte UTF-8, come back unchanged through a JSON
    /// parser; and each escape-free run is copied as it is.
    @Test func stringsRoundTripThroughAJSONParser() throws {
        var rng = SystemRandomNumberGenerator()
        let pieces: [String] = ["a", "Z", "0", " ", "\"", "\\", "/", "é", "日", "🙂", "\u{7F}"] + (0..<32).map { String(UnicodeScalar(UInt8($0))) }
        // Up to the 8-byte steps, and around the 512-byte slices JSONText escapes at a time.
        for length in Array(0..<48) + [511, 512, 513, 1500] {
            for round in 0..<40 {
                // Mostly plain text (the fast path), sometimes a piece that needs an escape.
                let text = (0..<length).map { _ in
                    round % 4 == 0 || Int.random(in: 0..<10, using: &rng) > 0 ? "x" : pieces.randomElement(using: &rng)!
                }.joined()
                var json = JSONText()
                json.raw("[")
                var copy = text
                copy.withUTF8 { json.string(bytes: UnsafeRawBufferPointer($0)) }
                json.raw("]")
                let parsed = try JSONSerialization.jsonObject(with: Data(json.bytes)) as? [String]
                #expect(parsed == [text], "length \(length): \(text.debugDescription) → \(json.text)")
                if !text.contains(where: { $0 == "\"" || $0 == "\\" || $0.unicodeScalars.contains { $0.value < 0x20 } }) {
                    #expect(json.bytes == Array("[\"\(text)\"]".utf8))
                }
            }
        }
    }

    @Test func controlCharactersAreEscapedAsJSONRequires() {
        var json = JSONText()
        json.string("tab\there \"q\" back\\slash\nnew\u{01}end")
        #expect(json.text == #""tab\there \"q\" back\\slash\nnew\u0001end""#)
    }

    /// The raw-pointer writer of the read answers writes the same bytes as `JSONText`, within
    /// the room it says it needs.
    @Test func cursorWritesWhatJSONTextWrites() {
        var rng = SystemRandomNumberGenerator()
        let pieces: [String] = ["a", "\"", "\\", "\n", "\t", "\r", "é", "🙂", "\u{7F}", "\u{01}", "\u{1F}"]
        for length in 0..<40 {
            for _ in 0..<25 {
                let text = (0..<length).map { _ in Int.random(in: 0..<4, using: &rng) > 0 ? "x" : pieces.randomElement(using: &rng)! }.joined()
                let numbers: [Int64] = [0, 9, 10, -1, Int64.min, Int64.max, Int64.random(in: .min ... .max, using: &rng)]
                var expected = JSONText()
                expected.string(text)
                for n in numbers { expected.number(n) }
                expected.number(UInt64.max)
                let utf8 = Array(text.utf8)
                let room = JSONCursor.maxStringCount(utf8.count) + 21 * (numbers.count + 1)
                let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: room)
                defer { buffer.deallocate() }
                var cursor = JSONCursor(buffer)
                utf8.withUnsafeBytes { cursor.string($0) }
                for n in numbers { cursor.number(n) }
                cursor.number(UInt64.max)
                let written = cursor.position - buffer
                #expect(written <= room)
                #expect(Array(UnsafeBufferPointer(start: buffer, count: written)) == expected.bytes, "\(text.debugDescription)")
            }
        }
        // Every escaped byte at once: the most a string takes.
        let controls = [UInt8](repeating: 0x01, count: 10)
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: JSONCursor.maxStringCount(controls.count))
        defer { buffer.deallocate() }
        var cursor = JSONCursor(buffer)
        controls.withUnsafeBytes { cursor.string($0) }
        #expect(cursor.position - buffer == JSONCursor.maxStringCount(controls.count))
    }
}
