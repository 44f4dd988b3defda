/// Glob matching shared by index patterns, retention policies and field-name patterns.
public enum Glob {
    /// Whether `text` matches `pattern`: `star` matches any run of elements, `single` (when
    /// given) exactly one, every other element itself. Iterative, backtracking to the last star.
    @inlinable
    public static func matches<E: Equatable>(_ pattern: [E], _ text: [E], star: E, single: E? = nil) -> Bool {
        var p = 0
        var t = 0
        var lastStar = -1
        var mark = 0
        while t < text.count {
            if p < pattern.count, pattern[p] == star {
                lastStar = p
                mark = t
                p += 1
            } else if p < pattern.count, pattern[p] == single || pattern[p] == text[t] {
                p += 1
                t += 1
            } else if lastStar >= 0 {
                p = lastStar + 1
                mark += 1
                t = mark
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == star { p += 1 }
        return p == pattern.count
    }

    /// Whether the UTF-8 bytes of `text` match `pattern`, where `*` matches any run of bytes
    /// and everything else matches literally.
    public static func matches(_ pattern: String, _ text: String) -> Bool {
        matches(Array(pattern.utf8), Array(text.utf8), star: UInt8(ascii: "*"))
    }
}
