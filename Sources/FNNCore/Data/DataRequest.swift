import FNNSystem

/// Everything that decides which rows, ids and vocabularies a data set holds: what every command
/// that reads training or evaluation data asks the data source for (the CLI fills it from its
/// options, tests and benchmarks fill it directly). Two equal requests over unchanged files give
/// byte-identical data sets, which the binary cache's key relies on.
public struct DataRequest: Sendable, Equatable {
    /// The data file; "-" is standard input; nil is the built-in synthetic MovieLens-1M-shaped set.
    public var path: String?
    public var format: DataFormat = .auto
    /// libsvm data: the file mapping feature indices to fields.
    public var fieldMapPath: String?
    /// Criteo / Avazu: tokens seen fewer times fold into the field's rare/unseen id; nil: the format's default.
    public var minCount: Int?
    public var vocabularyFrom: VocabularySource = .train
    /// Where the binary cache lives; nil: beside the data.
    public var cacheDirectory: String?
    /// False: parse the text every time, neither reading nor writing the cache.
    public var useCache = true
    public var skipBadLines = false
    /// The seeded split's proportions (vocabularies counted on the training part depend on it).
    public var split: DataSplit.Proportions = .standard
    /// Held-out rows from their own files, in the training data's format.
    public var validationPath: String?
    public var testPath: String?
    /// Every row trains: vocabularies count all of them.
    public var trainOnAll = false
    /// Data larger than this is converted a segment at a time and trained from its mapped cache.
    public var memoryBudget: Int = DataRequest.defaultMemoryBudget

    /// Half of the machine's memory (of this rank's share of it, when ranks share the host).
    public static var defaultMemoryBudget: Int { physicalMemoryBytes / 2 / Launcher.localRanks.count }
    /// MovieLens: join the user and movie attributes found beside the ratings as extra fields.
    public var sideInformation: SideInformation = .auto
    /// libffm / libsvm: how a field named more than once in a row (multi-hot) pools its ids.
    public var pooling: Pooling = .sum
    /// libffm / libsvm / fields TSV: a row naming more ids of one field is a bad line.
    public var maxIdsPerField = FieldSpec.maximumIdsPerField
    /// Criteo: the integer columns as bucket tokens (pytorch-fm) or numeric values.
    public var criteoNumeric: CriteoNumeric = .bucket
    /// The split's seed (and so the training rows that vocabularies count).
    public var seed: UInt64 = 42

    public init(path: String?) { self.path = path }

    /// Whether MovieLens ratings take the side files beside them as extra fields.
    public enum SideInformation: String, Sendable, CaseIterable, Codable {
        /// When the side files are there.
        case auto
        /// The side files must be there.
        case on
        /// Ratings only: the two fields pytorch-fm reads.
        case off
    }

    /// The held-out files, validation first.
    public var heldOutPaths: [String] { [validationPath, testPath].compactMap { $0 } }

    /// Whether any input is read once (standard input, a pipe, a device): such text is never
    /// cached, since its cache would be keyed to a temporary copy and keying it reads the stream.
    public var readsAStream: Bool {
        ([path].compactMap { $0 } + heldOutPaths).contains(where: PlainInputs.isStream)
    }
}
