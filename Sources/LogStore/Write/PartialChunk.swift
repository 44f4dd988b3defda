/// PartialChunk is a request body whose lines span several days and whose days were not all
/// committed (a crash or a failed transaction between two days' commits): the days that hold
/// its chunk record, and the days its record lists. A resend stores only the lines of the other
/// days, so each line is stored once.
struct PartialChunk: Sendable {
    /// The receipt of the first time the chunk was stored.
    var receipt: AppendReceipt
    /// When the chunk first arrived (ns; the dedup window counts from here).
    var arrival: Int64
    /// The days the chunk's lines went to, as its records list them.
    var days: Set<Int32>
    /// The days whose segment committed the chunk's lines and record.
    var stored: Set<Int32>
}
