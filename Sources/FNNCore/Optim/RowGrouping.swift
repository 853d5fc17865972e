import CMemoryHints
import FNNSystem

/// Where a batch's table gradients are. Each batch position maps to a gradient entry (position p
/// to entry p / positionsPerEntry); entry e's embedding term is the `width` floats at
/// embedding + e * embeddingStride, its linear-weight gradient (when the table has one) the float
/// at linear + e * linearStride. A row's gradient is the sum over its positions' entries.
///
/// Two forms:
/// - one entry per position: the entries are the positions' gradients (FNN, whose input gradient
///   differs per position);
/// - FM's factored form (`fm`): the gradient of example i's field position holding row r is
///   g_i (S_i - v_r), with g_i the logit gradient and S_i the sum of the example's embedding rows.
///   Summed over a row's positions that is sum g_i S_i - (sum g_i) v_r, so one entry per example
///   (g_i S_i, and g_i, which is also the linear weight's gradient) serves all its fields, and the
///   row's value is subtracted once per row, at its update. The backward pass then writes
///   `embedDim` + 1 floats per example instead of per position: 1/F of the bytes, which for
///   Criteo's 39 fields turns a 5 MB gradient buffer into a cache-resident 128 kB one.
public struct RowGradients {
    public var embedding: UnsafePointer<Float>
    public var embeddingStride: Int
    public var linear: UnsafePointer<Float>?
    public var linearStride: Int
    public var positionsPerEntry: Int
    /// The factored FM form: a row's gradient is its entries' sum minus their linear sum times the
    /// row's value.
    public var subtractsScaledRow: Bool
    /// Variable positions (multi-hot, numeric fields): which positions each example has and their
    /// values. Position p of example i then maps to entry i (FM, `entryFieldCount` 0) or
    /// i * entryFieldCount + field(p) (FNN: one entry per example and field, shared by a multi-hot
    /// field's positions), and its contribution is scaled by its value x: x e to the embedding sum,
    /// x l to the linear sum, and in the factored form x^2 l to the row's subtracted coefficient
    /// (d/dv_r of 1/2 ((S)^2 - sum x^2 v^2) is x (S - x v_r)).
    public var variable: VariablePositions?
    public var entryFieldCount = 0

    public init(embedding: UnsafePointer<Float>, embeddingStride: Int, linear: UnsafePointer<Float>? = nil,
                linearStride: Int = 0) {
        self.embedding = embedding
        self.embeddingStride = embeddingStride
        self.linear = linear
        self.linearStride = linearStride
        positionsPerEntry = 1
        subtractsScaledRow = false
        variable = nil
    }

    /// FM's factored gradients: `scaledSums` holds g_i S_i (`embedDim` floats per example),
    /// `logitGradients` g_i.
    public static func fm(scaledSums: UnsafePointer<Float>, logitGradients: UnsafePointer<Float>, embedDim: Int,
                          fieldCount: Int) -> RowGradients {
        var g = RowGradients(embedding: scaledSums, embeddingStride: embedDim, linear: logitGradients, linearStride: 1)
        g.positionsPerEntry = fieldCount
        g.subtractsScaledRow = true
        return g
    }
}

/// A batch's gradient gathered by table row: which rows the batch touched (in order of first
/// occurrence) and, for each, the sum of its positions' gradient entries, added in increasing
/// position order, so the bits are the same however the update work is split. The sums are made
/// in one pass over the positions, as they are met: the entries are read in order (FNN's per
/// position, FM's per example) and each row's running sum stays in cache, where listing each
/// row's positions first and summing later read the entries again, at random.
public final class RowGrouping: @unchecked Sendable {
    /// Per table row: its index among the last batch's unique rows, or -1. May be shared by the
    /// groupings of disjoint row ranges (`PartitionedRowGrouping`), and may sit in the fused row
    /// records of the table's optimizer (`RowRecords`).
    public private(set) var slots: RowSlots
    /// The slots' memory when this grouping made them itself.
    private let ownedSlots: AlignedBuffer<Float>?
    public let width: Int
    public let uniqueRows: AlignedBuffer<UInt32>
    /// Per unique row: the sum of its entries' embedding terms (`width` floats).
    public let sums: AlignedBuffer<Float>
    /// Per unique row: the sum of its entries' linear gradients (0 without them).
    public let linearSums: AlignedBuffer<Float>
    /// Per unique row: how many batch positions hold it.
    public let positionCounts: AlignedBuffer<Int32>
    /// Per unique row, variable positions in the factored form: the sum of x^2 times the linear
    /// gradient, the coefficient of the row subtracted (with one-hot positions that is the
    /// linear sum itself).
    public let rowCoefficients: AlignedBuffer<Float>
    /// A partitioned build's own positions, in order: their rows and entries (and values, for
    /// variable positions).
    private let keptRows: AlignedBuffer<UInt32>
    private let keptEntries: AlignedBuffer<Int32>
    private let keptValues: AlignedBuffer<Float>
    public private(set) var uniqueCount = 0
    /// Whether the last build's gradients were FM's factored form (see `RowGradients`).
    public private(set) var subtractsScaledRow = false
    /// Whether the last build had linear-weight gradients (0 sums otherwise).
    public private(set) var hasLinearGradients = false
    /// Whether the last build's positions had values (`rowCoefficients` then holds the factored
    /// form's coefficients).
    public private(set) var hasValues = false

