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

    /// The rule of a run whose validation or test rows came from their own files: `eval --split`
    /// cannot find such parts in one file (score the test file itself instead).
    public static func rule(_ proportions: Proportions, heldOut: HeldOutFiles) -> String {
        "held-out-files-v1 validation-file \(heldOut.validationRows) test-file \(heldOut.testRows)"
            + (heldOut.validationRows == 0 ? " validation-carved \(proportions.train):\(proportions.validation)" : "")
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
    /// Rows 0 ..< permutedCount are split by the permutation; the rows after them came from
    /// held-out files (`HeldOutFiles`): validation rows first, then test rows.
    @usableFromInline let permutedCount: Int
    @usableFromInline let permutedTrain: Int
    @usableFromInline let permutedValidation: Int
    @usableFromInline let validationFileRows: Int
    @usableFromInline let permutation: KeyedPermutation
    /// The rows from held-out files, if any.
    public var heldOut: HeldOutFiles? {
        permutedCount == rowCount ? nil : HeldOutFiles(validationRows: validationFileRows, testRows: rowCount - permutedCount - validationFileRows)
    }

    /// torch's `random_split` proportions as pytorch-fm's example uses them: int(0.8 n) train,
    /// int(0.1 n) validation, the rest test.
    public init(rowCount: Int, seed: UInt64, proportions: Proportions) {
        // Percent / 100 in Double: 80 / 100 is the same double as 0.8, so the standard split's
        // counts are those it always had.
        self.init(rowCount: rowCount, seed: seed, trainFraction: Double(proportions.train) / 100,
                  validationFraction: Double(proportions.validation) / 100)
    }

    public init(rowCount: Int, seed: UInt64, trainFraction: Double = 0.8, validationFraction: Double = 0.1) {
        self.init(permuted: rowCount, train: Int(Double(rowCount) * trainFraction),
                  validation: Int(Double(rowCount) * validationFraction), validationFileRows: 0, testFileRows: 0, seed: seed)
    }

    /// The training file's rows first (`rowCount - heldOut.validationRows - heldOut.testRows` of
    /// them), then the held-out files' rows. The training file's rows all train, except with a
    /// test file and no validation file: then validation is carved out of the training file, at
    /// the proportions' train : validation ratio, by the seed's permutation.
    public init(rowCount: Int, seed: UInt64, proportions: Proportions, heldOut: HeldOutFiles) {
        let trainFileRows = rowCount - heldOut.validationRows - heldOut.testRows
        precondition(trainFileRows >= 0, "held-out rows are part of the row count")
        var train = trainFileRows
        if heldOut.validationRows == 0 {
            train = Int(Double(trainFileRows) * Double(proportions.train) / Double(proportions.train + proportions.validation))
        }
        self.init(permuted: trainFileRows, train: train, validation: trainFileRows - train,
                  validationFileRows: heldOut.validationRows, testFileRows: heldOut.testRows, seed: seed)
    }

    private init(permuted: Int, train: Int, validation: Int, validationFileRows: Int, testFileRows: Int, seed: UInt64) {
        rowCount = permuted + validationFileRows + testFileRows
        permutedCount = permuted
        permutedTrain = train
        permutedValidation = validation
        self.validationFileRows = validationFileRows
        trainCount = train
        validationCount = validation + validationFileRows
        permutation = KeyedPermutation(count: permuted, seed: SeedDerivation.split(seed))
    }

    @inlinable public func part(ofRow row: Int) -> Part {
        if row >= permutedCount { return row < permutedCount + validationFileRows ? .validation : .test }
        let position = permutation.inverse(row)
        return position < permutedTrain ? .train : position < permutedTrain + permutedValidation ? .validation : .test
    }

    /// The rows of a part, in split order (a held-out file's rows in file order, after any of the
    /// training file's).
    public func rows(of part: Part) -> [Int] {
        let permuted: Range<Int>
        let appended: Range<Int>
        switch part {
        case .train:
            permuted = 0..<permutedTrain
            appended = 0..<0
        case .validation:
            permuted = permutedTrain..<(permutedTrain + permutedValidation)
            appended = permutedCount..<(permutedCount + validationFileRows)
        case .test:
            permuted = (permutedTrain + permutedValidation)..<permutedCount
            appended = (permutedCount + validationFileRows)..<rowCount
        }
        return permuted.map { permutation.apply($0) } + Array(appended)
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

/// Rows appended after the training file's (`--validation FILE`, `--test FILE`), in that order.
public struct HeldOutFiles: Sendable, Codable, Equatable {
    public var validationRows: Int
    public var testRows: Int

    public init(validationRows: Int, testRows: Int) {
        self.validationRows = validationRows
        self.testRows = testRows
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
