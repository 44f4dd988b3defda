import Foundation

/// Parses sizes such as `512MB`, `64MiB`, `2G`, `1048576` (decimal and binary units).
public enum ByteSize {
    /// ByteSize.parse returns the size in bytes, or nil when `text` is not a size or the size
    /// does not fit in an `Int` (so `Int(size)` never traps).
    public static func parse(_ text: String) -> UInt64? {
        let t = text.trimmingCharacters(in: .whitespaces).uppercased()
        let digits = t.prefix { $0.isNumber || $0 == "." }
        guard digits.count <= 40, let value = Double(digits), value.isFinite, value >= 0 else { return nil }
        let unit = t.dropFirst(digits.count).trimmingCharacters(in: .whitespaces)
        let multipliers: [String: Double] = [
            "": 1, "B": 1, "K": 1024, "KB": 1000, "KIB": 1024, "M": Double(1 << 20), "MB": 1e6, "MIB": Double(1 << 20),
            "G": Double(1 << 30), "GB": 1e9, "GIB": Double(1 << 30), "T": Double(1 << 40), "TB": 1e12, "TIB": Double(1 << 40),
        ]
        guard let m = multipliers[unit] else { return nil }
        let bytes = (value * m).rounded(.down)
        // 2^63 and above (or inf/NaN from a long run of digits) would trap in the conversions.
        guard bytes.isFinite, bytes < 9_223_372_036_854_775_808 else { return nil }
        return UInt64(bytes)
    }
}
