/// Body formats of FluentBit's `http` output (and plain NDJSON senders).
public enum LineFormat: String, Sendable, Equatable, CaseIterable {
    /// One top-level array of objects (`Format json`); a lone object is accepted too.
    case json
    /// One object per line (`Format json_lines`, also plain NDJSON).
    case jsonLines = "json_lines"
    /// Objects back to back, optional whitespace between them (`Format json_stream`).
    case jsonStream = "json_stream"
    /// FluentBit msgpack events (`Format msgpack`), see ``MessagePackReader``.
    case msgpack

    /// The format for a request: `msgpack` when the content type says so (`application/msgpack`,
    /// `application/x-msgpack`), else guessed from the body with ``detect(_:)``.
    public static func detect(contentType: String?, body: [UInt8]) -> LineFormat {
        if let contentType, contentType.lowercased().contains("msgpack") { return .msgpack }
        return detect(body)
    }

    /// Guesses the format: `[` first → ``json``; else the first value is scanned and what follows
    /// it decides: another object on the same line → ``jsonStream``, otherwise ``jsonLines``.
    public static func detect(_ body: [UInt8]) -> LineFormat {
        body.withUnsafeBufferPointer { buf in
            let first = JSONScanner.skipWhitespace(buf, from: 0)
            if first < buf.count, buf[first] == 0x5B { return .json }
            guard let value = try? JSONScanner.scanValue(buf, from: first) else { return .jsonLines }
            let next = JSONScanner.skipWhitespace(buf, from: value.range.upperBound)
            if next < buf.count, !buf[value.range.upperBound..<next].contains(0x0A) { return .jsonStream }
            return .jsonLines
        }
    }
}
