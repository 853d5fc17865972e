import FNNSystem

/// Where a table's row optimizer (lazy Adam, Adagrad, SGD) keeps each row's state and, in the
/// fused layout, the row itself.
///
/// Why fused: in a large table each touched row is a few random cache misses, and the step is
/// bound by how many. Kept apart (the model's embedding and linear tensors, the optimizer's
/// arrays, the row slots of the grouping) a row costs four to eight lines per step; fused, a
/// row's embedding, linear weight, slot and optimizer state sit in one record of consecutive
/// lines. At width 16: the embedding fills the first 64 bytes; the linear weight, slot and the
/// row's few state floats (Adam's step record and linear moments, or the Adagrad accumulators)
/// the second; lazy Adam's m and v (or elementwise Adagrad's accumulators) the lines after. The
/// forward pass then reads two adjacent lines per row, and the update those and its state
/// lines. The model's tensors hold a copy, current after `exportRows` (epoch ends,
/// interruptions), so files and interop do not change. The arithmetic is the same in both
/// layouts, and so are the bits.
///
/// Integers in a record (the step record's counts, the slot) are kept as a float's bit
/// pattern, so the records are one `Float` buffer and nothing reads memory as two types; they
/// are only copied, never computed on as floats.
public final class RowRecords: @unchecked Sendable {
    public enum Layout: String, Sendable, CaseIterable, Codable {
        /// Model tensors and optimizer state in their own arrays (a sharded table's owner,
        /// whose rows are served from the model's tensors).
        case separate
        /// One record per row holding the live row and its state.
        case fused
    }

    public let layout: Layout
    public let rows: Int
    public let width: Int
    public let hasLinear: Bool
    /// Floats of per-row state kept beside the linear weight (`narrow`), and in whole lines
    /// after it (`wide`).
    public let narrowCount: Int
    public let wideCount: Int
    /// Fused: the records. Separate: the narrow state, rows x narrowCount.
    private let storage: AlignedBuffer<Float>
    /// Separate only: the wide state, rows x wideCount.
    private let wideStorage: AlignedBuffer<Float>?
    private let recordStride: Int
    private let wideOffset: Int
    /// A fused record's linear weight, slot and narrow state, after the embedding.
    private var linearOffset: Int { width }
    private var slotOffset: Int { width + 1 }
    private var narrowOffset: Int { width + 2 }

    /// Floats per fused record: the embedding, linear weight, slot and narrow state, then the
    /// wide state from the next 64-byte line.
    public static func recordStride(width: Int, narrow: Int, wide: Int) -> Int {
        wideOffset(width: width, narrow: narrow) + roundedToLine(wide)
    }
    static func wideOffset(width: Int, narrow: Int) -> Int { roundedToLine(width + 2 + narrow) }
    private static func roundedToLine(_ floats: Int) -> Int { (floats + 15) / 16 * 16 }

    /// Bytes the records take (for memory plans, before they exist).
    public static func byteCount(layout: Layout, rows: Int, width: Int, narrow: Int, wide: Int) -> Int {
        let floats = layout == .fused ? recordStride(width: width, narrow: narrow, wide: wide) : narrow + wide
        return rows * floats * MemoryLayout<Float>.stride
    }

    public init(layout: Layout, rows: Int, width: Int, hasLinear: Bool, narrow: Int, wide: Int) {
        precondition(rows >= 0 && width > 0 && narrow >= 0 && wide >= 0)
        self.layout = layout
        self.rows = rows
        self.width = width
        self.hasLinear = hasLinear
        narrowCount = narrow
        wideCount = wide
        switch layout {
        case .separate:
            recordStride = max(narrow, 1)
            wideOffset = 0
            storage = AlignedBuffer(count: rows * narrow)
            wideStorage = AlignedBuffer(count: rows * wide)
        case .fused:
            recordStride = Self.recordStride(width: width, narrow: narrow, wide: wide)
            wideOffset = Self.wideOffset(width: width, narrow: narrow)
            storage = AlignedBuffer(count: rows * recordStride)
            wideStorage = nil
            let slots = self.slots!
            for r in 0..<rows { slots[r] = -1 }
        }
    }

