import CMemoryHints
import FNNSystem

/// Adagrad for a sparse table, per element or per row, and plain SGD: rules without momentum, so
/// a step that changes only the batch's rows is exactly the dense step (an untouched row's zero
/// gradient changes neither it nor its accumulator). A table may carry one linear weight per row
/// (FM's first-order term), updated with its row; its accumulator is always its own.
///
/// These rules take the gradient of the batch's summed loss, not its mean: a rare row's update is
/// then what per-example SGD (xLearn, libFM) gives it, and the learning rate and initial
/// accumulator mean the same for any batch size (with the mean, a row seen once would move by
/// lr / batch size, and the accumulator's start would have to shrink with the batch squared).
/// Per row and element: g' = B g + l2 c p (g the batch-mean gradient, B the batch size, c the
/// row's positions in the batch, see `TableOptimizerConfig.l2`), then
/// - adagrad: a += g'^2; p -= lr g' / sqrt(a)
/// - rowwise-adagrad: a += mean_j g'_j^2 (one a per row); p -= lr g' / sqrt(a)
/// - sgd: p -= lr g'.
public final class RowAdagrad: @unchecked Sendable {
    public let kind: TableOptimizerConfig.Kind
    public let width: Int
    public let rows: Int
    public let hasLinear: Bool
    public let initialAccumulator: Float
    /// Per row: `width` accumulators (adagrad), one (rowwise), none (sgd).
    let accumulatorsPerRow: Int
    /// Per row (see `RowRecords`): narrow, the linear weight's accumulator (adagrad kinds with a
    /// linear table) then the row-wise accumulator; wide, the elementwise accumulators.
    public let records: RowRecords
    let hasLinearAccumulator: Bool
    var rowwiseIndex: Int { hasLinearAccumulator ? 1 : 0 }

    public init(kind: TableOptimizerConfig.Kind, rows: Int, width: Int, hasLinear: Bool, initialAccumulator: Float,
                layout: RowRecords.Layout = .separate) {
        precondition(kind != .adam)
        self.kind = kind
        self.width = width
        self.rows = rows
        self.hasLinear = hasLinear
        self.initialAccumulator = initialAccumulator
        accumulatorsPerRow = kind == .adagrad ? width : kind == .rowwiseAdagrad ? 1 : 0
        hasLinearAccumulator = hasLinear && kind != .sgd
        let (narrow, wide) = kind.rowState(width: width, hasLinear: hasLinear)
        records = RowRecords(layout: layout, rows: rows, width: width, hasLinear: hasLinear, narrow: narrow, wide: wide)
        let narrowRows = records.narrow, wideRows = records.wide
        for r in 0..<rows {
            for j in 0..<narrow { narrowRows.row(r)[j] = initialAccumulator }
            if kind == .adagrad { wideRows.row(r).update(repeating: initialAccumulator, count: width) }
        }
    }

    public var byteCount: Int { records.byteCount }
    public var layout: RowRecords.Layout { records.layout }

    /// Row `row`'s accumulators (`accumulatorsPerRow` of them).
    func accumulators(row: Int) -> UnsafeMutablePointer<Float> {
        kind == .adagrad ? records.wide.row(row) : records.narrow.row(row) + rowwiseIndex
    }
    public func accumulator(row: Int, element j: Int) -> Float { accumulators(row: row)[j] }
    public func linearAccumulator(row: Int) -> Float {
        precondition(hasLinearAccumulator, "this table rule keeps no linear accumulator")
        return records.narrow.row(row)[0]
    }

    /// Updates the unique rows u in `uniqueRange` of `grouping` (built with this batch's
    /// batch-mean gradients) for a batch of `batchCount` examples.
    public func update(table: AlignedBuffer<Float>, linear: AlignedBuffer<Float>?, grouping: RowGrouping,
                       uniqueRange: Range<Int>, learningRate: Float, l2: Float, batchCount: Int) {
        precondition(hasLinear == (linear != nil) && hasLinear == grouping.hasLinearGradients && grouping.width == width)
        let live = records.liveRows(table: table, linear: linear)
        let view = TouchedRows(grouping: grouping, table: live.table, linear: live.linear,
                               accumulators: kind == .adagrad ? records.wide : records.narrow,
                               accumulatorOffset: kind == .adagrad ? 0 : rowwiseIndex, accumulatorsPerRow: accumulatorsPerRow,
                               linearAccumulators: hasLinearAccumulator ? records.narrow : nil)
        // The default width as a constant: the row kernels unroll into straight-line code.
        if width == 16 {
            update(view, width: 16, uniqueRange: uniqueRange, learningRate: learningRate, l2: l2, scale: Float(batchCount))
        } else {
            update(view, width: width, uniqueRange: uniqueRange, learningRate: learningRate, l2: l2, scale: Float(batchCount))
        }
    }

