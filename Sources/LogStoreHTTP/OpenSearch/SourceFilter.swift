/// SourceFilter is what of a hit's `_source` an answer carries (`_source`, `_source_includes`,
/// `_source_excludes`).
enum SourceFilter {
    case all
    case none
    case filter(includes: [String], excludes: [String])
}