    public var byteCount: Int { storage.byteCount + (wideStorage?.byteCount ?? 0) }

    /// Per row: its `narrowCount` state floats.
    public var narrow: StridedRows<Float> {
        switch layout {
        case .separate: StridedRows(start: storage.base, count: rows, stride: max(narrowCount, 1))
        case .fused: StridedRows(start: storage.base + narrowOffset, count: rows, stride: recordStride)
        }
    }

    /// Per row: its `wideCount` state floats.
    public var wide: StridedRows<Float> {
        switch layout {
        case .separate: StridedRows(start: wideStorage!.base, count: rows, stride: max(wideCount, 1))
        case .fused: StridedRows(start: storage.base + wideOffset, count: rows, stride: recordStride)
        }
    }

    /// Fused: the row slots a batch's grouping uses, in the records. nil: the grouping keeps
    /// its own.
    public var slots: RowSlots? {
        layout == .fused ? RowSlots(StridedRows(start: storage.base + slotOffset, count: rows, stride: recordStride)) : nil
    }

    /// The rows training reads and writes: the records (fused), or the model's tensors
    /// `table` and `linear` (separate).
    public func liveRows(table: AlignedBuffer<Float>, linear: AlignedBuffer<Float>?) -> (table: StridedRows<Float>, linear: StridedRows<Float>?) {
        precondition(table.count == rows * width && hasLinear == (linear != nil))
        switch layout {
        case .separate:
            return (StridedRows(table, width: width), linear.map { StridedRows($0, width: 1) })
        case .fused:
            return (StridedRows(start: storage.base, count: rows, stride: recordStride),
                    hasLinear ? StridedRows(start: storage.base + linearOffset, count: rows, stride: recordStride) : nil)
        }
    }

    /// Fused: copies the model's tensors into the records (rows `range`), which then lead.
    public func importRows(table: AlignedBuffer<Float>, linear: AlignedBuffer<Float>?, range: Range<Int>? = nil) {
        guard layout == .fused else { return }
        let live = liveRows(table: table, linear: linear)
        for r in range ?? 0..<rows {
            live.table.row(r).update(from: table.base + r * width, count: width)
            if let linear, let l = live.linear { l.row(r).pointee = linear.base[r] }
        }
    }

    /// Fused: copies rows `range` of the records out to the model's tensors.
    public func exportRows(table: AlignedBuffer<Float>, linear: AlignedBuffer<Float>?, range: Range<Int>? = nil) {
        guard layout == .fused else { return }
        let live = liveRows(table: table, linear: linear)
        for r in range ?? 0..<rows {
            (table.base + r * width).update(from: live.table.row(r), count: width)
            if let linear, let l = live.linear { linear.base[r] = l.row(r).pointee }
        }
    }

    /// Field `index` of every row's narrow state, as a checkpoint tensor's bytes (4 per row).
    public func copyNarrow(field index: Int, into raw: UnsafeMutableRawBufferPointer) {
        copyNarrow(field: index, rows: 0..<rows, into: raw)
    }

    /// The same for rows `range` (4 bytes per row of it).
    public func copyNarrow(field index: Int, rows range: Range<Int>, into raw: UnsafeMutableRawBufferPointer) {
        precondition(index < narrowCount && range.upperBound <= rows && raw.count == range.count * 4)
        guard let out = raw.baseAddress else { return }
        let narrow = self.narrow
        for r in range {
            out.storeBytes(of: narrow.row(r)[index].bitPattern, toByteOffset: (r - range.lowerBound) * 4, as: UInt32.self)
        }
    }

