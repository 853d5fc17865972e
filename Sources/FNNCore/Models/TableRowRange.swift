/// The rows of a process's table arrays (embedding, linear weights, optimizer state, grouping
/// slots) that its update tasks cover. A process that holds the whole table covers all of them.
/// A rank holding a shard (`TableShard`) covers its local rows and keeps one row past them
/// unowned: positions of rows held elsewhere are mapped there, so the grouping's range test leaves
/// them out without a branch and without a second position list.
public struct TableRowRange: Sendable, Equatable, Codable {
    /// Rows of the arrays (the grouping's slot table).
    public let tableRows: Int
    /// The rows the update covers; their lower bound is 64-row aligned.
    public let owned: Range<Int>

    /// Alignment of the update tasks' boundaries, in rows: the narrow per-row arrays (linear
    /// weights, row states, grouping slots) must not share a cache line between two writers.
    public static let alignment = 64

    /// The whole table, as one process holds it.
    public init(wholeTableOf tableRows: Int) {
        precondition(tableRows >= 0)
        self.tableRows = tableRows
        owned = 0..<tableRows
    }

    /// A shard's local rows, and the unowned row after them (`localRows`).
    public init(shardOf localRows: Int) {
        precondition(localRows >= 0)
        tableRows = localRows + 1
        owned = 0..<localRows
    }

    public var isWholeTable: Bool { owned == 0..<tableRows }

    public func owns(_ row: Int) -> Bool { owned.contains(row) }
}
