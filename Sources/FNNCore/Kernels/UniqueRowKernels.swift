import CMemoryHints

/// The rows of a list of positions with most repeats removed, for a sharded table's lookup: a
/// direct-mapped table from a row's hash to the index it was last given. A position whose slot
/// names an index of this lookup that holds its row reuses it; any other takes a new index (and
/// the slot). A collision can give one row two indices, which costs a duplicate request and
/// never a wrong value, so the table needs no probing and no clearing between lookups (a stale
/// slot fails the check), and is small enough to stay in L2: the popular rows, which make most
/// of the repeats, keep their slots.
package enum UniqueRowKernels {
    @inline(__always) static func slot(of row: UInt32, shift: UInt32) -> Int { Int((row &* 0x9E37_79B1) &>> shift) }

    /// Writes each of `rows[0 ..< count]`'s index to `compact` and the rows of the indices, in
    /// order of first use, to `unique`; returns how many indices there are. `recent` has
    /// 2^(32 - shift) slots, each below `count` or past every index (0 on first use is fine);
    /// `unique` room for `count` + 1 rows.
    package static func deduplicate(rows: UnsafePointer<UInt32>, count: Int, recent: UnsafeMutablePointer<UInt32>, shift: UInt32,
                                    compact: UnsafeMutablePointer<UInt32>, unique: UnsafeMutablePointer<UInt32>) -> Int {
        // Without branches: which positions repeat is random, and a mispredicted branch here cost
        // more than the lookups (the slot's index, then that index's row, both in L2). The row is
        // always written at `found`, which only a new row advances past.
        var found: UInt32 = 0
        // The slots are in L2; asked for into L1 a few positions ahead, their reads do not wait.
        let ahead = 16
        for p in 0..<min(ahead, count) { fnnpar_prefetch(recent + slot(of: rows[p], shift: shift)) }
        for p in 0..<count {
            if p &+ ahead < count { fnnpar_prefetch(recent + slot(of: rows[p &+ ahead], shift: shift)) }
            let row = rows[p]
            let h = slot(of: row, shift: shift)
            let index = recent[h]
            // Both tests always made (no short circuit, so no branch): every slot holds an
            // index below `count`, whose row may be read whether or not it is this lookup's.
            let current: UInt32 = index < found ? 1 : 0
            let same: UInt32 = unique[Int(index)] == row ? 1 : 0
            let repeated = current & same
            let taken = repeated != 0 ? index : found
            recent[h] = taken
            unique[Int(found)] = row
            compact[p] = taken
            found &+= 1 &- repeated
        }
        return Int(found)
    }
}