    public func restoreNarrow(field index: Int, from raw: UnsafeRawBufferPointer) {
        precondition(index < narrowCount && raw.count == rows * 4)
        guard let source = raw.baseAddress else { return }
        let narrow = self.narrow
        for r in 0..<rows { narrow.row(r)[index] = Float(bitPattern: source.loadUnaligned(fromByteOffset: r * 4, as: UInt32.self)) }
    }

    /// Floats `first ..< first + count` of every row's wide state, as rows x count floats.
    public func copyWide(first: Int, count: Int, into raw: UnsafeMutableRawBufferPointer) {
        copyWide(first: first, count: count, rows: 0..<rows, into: raw)
    }

    /// The same for rows `range`.
    public func copyWide(first: Int, count: Int, rows range: Range<Int>, into raw: UnsafeMutableRawBufferPointer) {
        precondition(first + count <= wideCount && range.upperBound <= rows && raw.count == range.count * count * 4)
        guard let out = raw.baseAddress else { return }
        let wide = self.wide
        for r in range {
            (out + (r - range.lowerBound) * count * 4).copyMemory(from: wide.row(r) + first, byteCount: count * 4)
        }
    }

    public func restoreWide(first: Int, count: Int, from raw: UnsafeRawBufferPointer) {
        precondition(first + count <= wideCount && raw.count == rows * count * 4)
        guard let source = raw.baseAddress else { return }
        let wide = self.wide
        for r in 0..<rows { UnsafeMutableRawPointer(wide.row(r) + first).copyMemory(from: source + r * count * 4, byteCount: count * 4) }
    }
}

extension TableOptimizerConfig.Kind {
    /// The per-row state floats this rule keeps (see `RowRecords`): lazy Adam's step record
    /// (steps, last update, linear m, linear v) and m, v; Adagrad's linear accumulator (with a
    /// linear table), then the row-wise accumulator or the elementwise ones.
    public func rowState(width: Int, hasLinear: Bool) -> (narrow: Int, wide: Int) {
        switch self {
        case .adam: (4, 2 * width)
        case .adagrad: (hasLinear ? 1 : 0, width)
        case .rowwiseAdagrad: ((hasLinear ? 1 : 0) + 1, 0)
        case .sgd: (0, 0)
        }
    }
}

extension LazyRowState {
    /// The record kept as four floats at `p` (steps and last update as bit patterns).
    @inline(__always) public static func load(from p: UnsafePointer<Float>) -> LazyRowState {
        LazyRowState(steps: p[0].bitPattern, lastUpdate: p[1].bitPattern, linearM: p[2], linearV: p[3])
    }

    @inline(__always) public func store(to p: UnsafeMutablePointer<Float>) {
        p[0] = Float(bitPattern: steps)
        p[1] = Float(bitPattern: lastUpdate)
        p[2] = linearM
        p[3] = linearV
    }
}

/// Per table row, its index among the batch's unique rows while a grouping holds it, else -1: an
/// `Int32` kept as a float's bits, so it can sit in a fused row record (`RowRecords`) or in
/// a grouping's own array alike.
public struct RowSlots: BitwiseCopyable {
    let rows: StridedRows<Float>

    public init(_ rows: StridedRows<Float>) { self.rows = rows }

    /// An array of `count` slots, all -1.
    public static func makeBuffer(count: Int) -> AlignedBuffer<Float> {
        let buffer = AlignedBuffer<Float>(uninitializedCount: count)
        buffer.fill(Float(bitPattern: UInt32.max))
        return buffer
    }

    public var count: Int { rows.count }

    @inline(__always) public subscript(row: Int) -> Int32 {
        get { Int32(bitPattern: rows.row(row).pointee.bitPattern) }
        nonmutating set { rows.row(row).pointee = Float(bitPattern: UInt32(bitPattern: newValue)) }
    }

    @inline(__always) public func address(_ row: Int) -> UnsafeRawPointer { UnsafeRawPointer(rows.row(row)) }

    /// Whether both are the same memory.
    public func isSame(as other: RowSlots) -> Bool { rows.base == other.rows.base && rows.stride == other.rows.stride }
}
