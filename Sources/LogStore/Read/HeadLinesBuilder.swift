import Foundation

/// Head lines of a read, packed like a decoded block (messages, then fields, in one buffer;
/// fields equal to the previous line's are kept once).
struct HeadLinesBuilder {
    var messages: [UInt8] = []
    var fields: [UInt8] = []
    var timestamps: [Int64] = []
    var lsns: [LSN] = []
    var messageOffsets: [Int] = [0]
    var fieldEnds: [Int] = [0]
    var fieldSlots: [Int32] = []

    var count: Int { timestamps.count }

    mutating func append(timestamp: Int64, lsn: LSN, message: UnsafeRawBufferPointer, fields f: UnsafeRawBufferPointer) {
        timestamps.append(timestamp)
        lsns.append(lsn)
        messages.append(contentsOf: message)
        messageOffsets.append(messages.count)
        let last = fieldEnds.count - 2
        let start = fieldEnds[fieldEnds.count - 1] - f.count
        if last >= 0, start == fieldEnds[last],
            f.isEmpty || fields.withUnsafeBytes({ memcmp($0.baseAddress! + start, f.baseAddress!, f.count) == 0 })
        {
            fieldSlots.append(Int32(last))
        } else {
            fieldSlots.append(Int32(fieldEnds.count - 1))
            fields.append(contentsOf: f)
            fieldEnds.append(fields.count)
        }
    }

    func build() -> DecodedBlock {
        let shift = messages.count
        return DecodedBlock(
            packed: messages + fields, timestamps: timestamps, lsns: lsns, messageOffsets: messageOffsets,
            fieldOffsets: fieldEnds.map { $0 + shift }, fieldSlots: fieldSlots)
    }
}
