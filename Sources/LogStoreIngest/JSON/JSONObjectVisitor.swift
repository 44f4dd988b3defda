/// Receives what ``JSONScanner/scanObject(_:from:paths:maxDepth:visitor:)`` finds.
public protocol JSONObjectVisitor {
    /// Called for every member of the top-level object, in order, after its value was scanned.
    mutating func visitMember(_ member: JSONMember)
    /// Called for every value whose dotted key path is one of the wanted paths, at any depth.
    /// A top-level match is reported just before the ``visitMember(_:)`` of the same member.
    mutating func visitMatch(_ match: JSONMatch)
}
