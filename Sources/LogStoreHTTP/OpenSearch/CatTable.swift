import Foundation
import Hummingbird
import LogStore

/// CatTable is a `_cat` answer: named columns of text values, written as OpenSearch writes
/// them — aligned text (`v` adds the header row, `h` picks and orders columns, `s` sorts) or
/// `format=json` (an array of objects of strings).
struct CatTable {
    var columns: [String]
    var rows: [[String]] = []

    /// The unit `bytes=` asks for (nil: human-readable).
    static func bytesUnit(_ request: Request) throws -> UInt64? {
        guard let unit = request.uri.queryParameters["bytes"] else { return nil }
        switch unit {
        case "b": return 1
        case "kb": return 1 << 10
        case "mb": return 1 << 20
        case "gb": return 1 << 30
        case "tb": return 1 << 40
        default: throw OpenSearchError.badRequest("bytes=\(unit) is not supported; use b, kb, mb, gb or tb")
        }
    }

    /// `bytes` as OpenSearch shows it: `512b`, `1.5kb`, `12mb` (one decimal, none when whole),
    /// or a whole number of `unit`.
    static func size(_ bytes: UInt64, unit: UInt64?) -> String {
        if let unit { return String(bytes / unit) }
        let units = ["b", "kb", "mb", "gb", "tb", "pb"]
        var value = Double(bytes)
        var k = 0
        while value >= 1024 && k < units.count - 1 {
            value /= 1024
            k += 1
        }
        if k == 0 { return "\(bytes)b" }
        let rounded = (value * 10).rounded() / 10
        let text = rounded == rounded.rounded() ? String(Int(rounded)) : String(format: "%.1f", rounded)
        return text + units[k]
    }

    /// The answer to `request`.
    func answer(_ request: Request) throws -> Response {
        let q = request.uri.queryParameters
        var picked = Array(columns.indices)
        if let h = q["h"], !h.isEmpty {
            picked = try h.split(separator: ",").map { name -> Int in
                let name = name.trimmingCharacters(in: .whitespaces)
                guard let i = columns.firstIndex(of: name) else {
                    throw OpenSearchError.badRequest("unknown column [\(name)]; columns: \(columns.joined(separator: ", "))")
                }
                return i
            }
        }
        var sorted = rows
        if let s = q["s"], !s.isEmpty {
            for key in s.split(separator: ",").reversed() {
                let parts = key.split(separator: ":")
                let name = String(parts[0])
                guard let i = columns.firstIndex(of: name) else {
                    throw OpenSearchError.badRequest("unable to sort by unknown column [\(name)]")
                }
                let descending = parts.count > 1 && parts[1] == "desc"
                sorted = sorted.enumerated().sorted { a, b in
                    let (x, y) = (a.element[i], b.element[i])
                    if x == y { return a.offset < b.offset }
                    let less = Int(x).flatMap { xi in Int(y).map { xi < $0 } } ?? (x < y)
                    return descending ? !less : less
                }.map(\.element)
            }
        }
        switch q["format"].map(String.init) {
        case "json":
            var json = JSONText(capacity: 64 + sorted.count * 200)
            json.raw("[")
            for (r, row) in sorted.enumerated() {
                if r > 0 { json.raw(",") }
                json.raw("{")
                for (k, i) in picked.enumerated() {
                    if k > 0 { json.raw(",") }
                    json.string(columns[i])
                    json.raw(":")
                    json.string(row[i])
                }
                json.raw("}")
            }
            json.raw("]")
            return JSONAnswer.answer(json.bytes, request: request)
        case nil, "text", "txt":
            var lines = sorted.map { row in picked.map { row[$0] } }
            if q["v"] != nil && q["v"] != "false" { lines.insert(picked.map { columns[$0] }, at: 0) }
            var widths = [Int](repeating: 0, count: picked.count)
            for line in lines { for (k, cell) in line.enumerated() { widths[k] = max(widths[k], cell.count) } }
            var text = ""
            for line in lines {
                var cells: [String] = []
                for (k, cell) in line.enumerated() {
                    cells.append(k == line.count - 1 ? cell : cell.padding(toLength: widths[k], withPad: " ", startingAt: 0))
                }
                text += cells.joined(separator: " ") + "\n"
            }
            var response = Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
            response.headers[.contentType] = "text/plain; charset=UTF-8"
            return response
        case let other?:
            throw OpenSearchError.badRequest("format=\(other) is not supported here; use json or text")
        }
    }
}
