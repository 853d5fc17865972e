/// The rows of the concatenated embedding table (and of its linear weights, and of their
/// optimizer state) that one process holds and updates. A single process owns the whole table;
/// with tables sharded across ranks, each rank owns one contiguous range, 64-row aligned so that
/// the narrow per-row arrays (linear weights, row states, grouping slots) never share a cache
/// line between owners. Rows are always named by their global index; `owned` says which of them
/// live here.
public struct TableRowRange: Sendable, Equatable, Codable {
    /// Rows of the whole table (every field's, concatenated).
    public let tableRows: Int
    /// The rows held here, in global numbering.
    public let owned: Range<Int>

    /// Alignment of every share's boundaries, in rows.
    public static let alignment = 64

    /// The whole table, as one process holds it.
    public init(wholeTableOf tableRows: Int) {
        precondition(tableRows >= 0)
        self.tableRows = tableRows
        owned = 0..<tableRows
    }

    /// Share `rank` of `ranks` contiguous, 64-row-aligned shares covering the table (the last
    /// ones may be empty when the table has fewer than `ranks` aligned blocks).
    public init(shareOf tableRows: Int, rank: Int, ranks: Int) {
        precondition(ranks >= 1 && rank >= 0 && rank < ranks && tableRows >= 0)
        self.tableRows = tableRows
        let blocks = (tableRows + Self.alignment - 1) / Self.alignment
        let first = blocks * rank / ranks, end = blocks * (rank + 1) / ranks
        owned = min(first * Self.alignment, tableRows)..<min(end * Self.alignment, tableRows)
    }

    public var isWholeTable: Bool { owned == 0..<tableRows }

    public func owns(_ row: Int) -> Bool { owned.contains(row) }
}
