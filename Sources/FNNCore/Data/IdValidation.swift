import FNNExecution
import FNNSystem

/// Ids that come from bytes fnn-par did not just parse (a binary data file, a cache) are checked
/// against their field sizes once, when the file is opened: an id past its field would silently
/// train another field's rows, and one far past the table would read outside it.
extension Dataset {
    /// The first (row, field, id) whose id is not below the field's size, in row order.
    public func firstIdOutOfRange(executor: PhaseExecutor? = nil) -> (row: Int, field: Int, id: UInt32)? {
        let f = fieldCount
        guard rowCount > 0, f > 0, variable == nil else { return nil }
        let limits = fieldDims.map { UInt32(clamping: $0) }
        let blockRows = 1 << 16
        let blocks = (rowCount + blockRows - 1) / blockRows
        // Per block, the first bad row in it (or Int.max): each task writes only its own slot.
        let firstBad = AlignedBuffer<Int>(count: blocks)
        let ids = self.ids
        func scan(_ block: Int) {
            let start = block * blockRows, end = min(rowCount, start + blockRows)
            firstBad[block] = Int.max
            limits.withUnsafeBufferPointer { limit in
                let p = ids.base
                for r in start..<end {
                    var bad = false
                    for k in 0..<f where p[r * f + k] >= limit[k] { bad = true }
                    if bad { firstBad[block] = r; return }
                }
            }
            // A mapped file's pages are handed back as they are checked: a rank of a run over
            // several processes reads only its part later, and would otherwise keep all of it.
            releasePages(rows: start..<end)
        }
        if let executor, blocks > 1 {
            executor.run(.prepare, tasks: blocks) { block, _ in scan(block) }
        } else {
            for block in 0..<blocks { scan(block) }
        }
        for block in 0..<blocks where firstBad[block] != Int.max {
            let r = firstBad[block]
            for k in 0..<f where ids[r * f + k] >= limits[k] { return (r, k, ids[r * f + k]) }
        }
        return nil
    }

    /// The first row whose label is neither 0 nor 1 (labelled data only: a flipped byte in a
    /// label would otherwise train on a label of 2 or NaN without a word).
    public func firstBadLabel() -> (row: Int, label: Float)? {
        guard hasLabels else { return nil }
        for r in 0..<rowCount where labels[r] != 0 && labels[r] != 1 { return (r, labels[r]) }
        labels.releasePages(0..<rowCount)
        return nil
    }

    /// Refuses data whose ids do not fit its field sizes (or whose labels are not 0 / 1), naming
    /// the first such row and field.
    public func validateIds(executor: PhaseExecutor? = nil) throws(InputError) {
        if let (row, label) = firstBadLabel() {
            throw InputError(path: name, "row \(row + 1) has label \(label), not 0 or 1: the file is damaged or was not written by fnn-par")
        }
        if let variable {
            guard let (row, problem) = variable.firstProblem(schema: schema, fieldDims: fieldDims) else { return }
            throw InputError(path: name, "row \(row + 1): \(problem)")
        }
        guard let (row, field, id) = firstIdOutOfRange(executor: executor) else { return }
        throw InputError(path: name, "row \(row + 1), field \(field + 1) holds id \(id), but the field has \(fieldDims[field]) ids (0 to \(fieldDims[field] - 1)): the file is damaged or was not written by fnn-par")
    }
}
