import Foundation

/// HitBuckets maps a timestamp to the start of its `step`-wide bucket (floored, also below 0).
struct HitBuckets: Sendable {
    let step: Int64

    @inline(__always) func of(_ ts: Int64) -> Int64 { ts >= 0 ? ts / step * step : ((ts + 1) / step - 1) * step }
}