    /// Bytes of the per-batch arrays (not the row-slot table, which may be shared).
    package var listBytes: Int {
        uniqueRows.byteCount + sums.byteCount + linearSums.byteCount + positionCounts.byteCount + keptRows.byteCount
            + keptEntries.byteCount + rowCoefficients.byteCount + keptValues.byteCount
    }
    public var byteCount: Int { (ownedSlots?.byteCount ?? 0) + listBytes }

    public convenience init(tableRows: Int, maxPositions: Int, width: Int) {
        let slots = RowSlots.makeBuffer(count: tableRows)
        self.init(slots: RowSlots(StridedRows(slots, width: 1)), owning: slots, maxPositions: maxPositions, width: width)
    }

    /// A grouping over `slots`, whose entries must be -1 for every row this one will see (and
    /// whose memory its owner keeps alive). A batch has at most min(positions, table rows)
    /// unique rows. The per-row arrays are written before they are read and only as far as a
    /// batch's unique rows reach, so they are left untouched: pages beyond that (in 2 MiB steps
    /// where a buffer is large enough for huge pages) do not become resident.
    package init(slots: RowSlots, owning ownedSlots: AlignedBuffer<Float>? = nil, maxPositions: Int, width: Int) {
        self.slots = slots
        self.ownedSlots = ownedSlots
        self.width = width
        let maxUnique = min(maxPositions, slots.count)
        uniqueRows = AlignedBuffer(uninitializedCount: maxUnique)
        sums = AlignedBuffer(uninitializedCount: maxUnique * width)
        linearSums = AlignedBuffer(uninitializedCount: maxUnique)
        positionCounts = AlignedBuffer(uninitializedCount: maxUnique)
        rowCoefficients = AlignedBuffer(uninitializedCount: maxUnique)
        keptRows = AlignedBuffer(uninitializedCount: maxPositions)
        keptEntries = AlignedBuffer(uninitializedCount: maxPositions)
        keptValues = AlignedBuffer(uninitializedCount: maxPositions)
    }

    /// Moves this grouping to other slots (of as many rows, all -1), between builds.
    package func use(slots other: RowSlots) {
        precondition(uniqueCount == 0 && other.count == slots.count)
        slots = other
    }

    /// Gathers the gradients of positions 0 ..< count whose row lies in `rows` (all rows by
    /// default). `pairs`: `rowIds` holds `count` (row, entry) pairs in position order instead, the
    /// positions a sharded table's owner received for its rows (`ShardedRowLookup`).
    public func build(rowIds: UnsafePointer<UInt32>, count: Int, rows: Range<Int>? = nil, gradients: RowGradients,
                      pairs: Bool = false) {
        precondition(count <= keptRows.count && gradients.positionsPerEntry > 0)
        precondition(!gradients.subtractsScaledRow || gradients.linear != nil)
        clearSlots()
        subtractsScaledRow = gradients.subtractsScaledRow
        hasLinearGradients = gradients.linear != nil
        hasValues = gradients.variable != nil
        if let variable = gradients.variable {
            precondition(!pairs, "variable positions are not sharded")
            if width == 16 {
                build(width: 16, rowIds: rowIds, variable: variable, rows: rows, gradients: gradients)
            } else {
                build(width: width, rowIds: rowIds, variable: variable, rows: rows, gradients: gradients)
            }
            return
        }
        if pairs {
            if width == 16 {
                build(width: 16, pairs: rowIds, count: count, rows: rows, gradients: gradients)
            } else {
                build(width: width, pairs: rowIds, count: count, rows: rows, gradients: gradients)
            }
            return
        }
        // The default width as a constant: the entry additions unroll.
        if width == 16 {
            build(width: 16, rowIds: rowIds, count: count, rows: rows, gradients: gradients)
        } else {
            build(width: width, rowIds: rowIds, count: count, rows: rows, gradients: gradients)
        }
    }

