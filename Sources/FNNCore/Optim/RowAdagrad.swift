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
    let accumulators: AlignedBuffer<Float>
    /// Per row, the linear weight's accumulator (adagrad kinds with a linear table).
    let linearAccumulators: AlignedBuffer<Float>

    public init(kind: TableOptimizerConfig.Kind, rows: Int, width: Int, hasLinear: Bool, initialAccumulator: Float) {
        precondition(kind != .adam)
        self.kind = kind
        self.width = width
        self.rows = rows
        self.hasLinear = hasLinear
        self.initialAccumulator = initialAccumulator
        accumulatorsPerRow = kind == .adagrad ? width : kind == .rowwiseAdagrad ? 1 : 0
        accumulators = AlignedBuffer(count: rows * accumulatorsPerRow)
        accumulators.fill(initialAccumulator)
        linearAccumulators = AlignedBuffer(count: hasLinear && kind != .sgd ? rows : 0)
        linearAccumulators.fill(initialAccumulator)
    }

    public var byteCount: Int { accumulators.byteCount + linearAccumulators.byteCount }

    public func accumulator(row: Int, element j: Int) -> Float { accumulators[row * accumulatorsPerRow + j] }
    public func linearAccumulator(row: Int) -> Float { linearAccumulators[row] }

    /// Updates the unique rows u in `uniqueRange` of `grouping` (built with this batch's
    /// batch-mean gradients) for a batch of `batchCount` examples.
    public func update(table: AlignedBuffer<Float>, linear: AlignedBuffer<Float>?, grouping: RowGrouping,
                       uniqueRange: Range<Int>, learningRate: Float, l2: Float, batchCount: Int) {
        precondition(hasLinear == (linear != nil) && hasLinear == grouping.hasLinearGradients && grouping.width == width)
        let view = TouchedRows(grouping: grouping, table: table.base, linear: linear?.base, accumulators: accumulators.base,
                               accumulatorsPerRow: accumulatorsPerRow,
                               linearAccumulators: kind == .sgd ? nil : linearAccumulators.base)
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
            let p = rows.table + row * width
            let (g, linearGradient) = rows.gradients.gradient(ofUnique: u, row: p, width: width)
            let decay = l2 * Float(rows.positionCounts[u])
            let a = rows.accumulators + row * rows.accumulatorsPerRow
            switch kind {
            case .adagrad: SparseKernels.adagrad(p, g, a, count: width, learningRate: lr, scale: scale, decay: decay)
            case .rowwiseAdagrad: SparseKernels.rowwiseAdagrad(p, g, a, count: width, learningRate: lr, scale: scale, decay: decay)
            case .sgd: SparseKernels.sgd(p, g, count: width, learningRate: lr, scale: scale, decay: decay)
            case .adam: preconditionFailure()
            }
            if let linear = rows.linear {
                if let la = rows.linearAccumulators {
                    SparseKernels.adagrad(&linear[row], linearGradient, &la[row], learningRate: lr, scale: scale, decay: decay)
                } else {
                    linear[row] -= lr * (scale * linearGradient + decay * linear[row])
                }
            }
        }
    }

    /// The grouping and buffers as raw pointers, taken once per call (see `LazyRowAdam.RowsView`:
    /// class references in the row loop cost atomic reference counts shared between workers).
    struct TouchedRows {
        let gradients: RowGrouping.GradientSums
        let uniqueRows: BufferView<UInt32>
        let positionCounts: BufferView<Int32>
        let table: UnsafeMutablePointer<Float>
        let linear: UnsafeMutablePointer<Float>?
        let accumulators: UnsafeMutablePointer<Float>
        let accumulatorsPerRow: Int
        let linearAccumulators: UnsafeMutablePointer<Float>?

        init(grouping: RowGrouping, table: UnsafeMutablePointer<Float>, linear: UnsafeMutablePointer<Float>?,
             accumulators: UnsafeMutablePointer<Float>, accumulatorsPerRow: Int,
             linearAccumulators: UnsafeMutablePointer<Float>?) {
            gradients = grouping.gradientSums
            uniqueRows = grouping.uniqueRows.view
            positionCounts = grouping.positionCounts.view
            self.table = table
            self.linear = linear
            self.accumulators = accumulators
            self.accumulatorsPerRow = accumulatorsPerRow
            self.linearAccumulators = linearAccumulators
        }

        /// Asks for the lines unique row `u`'s update touches, a few rows ahead of it.
        @inline(__always) func prefetch(unique u: Int, width: Int) {
            let row = Int(uniqueRows[u])
            let rowBytes = width * MemoryLayout<Float>.stride
            let p = UnsafeRawPointer(table + row * width)
            var offset = 0
            while offset < rowBytes { fnnpar_prefetch_for_write(p + offset); offset += 64 }
            if accumulatorsPerRow > 0 {
                let a = UnsafeRawPointer(accumulators + row * accumulatorsPerRow)
                offset = 0
                while offset < accumulatorsPerRow * 4 { fnnpar_prefetch_for_write(a + offset); offset += 64 }
            }
            if let linear { fnnpar_prefetch_for_write(linear + row) }
            if let linearAccumulators { fnnpar_prefetch_for_write(linearAccumulators + row) }
        }
    }
}
