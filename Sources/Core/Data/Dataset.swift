/// Multi-field categorical examples: every row has exactly one categorical value per field.
///
/// Ids are field-local (0 ..< fieldDims[f]); models add per-field offsets into one shared table,
/// as pytorch-fm does. Storage is row-major and shared by reference, so splits and shuffles are
/// index arrays and never copy the data.
public struct Dataset: Sendable {
    public let name: String
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
        var h: UInt64 = 0xCBF2_9CE4_8422_2325 ^ UInt64(rowCount)
        for d in fieldDims { h = SplitMix64.mix(h ^ UInt64(d)) }
        for i in 0..<ids.count { h = (h ^ UInt64(ids[i])) &* 0x100_0000_01B3 }
        for r in 0..<rowCount { h = (h ^ UInt64(labels[r].bitPattern)) &* 0x100_0000_01B3 }
        return SplitMix64.mix(h)
    }
}

/// The row ids of a seeded random train / validation / test split, defined by a keyed
/// permutation of the rows (`KeyedPermutation`): the split's first trainCount positions are the
/// training rows, the next validationCount the validation rows, the rest the test rows.
///
/// Nothing per row is stored: which part a row belongs to is one inverse-permutation evaluation,
/// so data larger than memory is split without a row list, and `train` / `validation` / `test`
/// build their lists only when asked (in memory, where the data fits anyway).
public struct DataSplit: Sendable {
    public enum Part: Sendable { case train, validation, test }

    /// The parts' shares in percent (`--split 80,10,10`): int(n p / 100) rows each for training and
    /// validation, the rest test, as torch's `random_split` with pytorch-fm's 0.8 / 0.1.
    public struct Proportions: Sendable, Codable, Equatable, CustomStringConvertible {
        public var train: Int, validation: Int, test: Int
        public static let standard = Proportions(train: 80, validation: 10, test: 10)

        public init(train: Int, validation: Int, test: Int) {
            self.train = train
            self.validation = validation
            self.test = test
        }

        /// "80,10,10" (or "80/10/10"): whole percents, each part at least 1, summing to 100.
        public init?(_ text: String) {
            let parts = text.split(whereSeparator: { $0 == "," || $0 == "/" }).map { Int($0) }
            guard parts.count == 3, let t = parts[0], let v = parts[1], let s = parts[2], t >= 1, v >= 1, s >= 1,
                  t + v + s == 100 else { return nil }
            self.init(train: t, validation: v, test: s)
        }

        public var description: String { "\(train)/\(validation)/\(test)" }
    }

    /// How rows are assigned to parts, as model files record it: a split made by another rule
    /// would put other rows in "test".
    public static func rule(_ proportions: Proportions) -> String { "keyed-permutation-v1 \(proportions)" }
    public static let rule = rule(.standard)

    /// The rule of a run that trained on every row (`--train-on-all`): it has no held-out part.
    public static let allRowsRule = "all-rows"

    /// Every row in training, none held out (`--train-on-all`, after an earlier run chose the
    /// epoch count); the order of the rows is still the seed's.
    public static func allRows(rowCount: Int, seed: UInt64) -> DataSplit {
        DataSplit(rowCount: rowCount, seed: seed, trainFraction: 1, validationFraction: 0)
    }

    /// The proportions a recorded rule names, if this fnn-par makes its splits so.
    public static func proportions(ofRule rule: String) -> Proportions? {
        let prefix = "keyed-permutation-v1 "
        guard rule.hasPrefix(prefix) else { return nil }
        return Proportions(String(rule.dropFirst(prefix.count)))
    }

    public let rowCount: Int
    public let trainCount: Int
    public let validationCount: Int
    public var testCount: Int { rowCount - trainCount - validationCount }
    @usableFromInline let permutation: KeyedPermutation

