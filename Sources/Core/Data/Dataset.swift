/// Multi-field categorical examples: every row has exactly one categorical value per field.
///
/// Ids are field-local (0 ..< fieldDims[f]); models add per-field offsets into one shared table,
/// as pytorch-fm does. Storage is row-major and shared by reference, so splits and shuffles are
/// index arrays and never copy the data.
public struct Dataset: Sendable {
    public let name: String
    public let fieldDims: [Int]
    public let rowCount: Int
    /// rowCount * fieldCount field-local ids.
    public let ids: AlignedBuffer<UInt32>
    /// 0 or 1 per row.
    public let labels: AlignedBuffer<Float>
    /// False for prediction input whose rows (some or all) came without labels.
    public var hasLabels = true
    /// How raw tokens became ids, for data read from Criteo or Avazu text.
    public var vocabulary: Vocabulary?
    /// libsvm data: which field each feature index belongs to.
    public var fieldMap: FieldMap?
    /// Malformed lines left out under `skipBadLines`, and the first of them.
    public var skippedLines = 0
    public var firstSkipped: InputError?

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
        var copy = Dataset(name: name, fieldDims: modelDims, rowCount: rowCount, ids: ids, labels: labels)
        copy.hasLabels = hasLabels
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
        var h: UInt64 = 0xCBF2_9CE4_8422_2325 ^ UInt64(rowCount)
        for d in fieldDims { h = SplitMix64.mix(h ^ UInt64(d)) }
        for i in 0..<ids.count { h = (h ^ UInt64(ids[i])) &* 0x100_0000_01B3 }
        for r in 0..<rowCount { h = (h ^ UInt64(labels[r].bitPattern)) &* 0x100_0000_01B3 }
        return SplitMix64.mix(h)
    }
}

/// The row ids of a seeded random train / validation / test split.
public struct DataSplit: Sendable {
    public let train: [Int]
    public let validation: [Int]
    public let test: [Int]

    /// torch's `random_split` proportions as pytorch-fm's example uses them: int(0.8 n) train,
    /// int(0.1 n) validation, the rest test.
    public init(rowCount: Int, seed: UInt64, trainFraction: Double = 0.8, validationFraction: Double = 0.1) {
        var order = Array(0..<rowCount)
        var rng = Xoshiro256(seed: seed ^ 0x5EED_5B17)
        order.shuffleDeterministically(using: &rng)
        let nTrain = Int(Double(rowCount) * trainFraction)
        let nVal = Int(Double(rowCount) * validationFraction)
        train = Array(order[0..<nTrain])
        validation = Array(order[nTrain..<(nTrain + nVal)])
        test = Array(order[(nTrain + nVal)...])
    }

    public init(train: [Int], validation: [Int], test: [Int]) {
        self.train = train; self.validation = validation; self.test = test
    }
}

extension Array {
    /// Fisher-Yates with our own generator: the standard library's `shuffle(using:)` does not
    /// promise the same permutation across Swift versions.
    @inlinable public mutating func shuffleDeterministically(using rng: inout Xoshiro256) {
        guard count > 1 else { return }
        for i in stride(from: count - 1, to: 0, by: -1) {
            let j = rng.nextInt(below: i + 1)
            if i != j { swapAt(i, j) }
        }
    }
}