    @inline(__always) private func update(_ rows: TouchedRows, width: Int, uniqueRange: Range<Int>, learningRate lr: Float,
                                          l2: Float, scale: Float) {
        let kind = self.kind
        let ahead = 8
        for u in uniqueRange.lowerBound..<min(uniqueRange.upperBound, uniqueRange.lowerBound + ahead) {
            rows.prefetch(unique: u, width: width)
        }
        for u in uniqueRange {
            if u + ahead < uniqueRange.upperBound { rows.prefetch(unique: u + ahead, width: width) }
            let row = Int(rows.uniqueRows[u])
            let p = rows.table.row(row)
            let (g, linearGradient) = rows.gradients.gradient(ofUnique: u, row: p, width: width)
            let decay = l2 * Float(rows.positionCounts[u])
            let a = rows.accumulators.row(row) + rows.accumulatorOffset
            switch kind {
            case .adagrad: SparseKernels.adagrad(p, g, a, count: width, learningRate: lr, scale: scale, decay: decay)
            case .rowwiseAdagrad: SparseKernels.rowwiseAdagrad(p, g, a, count: width, learningRate: lr, scale: scale, decay: decay)
            case .sgd: SparseKernels.sgd(p, g, count: width, learningRate: lr, scale: scale, decay: decay)
            case .adam: preconditionFailure()
            }
            if let linear = rows.linear {
                let w = linear.row(row)
                if let la = rows.linearAccumulators {
                    SparseKernels.adagrad(&w.pointee, linearGradient, &la.row(row).pointee, learningRate: lr, scale: scale, decay: decay)
                } else {
                    w.pointee -= lr * (scale * linearGradient + decay * w.pointee)
                }
            }
        }
    }

    /// The grouping and row fields as views, taken once per call (see `LazyRowAdam.RowsView`:
    /// class references in the row loop cost atomic reference counts shared between workers).
    struct TouchedRows {
        let gradients: RowGrouping.GradientSums
        let uniqueRows: BufferView<UInt32>
        let positionCounts: BufferView<Int32>
        let table: StridedRows<Float>
        let linear: StridedRows<Float>?
        let accumulators: StridedRows<Float>
        let accumulatorOffset: Int
        let accumulatorsPerRow: Int
        /// Each row's first narrow float, when it is the linear weight's accumulator.
        let linearAccumulators: StridedRows<Float>?

        init(grouping: RowGrouping, table: StridedRows<Float>, linear: StridedRows<Float>?,
             accumulators: StridedRows<Float>, accumulatorOffset: Int, accumulatorsPerRow: Int,
             linearAccumulators: StridedRows<Float>?) {
            gradients = grouping.gradientSums
            uniqueRows = grouping.uniqueRows.view
            positionCounts = grouping.positionCounts.view
            self.table = table
            self.linear = linear
            self.accumulators = accumulators
            self.accumulatorOffset = accumulatorOffset
            self.accumulatorsPerRow = accumulatorsPerRow
            self.linearAccumulators = linearAccumulators
        }

        /// Asks for the lines unique row `u`'s update touches, a few rows ahead of it (in a
        /// fused record, the first line and its neighbours).
        @inline(__always) func prefetch(unique u: Int, width: Int) {
            let row = Int(uniqueRows[u])
            let rowBytes = width * MemoryLayout<Float>.stride
            let p = UnsafeRawPointer(table.row(row))
            var offset = 0
            while offset < rowBytes { fnnpar_prefetch_for_write(p + offset); offset += 64 }
            if accumulatorsPerRow > 0 {
                let a = UnsafeRawPointer(accumulators.row(row) + accumulatorOffset)
                offset = 0
                while offset < accumulatorsPerRow * 4 { fnnpar_prefetch_for_write(a + offset); offset += 64 }
            }
            if let linear { fnnpar_prefetch_for_write(linear.row(row)) }
            if let linearAccumulators { fnnpar_prefetch_for_write(linearAccumulators.row(row)) }
        }
    }
}
