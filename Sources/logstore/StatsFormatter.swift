import ArgumentParser
import Foundation
import LogStore

/// Renders `StoreStats` as a human-readable table.
enum StatsFormatter {
    static func bytes(_ n: some BinaryInteger) -> String {
        let v = Double(n)
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var x = v
        var u = 0
        while x >= 1024 && u < units.count - 1 {
            x /= 1024
            u += 1
        }
        return u == 0 ? "\(Int(v)) B" : String(format: "%.1f %@", x, units[u])
    }

    static func time(_ ns: Int64?) -> String {
        guard let ns else { return "-" }
        let date = Date(timeIntervalSince1970: Double(ns) / 1e9)
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: date)
    }

    static func pad(_ s: String, _ width: Int, left: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - s.count))
        return left ? s + fill : fill + s
    }

    static func render(_ s: StoreStats) -> String {
        var out = """
            data directory   \(s.directory) (format \(s.formatVersion))
            segments         \(s.segments.count)
            streams          \(s.streams)
            lines            \(s.lines)
            raw bytes        \(bytes(s.rawBytes))
            stored bytes     \(bytes(s.storedBytes)) (du -sb; lock files \(bytes(s.lockBytes)), pages in use \(bytes(s.usedBytes)), free \(bytes(s.freeBytes)), blocks \(bytes(s.blockBytes)), index \(bytes(s.indexBytes)))
            ratio            \(String(format: "%.3f", s.ratio)) (stored / raw)
            oldest line      \(time(s.oldest))
            newest line      \(time(s.newest))
            last LSN         \(s.lastLSN)

            """
        if !s.segments.isEmpty {
            out += "\n" + pad("segment", 12, left: true) + pad("on disk", 12) + pad("in use", 12) + pad("map", 12) + pad("free", 11) + pad("streams", 9)
                + pad("lines", 12) + pad("raw", 12) + pad("blocks", 9) + pad("index", 11) + pad("head", 8) + "  state\n"
            for seg in s.segments {
                out += pad(seg.name, 12, left: true) + pad(bytes(seg.diskBytes), 12) + pad(bytes(seg.usedBytes), 12)
                    + pad(bytes(seg.mapBytes), 12) + pad(bytes(seg.freeBytes), 11) + pad("\(seg.streams)", 9) + pad("\(seg.lines)", 12) + pad(bytes(seg.rawBytes), 12)
                    + pad("\(seg.blocks)", 9) + pad(bytes(seg.indexBytes), 11) + pad("\(seg.headLines)", 8) + "  \(seg.state)\(seg.tokenIndex ? "" : ", no token index")\n"
            }
        }
        return out
    }
}
