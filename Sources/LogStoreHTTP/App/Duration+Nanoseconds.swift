extension Duration {
    /// Duration.nanoseconds is the duration in whole nanoseconds, saturating at `Int64.max`.
    var nanoseconds: Int64 {
        let (seconds, overflow) = components.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return components.seconds < 0 ? .min : .max }
        let (total, overflow2) = seconds.addingReportingOverflow(components.attoseconds / 1_000_000_000)
        return overflow2 ? .max : total
    }
}