    /// torch's `random_split` proportions as pytorch-fm's example uses them: int(0.8 n) train,
    /// int(0.1 n) validation, the rest test.
    public init(rowCount: Int, seed: UInt64, proportions: Proportions) {
        // Percent / 100 in Double: 80 / 100 is the same double as 0.8, so the standard split's
        // counts are those it always had.
        self.init(rowCount: rowCount, seed: seed, trainFraction: Double(proportions.train) / 100,
                  validationFraction: Double(proportions.validation) / 100)
    }

    public init(rowCount: Int, seed: UInt64, trainFraction: Double = 0.8, validationFraction: Double = 0.1) {
        self.rowCount = rowCount
        trainCount = Int(Double(rowCount) * trainFraction)
        validationCount = Int(Double(rowCount) * validationFraction)
        permutation = KeyedPermutation(count: rowCount, seed: seed ^ 0x5EED_5B17)
    }

    @inlinable public func part(ofRow row: Int) -> Part {
        let position = permutation.inverse(row)
        return position < trainCount ? .train : position < trainCount + validationCount ? .validation : .test
    }

    /// The rows of a part, in split order.
    public func rows(of part: Part) -> [Int] {
        let range: Range<Int>
        switch part {
        case .train: range = 0..<trainCount
        case .validation: range = trainCount..<(trainCount + validationCount)
        case .test: range = (trainCount + validationCount)..<rowCount
        }
        return range.map { permutation.apply($0) }
    }

    public var train: [Int] { rows(of: .train) }
    public var validation: [Int] { rows(of: .validation) }
    public var test: [Int] { rows(of: .test) }
    public func count(of part: Part) -> Int {
        switch part {
        case .train: return trainCount
        case .validation: return validationCount
        case .test: return testCount
        }
    }
}

/// A pseudo-random permutation of 0 ..< count that can be evaluated, and inverted, at any point
/// without a table: a four-round Feistel network keyed by the seed over the smallest even power
/// of two at least `count`, walked until it lands inside the range (fewer than four steps on
/// average, since that power is below 4 * count).
public struct KeyedPermutation: Sendable {
    @usableFromInline let count: UInt64
    @usableFromInline let halfBits: UInt64
    @usableFromInline let mask: UInt64
    @usableFromInline let keys: (UInt64, UInt64, UInt64, UInt64)

    public init(count: Int, seed: UInt64) {
        precondition(count < 1 << 62, "a keyed permutation covers fewer than 2^62 elements")
        self.count = UInt64(max(count, 1))
        var bits: UInt64 = 2
        while bits < 62 && (UInt64(1) << bits) < self.count { bits += 2 }
        halfBits = bits / 2
        mask = (UInt64(1) << halfBits) - 1
        var s = SplitMix64(seed: seed)
        keys = (s.next(), s.next(), s.next(), s.next())
    }

    @inlinable func round(_ x: UInt64, _ key: UInt64) -> UInt64 { SplitMix64.mix(x ^ key) & mask }

    @inlinable func forward(_ v: UInt64) -> UInt64 {
        var l = v >> halfBits, r = v & mask
        (l, r) = (r, l ^ round(r, keys.0))
        (l, r) = (r, l ^ round(r, keys.1))
        (l, r) = (r, l ^ round(r, keys.2))
        (l, r) = (r, l ^ round(r, keys.3))
        return (l << halfBits) | r
    }

    @inlinable func backward(_ v: UInt64) -> UInt64 {
        var l = v >> halfBits, r = v & mask
        (l, r) = (r ^ round(l, keys.3), l)
        (l, r) = (r ^ round(l, keys.2), l)
        (l, r) = (r ^ round(l, keys.1), l)
        (l, r) = (r ^ round(l, keys.0), l)
        return (l << halfBits) | r
    }

    /// The element at position `i`.
    @inlinable public func apply(_ i: Int) -> Int {
        var x = forward(UInt64(i))
        while x >= count { x = forward(x) }
        return Int(x)
    }

    /// The position of element `j`.
    @inlinable public func inverse(_ j: Int) -> Int {
        var x = backward(UInt64(j))
        while x >= count { x = backward(x) }
        return Int(x)
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