    @inline(__always) private func build(width: Int, rowIds: UnsafePointer<UInt32>, count: Int, rows: Range<Int>?,
                                         gradients: RowGradients) {
        let perEntry = gradients.positionsPerEntry
        let lo = UInt32(rows?.lowerBound ?? 0), span = UInt32(rows.map { $0.count } ?? slots.count)
        guard Int(lo) > 0 || Int(span) < slots.count else {
            // Every position is this build's: no filtering. The entry is counted alongside the
            // position rather than divided out of it.
            var entry = 0, withinEntry = 0
            accumulate(width: width, count: count, gradients: gradients, row: { rowIds[$0] }, entry: { _ in
                let e = entry
                withinEntry &+= 1
                if withinEntry == perEntry { withinEntry = 0; entry &+= 1 }
                return e
            })
            return
        }
        // A part of a partitioned update first keeps its own positions' rows and entries, without
        // a branch: most positions are another part's, and branching on each (at random, for
        // ML-1M's user rows) cost more than the part's own work.
        let keptRows = keptRows.base, keptEntries = keptEntries.base
        var kept = 0
        var entry: Int32 = 0, withinEntry = 0
        for p in 0..<count {
            let r = rowIds[p]
            keptRows[kept] = r
            keptEntries[kept] = entry
            // One unsigned comparison tests both ends of the range.
            kept &+= r &- lo < span ? 1 : 0
            withinEntry &+= 1
            if withinEntry == perEntry { withinEntry = 0; entry &+= 1 }
        }
        accumulate(width: width, count: kept, gradients: gradients, row: { keptRows[$0] },
                   entry: { Int(keptEntries[$0]) })
    }

    @inline(__always) private func build(width: Int, pairs: UnsafePointer<UInt32>, count: Int, rows: Range<Int>?,
                                         gradients: RowGradients) {
        let lo = UInt32(rows?.lowerBound ?? 0), span = UInt32(rows.map { $0.count } ?? slots.count)
        guard Int(lo) > 0 || Int(span) < slots.count - 1 else {
            // Every pair is this build's (its rows never name the unowned row past them).
            accumulate(width: width, count: count, gradients: gradients, row: { pairs[2 * $0] }, entry: { Int(pairs[2 * $0 + 1]) })
            return
        }
        let keptRows = keptRows.base, keptEntries = keptEntries.base
        var kept = 0
        for k in 0..<count {
            let r = pairs[2 * k]
            keptRows[kept] = r
            keptEntries[kept] = Int32(bitPattern: pairs[2 * k + 1])
            kept &+= r &- lo < span ? 1 : 0
        }
        accumulate(width: width, count: kept, gradients: gradients, row: { keptRows[$0] }, entry: { Int(keptEntries[$0]) })
    }

    /// Variable positions: each example's positions in order (the reserved ones past its count
    /// skipped), kept when their row is in `rows`, then added up with their values.
    @inline(__always) private func build(width: Int, rowIds: UnsafePointer<UInt32>, variable: VariablePositions,
                                         rows: Range<Int>?, gradients: RowGradients) {
        let lo = UInt32(rows?.lowerBound ?? 0), span = UInt32(rows.map { $0.count } ?? slots.count)
        let keptRows = keptRows.base, keptEntries = keptEntries.base, keptValues = keptValues.base
        let perField = gradients.entryFieldCount
        var kept = 0
        for i in 0..<variable.examples {
            let first = i * variable.stride
            for p in first..<(first + Int(variable.counts[i])) {
                let r = rowIds[p]
                keptRows[kept] = r
                keptEntries[kept] = Int32(truncatingIfNeeded: perField == 0 ? i : i * perField + Int(variable.fields[p]))
                keptValues[kept] = variable.values[p]
                kept &+= r &- lo < span ? 1 : 0
            }
        }
        accumulate(width: width, count: kept, gradients: gradients, valued: true, row: { keptRows[$0] },
                   entry: { Int(keptEntries[$0]) }, value: { keptValues[$0] })
    }

