/// Which rows of the concatenated table (embedding rows, their linear weights and their
/// optimizer state) one process holds. A single process, or a rank of a run with replicated
/// tables, holds them all; with tables sharded across R ranks, rank r holds the rows g with
/// g mod R = r, at local index g / R.
///
/// Cyclic rather than contiguous ownership: a table's popular rows cluster (Criteo's small fields
/// sit at the front of the offsets, MovieLens's users before its items), so contiguous halves
/// measured 78% and 36% of one process's update work on the Criteo-shaped FM, where alternate
/// rows split it evenly. Ownership never changes results: only where a row's update runs.
public struct TableShard: Sendable, Equatable, Codable {
    /// Rows of the whole table (every field's, concatenated).
    public let tableRows: Int
    /// This process's rank among the shards, and their number (1 when it holds every row).
    public let rank: Int
    public let ranks: Int
    /// ceil(2^64 / ranks): the quotient of a 32-bit row by `ranks` is the high word of one
    /// multiplication (exact, see `localRow(of:)`), where a division would cost ~25 cycles per
    /// position.
    private let reciprocal: UInt64

    /// Every row, as one process holds them.
    public init(wholeTableOf tableRows: Int) {
        self.init(tableRows: tableRows, rank: 0, ranks: 1)
    }

    /// Rank `rank` of `ranks`'s rows.
    public init(tableRows: Int, rank: Int, ranks: Int) {
        precondition(tableRows >= 0 && tableRows <= Int(UInt32.max) && ranks >= 1 && ranks <= 1 << 16 && rank >= 0 && rank < ranks)
        self.tableRows = tableRows
        self.rank = rank
        self.ranks = ranks
        reciprocal = ranks == 1 ? 0 : UInt64.max / UInt64(ranks) + 1
    }

    public var isWholeTable: Bool { ranks == 1 }

    /// Rows held here.
    public var localRows: Int { Self.rows(of: rank, ranks: ranks, tableRows: tableRows) }

    /// Rows rank `rank` of `ranks` holds.
    public static func rows(of rank: Int, ranks: Int, tableRows: Int) -> Int {
        tableRows > rank ? (tableRows - rank + ranks - 1) / ranks : 0
    }

    @inline(__always) public func owner(of row: Int) -> Int { row - localRow(of: row) * ranks }

    public func owns(_ row: Int) -> Bool { owner(of: row) == rank }

    /// The local index of `row` at its owner. For row < 2^32 and ranks < 2^32 the high word of
    /// row * ceil(2^64 / ranks) is floor(row / ranks): the product exceeds row * 2^64 / ranks by
    /// less than row < 2^32, i.e. the quotient by less than 2^-32 < 1 / ranks, which cannot carry
    /// it past the next integer.
    @inline(__always) public func localRow(of row: Int) -> Int {
        ranks == 1 ? row : Int(truncatingIfNeeded: UInt64(truncatingIfNeeded: row).multipliedFullWidth(by: reciprocal).high)
    }

    /// The global row of local index `local`.
    @inline(__always) public func globalRow(ofLocal local: Int) -> Int { local * ranks + rank }

    /// Each of `count` global rows as a local index here, or `localRows` (the unowned row after
    /// the shard's, see `TableRowRange(shardOf:)`) for a row another rank holds.
    public func heldIndices(of rows: UnsafePointer<UInt32>, count: Int, into held: UnsafeMutablePointer<UInt32>) {
        let unowned = UInt32(localRows), me = rank, size = ranks
        for p in 0..<count {
            let row = Int(rows[p]), local = localRow(of: row)
            held[p] = row - local * size == me ? UInt32(truncatingIfNeeded: local) : unowned
        }
    }
}
