/// NameLimits holds the longest index name, workflow, job and `_id` a document may carry, and
/// checks them before anything is stored, so every name fits every LMDB key it becomes (LMDB
/// keys are at most 511 bytes):
/// - a stream key is encoded as three length-prefixed strings (`Keys.encodeStreamKey`: a
///   varint length of 1–2 bytes before each part), kept within one key so that a table may be
///   keyed by it (the catalog's `stream_keys` was);
/// - a deleted workflow is a key of its own (the workflow id);
/// - a bulk `_id` is stored as `index 0x00 id` (`Keys.documentID`).
///
/// The parts have limits of their own, and the three together at most ``streamKey`` bytes
/// (500 + 6 length bytes ≤ 511).
public enum NameLimits {
    /// Longest index name: OpenSearch's 255 bytes.
    public static let index = 255
    /// Longest workflow (REANA's are 36-byte UUIDs; the Kubernetes fallback uses the
    /// namespace, at most 63).
    public static let workflow = 255
    /// Longest job (REANA's job names are ~50 bytes; the Kubernetes fallback `pod/container`
    /// is at most 253 + 1 + 63).
    public static let job = 400
    /// Longest index + workflow + job together.
    public static let streamKey = 500
    /// Longest `_id`: OpenSearch's 512 bytes, less what the index name and its separator take
    /// of a 511-byte key.
    public static func documentID(index: String) -> Int { min(512, 510 - index.utf8.count) }
    /// Longest field name (a member name of the document's top-level object): the names are
    /// kept in the stored fields, so a bound keeps one document's overhead bounded.
    public static let fieldName = 1024

    /// NameLimits.checkStream throws ``IngestError/nameTooLong(what:length:limit:)`` naming the
    /// first of `index`, `workflow` and `job` (byte counts) over its limit, or the stream key
    /// when the three together are.
    public static func checkStream(index: Int, workflow: Int, job: Int) throws(IngestError) {
        if index > Self.index { throw .nameTooLong(what: "the index name", length: index, limit: Self.index) }
        if workflow > Self.workflow { throw .nameTooLong(what: "the workflow", length: workflow, limit: Self.workflow) }
        if job > Self.job { throw .nameTooLong(what: "the job", length: job, limit: Self.job) }
        let total = index + workflow + job
        if total > streamKey { throw .nameTooLong(what: "the stream key (index + workflow + job)", length: total, limit: streamKey) }
    }

    /// NameLimits.checkIndexName throws ``IngestError/invalidIndexName(name:reason:)`` for a
    /// name OpenSearch refuses on write: empty, uppercase, holding one of
    /// `, * ? " < > | \ / space #` or `:`, starting with `_`, `-` or `+`, `.` or `..`, or over
    /// 255 bytes.
    public static func checkIndexName(_ name: String) throws(IngestError) {
        let bytes = name.utf8
        if bytes.isEmpty { throw .invalidIndexName(name: name, reason: "must not be empty") }
        if bytes.count > index {
            throw .invalidIndexName(name: name, reason: "index name is too long, (\(bytes.count) > \(index))")
        }
        if name == "." || name == ".." { throw .invalidIndexName(name: name, reason: "must not be '.' or '..'") }
        if let first = bytes.first, first == UInt8(ascii: "_") || first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            throw .invalidIndexName(name: name, reason: "must not start with '_', '-', or '+'")
        }
        for byte in bytes {
            if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { throw .invalidIndexName(name: name, reason: "must be lowercase") }
            if forbidden.contains(byte) {
                throw .invalidIndexName(
                    name: name, reason: "must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?, #, :]")
            }
        }
        if name != name.lowercased() { throw .invalidIndexName(name: name, reason: "must be lowercase") }
    }

    /// Bytes an index name must not hold (OpenSearch's `INVALID_FILENAME_CHARS`, space, `#`, `:`).
    static let forbidden: Set<UInt8> = Set(#"\/*?"<>|, #:"#.utf8)
}