    /// Adds up positions 0 ..< count, whose rows and entries `row` and `entry` give (each asked
    /// once, in order). `valued` (a constant at each call, so the branches fold away): each
    /// position's contribution is scaled by its `value` x, and x^2 times its linear gradient
    /// goes to the row's coefficient (`RowGradients.variable`).
    @inline(__always) private func accumulate(width: Int, count: Int, gradients: RowGradients, valued: Bool = false,
                                              row rowOf: (Int) -> UInt32, entry entryOf: (Int) -> Int,
                                              value valueOf: (Int) -> Float = { _ in 1 }) {
        let slots = self.slots, unique = uniqueRows.base, sums = sums.base, linearSums = linearSums.base
        let counts = positionCounts.base, coefficients = rowCoefficients.base
        let embedding = gradients.embedding, embeddingStride = gradients.embeddingStride
        let linear = gradients.linear, linearStride = gradients.linearStride
        var u = 0
        // The slot table is as long as the embedding table, so each lookup is a likely cache
        // miss: they are requested well ahead.
        let ahead = 32
        for k in 0..<min(ahead, count) { fnnpar_prefetch(slots.address(Int(rowOf(k)))) }
        for k in 0..<count {
            if k + ahead < count { fnnpar_prefetch(slots.address(Int(rowOf(k + ahead)))) }
            let r = Int(rowOf(k)), e = entryOf(k)
            let source = embedding + e * embeddingStride
            let s = Int(slots[r])
            if valued {
                let x = valueOf(k)
                let g = linear.map { $0[e * linearStride] } ?? 0
                if s < 0 {
                    slots[r] = Int32(u)
                    unique[u] = UInt32(truncatingIfNeeded: r)
                    counts[u] = 1
                    let sum = sums + u * width
                    for j in 0..<width { sum[j] = 0 }
                    AdamKernels.add(source, scaledBy: x, into: sum, count: width)
                    linearSums[u] = x * g
                    coefficients[u] = x * x * g
                    u += 1
                } else {
                    counts[s] += 1
                    AdamKernels.add(source, scaledBy: x, into: sums + s * width, count: width)
                    linearSums[s] += x * g
                    coefficients[s] += x * x * g
                }
            } else if s < 0 {
                slots[r] = Int32(u)
                unique[u] = UInt32(truncatingIfNeeded: r)
                counts[u] = 1
                AdamKernels.copy(source, into: sums + u * width, count: width)
                linearSums[u] = linear.map { $0[e * linearStride] } ?? 0
                u += 1
            } else {
                counts[s] += 1
                AdamKernels.add(source, into: sums + s * width, count: width)
                if let linear { linearSums[s] += linear[e * linearStride] }
            }
        }
        uniqueCount = u
    }

    /// Resets the row slots of the last build to -1, so another grouping sharing them may use
    /// these rows next.
    public func clearSlots() {
        let slots = self.slots, unique = uniqueRows.view
        for k in 0..<uniqueCount { slots[Int(unique[k])] = -1 }
        uniqueCount = 0
    }

    /// The index of `row` among the unique rows of the last build, or -1 if the batch missed it.
    public func slot(ofRow row: Int) -> Int { Int(slots[row]) }

    /// Unique row `u`'s gradient, given its value `row` as the forward pass saw it (see
    /// `GradientSums.gradient`); asked once per row and build.
    @inline(__always) public func gradient(ofUnique u: Int, row: UnsafePointer<Float>, width: Int) -> (UnsafePointer<Float>, Float) {
        gradientSums.gradient(ofUnique: u, row: row, width: width)
    }

    /// The sums as raw pointers, for update loops (no reference counting per row).
    public var gradientSums: GradientSums {
        GradientSums(sums: sums.view, linearSums: linearSums.view, coefficients: hasValues ? rowCoefficients.view : nil,
                     subtractsScaledRow: subtractsScaledRow)
    }

    public struct GradientSums {
        let sums: BufferView<Float>
        let linearSums: BufferView<Float>
        /// Variable positions' subtracted coefficients; nil: the linear sums are.
        let coefficients: BufferView<Float>?
        let subtractsScaledRow: Bool

        /// Unique row `u`'s sum, less its linear sum times the row in the factored form. That
        /// subtraction is made in place, so this is asked once per row and build. Returns the
        /// embedding gradient's address and the linear weight's gradient.
        @inline(__always) public func gradient(ofUnique u: Int, row: UnsafePointer<Float>, width: Int) -> (UnsafePointer<Float>, Float) {
            let g = sums.pointer(at: u * width, length: width), linear = linearSums[u]
            if subtractsScaledRow { AdamKernels.add(row, scaledBy: -(coefficients?[u] ?? linear), into: g, count: width) }
            return (UnsafePointer(g), linear)
        }
    }
}
