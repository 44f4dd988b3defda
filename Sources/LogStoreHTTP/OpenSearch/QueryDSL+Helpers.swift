import Foundation
import LogStore
import LogStoreIngest

/// Helpers of the query DSL's translation: field specs, values and error shapes.
extension QueryDSL {
    /// `{"field": spec}` (plus ignorable options) → the field and its spec.
    static func singleField(_ body: Any, path: String, ignoring: Set<String> = []) throws(OpenSearchError) -> (String, Any) {
        guard let object = body as? [String: Any] else { throw parsingError("[\(path)] must be an object {\"<field>\": …}") }
        let fields = object.filter { !ignoring.contains($0.key) }
        guard fields.count == 1, let (field, spec) = fields.first else {
            throw parsingError("[\(path)] must name exactly one field, found \(fields.count)")
        }
        return (field, spec)
    }

    /// A JSON string, number or boolean as text.
    static func scalarString(_ value: Any) -> String? {
        if let s = value as? String { return s }
        if let n = value as? NSNumber {
            if isBool(n) { return n.boolValue ? "true" : "false" }
            return n.stringValue
        }
        return nil
    }

    static func isBool(_ n: NSNumber) -> Bool {
        let type = String(cString: n.objCType)
        return type == "c" || type == "B"
    }

    /// A non-negative integer from a JSON number or a numeric string.
    static func int(_ value: Any) -> Int? {
        if let s = value as? String { return Int(s) }
        if let n = value as? NSNumber, !isBool(n) {
            let d = n.doubleValue
            guard d.rounded() == d, abs(d) < 1e15 else { return nil }
            return Int(d)
        }
        return nil
    }

    /// A date bound: an ISO 8601 / RFC 3339 text, or epoch milliseconds (number or digits).
    static func nanoseconds(_ value: Any) -> Int64? {
        if let s = value as? String {
            if !s.isEmpty, s.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-") }), let ms = Int64(s) {
                return millisToNanos(ms)
            }
            return Timestamp.parse(s)
        }
        if let n = value as? NSNumber, !isBool(n) {
            let d = n.doubleValue
            // Integral milliseconds in exact integer arithmetic (a Double loses nanoseconds).
            if d.rounded() == d, abs(d) < 9e15 { return millisToNanos(n.int64Value) }
            return millisToNanos(d)
        }
        return nil
    }

    static func millisToNanos(_ ms: Int64) -> Int64? {
        let (ns, overflow) = ms.multipliedReportingOverflow(by: 1_000_000)
        return overflow ? nil : ns
    }

    static func millisToNanos(_ ms: Double) -> Int64? {
        let ns = ms * 1_000_000
        guard ns.isFinite, abs(ns) < 9.2e18 else { return nil }
        return Int64(ns.rounded())
    }

    static func hasText(_ query: Query) -> Bool {
        switch query {
        case .all, .field: return false
        case .term, .prefix, .phrase, .doc, .lsns: return true
        case .and(let qs), .or(let qs): return qs.contains { hasText($0) }
        case .not(let q): return hasText(q)
        }
    }
}
