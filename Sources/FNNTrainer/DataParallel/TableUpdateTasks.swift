import FNNCore
import FNNExecution
import FNNSystem

/// Lazy Adam's table work split into tasks by row ranges: each row is written by one task.
extension LazyRowAdam {
    /// The epoch-end catch-up of the rows this process holds (`owned`: the whole table unless
    /// sharded), cut into 64-row-aligned ranges, one task each.
    func catchUpAll(table: AlignedBuffer<Float>, linear: AlignedBuffer<Float>?, globalStep: Int, schedule: AdamSchedule,
                    rates: LearningRateScale, executor: PhaseExecutor, owned: Range<Int>? = nil) {
        let parts = ownedRanges(owned ?? 0..<rows, executor: executor)
        executor.run(.sparseUpdate, tasks: parts.count) { p, _ in
            catchUp(table: table, linear: linear, rowRange: parts[p], globalStep: globalStep, schedule: schedule, rates: rates)
        }
    }

    /// Task `part` of a step's table update: sums the gradients of its table range's rows over the
    /// batch positions, then updates those rows (lazy) or every row of the range (dense), then
    /// frees its row slots.
    func apply(
        _ mode: SparseUpdate, table: AlignedBuffer<Float>, linear: AlignedBuffer<Float>?,
        groupings: PartitionedRowGrouping, rowIds: UnsafePointer<UInt32>, positionCount: Int, part: Int, step: Int,
        schedule: AdamSchedule, l2Scale: Float = 0, rates: LearningRateScale = .one, gradients: RowGradients, pairs: Bool = false
    ) {
        let grouping = groupings.build(part: part, rowIds: rowIds, count: positionCount, gradients: gradients, pairs: pairs)
        switch mode {
        case .lazy:
            update(table: table, linear: linear, grouping: grouping, uniqueRange: 0..<grouping.uniqueCount,
                   globalStep: step, schedule: schedule, l2Scale: l2Scale, rates: rates)
        case .dense:
            updateAllRows(table: table, linear: linear, grouping: grouping, rowRange: groupings.rows(ofPart: part),
                          globalStep: step, schedule: schedule, l2Scale: l2Scale, rates: rates)
        }
        groupings.finish(part: part)
    }
}

extension RowRecords {
    /// Fused records: copies the rows this process holds out to the model's tensors, in the same
    /// ranges as `catchUpAll`.
    func exportAll(table: AlignedBuffer<Float>, linear: AlignedBuffer<Float>?, executor: PhaseExecutor, owned: Range<Int>? = nil) {
        let parts = ownedRanges(owned ?? 0..<rows, executor: executor)
        executor.run(.sparseUpdate, tasks: parts.count) { p, _ in
            exportRows(table: table, linear: linear, range: parts[p])
        }
    }
}

/// `owned` cut into 64-row-aligned ranges, one per worker: whole-table passes with one writer
/// per cache line.
func ownedRanges(_ owned: Range<Int>, executor: PhaseExecutor) -> [Range<Int>] {
    partition(owned.count, parts: executor.workerCount, alignment: TableRowRange.alignment)
        .map { (owned.lowerBound + $0.lowerBound)..<(owned.lowerBound + $0.upperBound) }
}
