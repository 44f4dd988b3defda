import ArgumentParser
import LogStore
import LogStoreHTTP

/// RetentionOption parses `--retention`: one age for every index (`30d`) or ages per index
/// pattern, the first matching rule deciding (`fluentbit-*=30d,*=90d`).
enum RetentionOption {
    /// The age of indices no rule names, and the rules.
    static func parse(_ text: String) throws -> (maxAge: Duration?, perIndex: [IndexRetention]) {
        guard text.contains("=") else {
            guard let age = DurationText.parse(text) else { throw ValidationError("--retention '\(text)' is not a duration (e.g. 30d) nor PATTERN=AGE rules") }
            return (age, [])
        }
        var rules: [IndexRetention] = []
        for part in text.split(separator: ",") {
            let pieces = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pieces.count == 2, !pieces[0].isEmpty, let age = DurationText.parse(pieces[1]) else {
                throw ValidationError("--retention rule '\(part)' is not PATTERN=AGE (e.g. fluentbit-*=30d)")
            }
            rules.append(IndexRetention(pattern: pieces[0], maxAge: age))
        }
        return (nil, rules)
    }

    /// The oldest document worth accepting: the one age, or the longest rule's when a `*` rule
    /// names every index (nil: any age).
    static func acceptedAge(_ text: String) throws -> Duration? {
        let (age, rules) = try parse(text)
        if let age { return age }
        guard rules.contains(where: { $0.pattern == "*" }) else { return nil }
        return rules.map(\.maxAge).max()
    }
}
