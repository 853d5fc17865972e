import FNNSystem

/// Multi-field categorical examples: every row has exactly one categorical value per field.
///
/// Ids are field-local (0 ..< fieldDims[f]); models add per-field offsets into one shared table,
/// as pytorch-fm does. Storage is row-major and shared by reference, so splits and shuffles are
/// index arrays and never copy the data.
public struct Dataset: Sendable {
    /// What messages and model files call the data: the path the user gave.
    public var name: String
    public internal(set) var fieldDims: [Int]
    public let rowCount: Int
    /// rowCount * fieldCount field-local ids.
    public internal(set) var ids: AlignedBuffer<UInt32>
    /// 0 or 1 per row.
    public let labels: AlignedBuffer<Float>
    /// False for prediction input whose rows (some or all) came without labels.
    public var hasLabels = true
    /// How raw tokens became ids, for data read from Criteo or Avazu text.
    public var vocabulary: Vocabulary?
    /// libsvm data: which field each feature index belongs to.
    public var fieldMap: FieldMap?
    /// The format the rows were read from (recorded in model files, so `eval` and `predict` read
    /// new rows the same way); nil for data made in memory.
    public var sourceFormat: DataFormat?
    /// Malformed lines left out under `skipBadLines`, and the first of them.
    public var skippedLines = 0
    public var firstSkipped: InputError?
    /// Per left-out line, how many rows were kept before it (in file order).
    public var skippedRowPositions: [Int] = []
    /// Per data line, kept or left out, the text of the column asked for as its identifier
    /// (Criteo / Avazu rows read with an id column); nil when none was asked for.
    public var rowIdentifiers: [String]?
    /// How many of the last rows came from a validation file and, after those, a test file
    /// (`joining`); nil: every row is the one file's.
    public var heldOut: HeldOutFiles?

    public var fieldCount: Int { fieldDims.count }

    /// Whether the examples are a memory-mapped cache file rather than in memory.
    public var isMapped: Bool { ids.isMapped }

    /// Bytes of ids and labels: what has to be resident to touch every example.
    public var binaryBytes: Int { ids.count * 4 + rowCount * 4 }

    /// Lets the kernel drop the pages of examples `rows` (file order) when mapped.
    public func releasePages(rows: Range<Int>) {
        ids.releasePages((rows.lowerBound * fieldCount)..<(rows.upperBound * fieldCount))
        labels.releasePages(rows)
    }

    /// The same examples, indexed for a model with field sizes `modelDims`: every id must be
    /// below its field's size there. The error names the first field that does not fit.
    public func reindexed(for modelDims: [Int]) throws(InputError) -> Dataset {
        guard modelDims.count == fieldCount else {
            throw InputError(path: name, "the data has \(fieldCount) fields but the model has \(modelDims.count)")
        }
        for f in 0..<fieldCount where fieldDims[f] > modelDims[f] {
            throw InputError(path: name, "field \(f + 1) has ids up to \(fieldDims[f] - 1) but the model's field size is \(modelDims[f]): the model does not fit this data")
        }
        var copy = self
        copy.fieldDims = modelDims
        return copy
    }
    public var positiveCount: Int {
        var n = 0
        for r in 0..<rowCount where labels[r] > 0.5 { n += 1 }
        return n
    }

    public init(name: String, fieldDims: [Int], rowCount: Int, ids: AlignedBuffer<UInt32>, labels: AlignedBuffer<Float>) {
        precondition(ids.count == rowCount * fieldDims.count && labels.count == rowCount)
        self.name = name
        self.fieldDims = fieldDims
        self.rowCount = rowCount
        self.ids = ids
        self.labels = labels
    }

    public init(name: String, fieldDims: [Int], ids: [UInt32], labels: [Float]) {
        self.init(name: name, fieldDims: fieldDims, rowCount: labels.count,
                  ids: AlignedBuffer(ids), labels: AlignedBuffer(labels))
    }

    /// An order-sensitive 64-bit digest of the examples, to tell data sets apart in model files
    /// and checkpoints without storing them.
    public var fingerprint: UInt64 {
        var hash = FNV1a(UInt64(rowCount))
        for d in fieldDims { hash.value = SplitMix64.mix(hash.value ^ UInt64(d)) }
        for i in 0..<ids.count { hash.add(word: UInt64(ids[i])) }
        for r in 0..<rowCount { hash.add(word: UInt64(labels[r].bitPattern)) }
        return SplitMix64.mix(hash.value)
    }

    /// A digest of the shape and of `samples` rows spread evenly over the file (ids and labels),
    /// for ranks to check they read the same data without each reading all of it: a rank of a
    /// mapped data set touches only the pages of its own part and of these rows.
    public func sampledFingerprint(samples: Int = 1024) -> UInt64 {
        var hash = FNV1a(UInt64(rowCount))
        for d in fieldDims { hash.value = SplitMix64.mix(hash.value ^ UInt64(d)) }
        let fields = fieldDims.count
        let count = min(samples, rowCount)
        for k in 0..<count {
            let r = count == 1 ? 0 : k * (rowCount - 1) / (count - 1)
            for f in 0..<fields { hash.add(word: UInt64(ids[r * fields + f])) }
            hash.add(word: UInt64(labels[r].bitPattern))
        }
        return SplitMix64.mix(hash.value)
    }
}
