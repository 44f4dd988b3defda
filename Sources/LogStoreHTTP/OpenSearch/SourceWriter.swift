import Foundation
import LogStore
import LogStoreIngest

/// SourceWriter writes the `_source` of a hit from a materialized ``LogLine``: the path of hits
/// whose fields cannot be spliced as they are, and of `_source` filters.
enum SourceWriter {
    /// `,"_source":{…}` (or nothing for `_source: false`).
    static func writeSource(_ line: LogLine, filter: SourceFilter, into json: inout JSONText) {
        if StoredSource.isTemplate(line.fields) {
            // The document as sent.
            let document = StoredSource.source(fields: line.fields, message: line.message, timestamp: line.timestamp)
            switch filter {
            case .none:
                return
            case .all:
                json.raw(",\"_source\":")
                json.raw(document)
            case .filter(let includes, let excludes):
                let object = (try? JSONSerialization.jsonObject(with: Data(document.utf8))) as? [String: Any] ?? [:]
                let kept = filterSource(object, prefix: "", includes: includes, excludes: excludes)
                let data =
                    (try? JSONSerialization.data(withJSONObject: kept, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
                json.raw(",\"_source\":")
                json.raw([UInt8](data))
            }
            return
        }
        let splice = HitWriter.splicableFields(line.fields)
        switch filter {
        case .none:
            return
        case .all where splice != nil:
            json.raw(",\"_source\":{\"@timestamp\":")
            json.string(Timestamp.formatRFC3339(line.timestamp))
            json.raw(",\"log\":")
            json.string(line.message)
            if let body = splice ?? nil {
                json.raw(",")
                json.raw(body)
            }
            json.raw("}")
        default:
            let fields = line.fields
            var object = (try? JSONSerialization.jsonObject(with: Data(fields.utf8))) as? [String: Any] ?? [:]
            object["@timestamp"] = Timestamp.formatRFC3339(line.timestamp)
            object["log"] = line.message
            if case .filter(let includes, let excludes) = filter {
                object = filterSource(object, prefix: "", includes: includes, excludes: excludes)
            }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
            json.raw(",\"_source\":")
            json.raw([UInt8](data))
        }
    }

    /// Keeps the members whose dotted path an include pattern names (or lies under, or above),
    /// minus those an exclude pattern names.
    static func filterSource(_ object: [String: Any], prefix: String, includes: [String], excludes: [String]) -> [String: Any] {
        var out: [String: Any] = [:]
        for (key, value) in object {
            let path = prefix.isEmpty ? key : prefix + "." + key
            if excludes.contains(where: { IndexPattern.glob($0, path) }) { continue }
            let included = includes.isEmpty || includes.contains { IndexPattern.glob($0, path) || path.hasPrefix($0 + ".") }
            if included {
                if let child = value as? [String: Any], !excludes.isEmpty {
                    out[key] = filterSource(child, prefix: path, includes: [], excludes: excludes)
                } else {
                    out[key] = value
                }
            } else if let child = value as? [String: Any], includes.contains(where: { $0.hasPrefix(path + ".") || $0.hasPrefix("*") }) {
                let inner = filterSource(child, prefix: path, includes: includes, excludes: excludes)
                if !inner.isEmpty { out[key] = inner }
            }
        }
        return out
    }
}
