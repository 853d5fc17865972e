import ArgumentParser
import FNNCore
import FNNExecution
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation

struct DataOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Data (- for standard input): MovieLens ratings (ML-1M ratings.dat, ML-100K u.data, ML-latest ratings.csv), Criteo TSV, Avazu CSV, libffm or libsvm text (with values and repeated fields: numeric and multi-hot), a fields TSV (a '# fields: user movie genres:multi-hot:mean price:numeric' line before the data declares multi-hot cells 'id,id:value,...' and numeric cells 'id:value'), or a binary data file (generate --out X.fnnpar). Training commands default to the built-in synthetic MovieLens-1M-shaped data.", valueName: "path"))
    var data: String?
    @Option(help: ArgumentHelp("Input format; auto recognises each by content.", valueName: "auto|movielens|fields|criteo|avazu|libffm|libsvm|binary"))
    var format: DataFormat = .auto
    @Option(help: ArgumentHelp("libsvm data: the field of each feature index, one 'INDEX FIELD' or 'FIRST-LAST FIELD' per line (fields from 0). Stored with the model.", valueName: "file"))
    var fieldMap: String?
    @Option(help: "Criteo / Avazu: tokens seen fewer times fold into their field's rare/unseen id (default: 10 for Criteo, 4 for Avazu, as pytorch-fm).")
    var minCount: Int?
    @Option(help: ArgumentHelp("Criteo / Avazu: count vocabularies on the training split only (no leakage into validation and test) or on all rows (as pytorch-fm).", valueName: "train|all"))
    var vocabFrom: VocabularySource = .train
    @Option(help: ArgumentHelp("Keep the binary cache of parsed data here (default: beside the data, as DATA.fnnpar-cache).", valueName: "dir"))
    var cacheDir: String?
    @Flag(help: "Parse the text every time; neither read nor write the binary cache.")
    var noCache = false
    @Flag(help: "Leave out malformed lines (counted and reported) instead of stopping at the first.")
    var skipBadLines = false
    @Option(name: .customLong("split"), help: ArgumentHelp("Train / validation / test shares of the seeded random split, in whole percents summing to 100 (each at least 1).", valueName: "train,validation,test"))
    var splitText = "80,10,10"
    @Option(help: ArgumentHelp("Validation rows from their own file (as xLearn's -v), in the training data's format, read with its vocabularies: they pick the kept epoch and stop early. The training file then trains on every row (and a --test file, or none, gives the test figures).", valueName: "path"))
    var validation: String?
    @Option(name: .customLong("test"), help: ArgumentHelp("Test rows from their own file, in the training data's format, read with its vocabularies. Without --validation, validation rows are carved out of the training file at --split's train : validation ratio.", valueName: "path"))
    var testFile: String?
    @Flag(help: "Train on every row, holding none out, for exactly --epochs epochs (the count an earlier run's early stopping chose): the final model for production. No validation or test figures; vocabularies count every row.")
    var trainOnAll = false
    @Option(help: ArgumentHelp("Data larger than this (e.g. 4G, 512M) is trained from its memory-mapped cache in chunks: shuffled by chunk, and within windows of 4 chunks, so at most two windows are resident; the budget covers their pages and row lists (the model, optimizer state and evaluation scores come on top). Default: half of the machine's memory.", valueName: "size"))
    var memoryBudget: String?
    @Option(name: .customLong("side-info"), help: ArgumentHelp("MovieLens: add the user attributes (gender, age group, occupation, zip prefix) and the movie's genres (multi-hot, mean-pooled) from the side files beside the ratings (users.dat + movies.dat, u.user + u.item, movies.csv) as extra fields. auto: when they are there; off: the two fields pytorch-fm reads.", valueName: "auto|on|off"))
    var sideInfo: DataRequest.SideInformation = .auto
    @Option(help: ArgumentHelp("libffm / libsvm: a field a row names more than once is multi-hot, its ids' embeddings added (sum, libffm's and xLearn's arithmetic) or averaged (mean); a field with values other than 1 is numeric (the value scales its id's embedding). Other fields stay one-hot. The run's data line lists the fields' kinds; the model records them.", valueName: "sum|mean"))
    var pooling: Pooling = .sum
    @Option(help: ArgumentHelp("Criteo's 13 integer columns: bucket (pytorch-fm: each a categorical field of int(ln(v)^2) buckets) or value (each a numeric field: one embedding scaled by sign(v) ln(1 + |v|); an empty column adds nothing).", valueName: "bucket|value"))
    var numeric: CriteoNumeric = .bucket
    @Option(help: ArgumentHelp("libffm / libsvm / fields TSV: the most ids one row may give a multi-hot field (1 to 65536); a row with more is a bad line (an error naming it, or left out with --skip-bad-lines). Each batch reserves room for the most ids of every field.", valueName: "n"))
    var maxIds: Int = FieldSpec.maximumIdsPerField

    func validate() throws {
        _ = try memoryBudgetBytes()
        guard (1...FieldSpec.maximumIdsPerField).contains(maxIds) else {
            throw ValidationError("--max-ids must be between 1 and \(FieldSpec.maximumIdsPerField)")
        }
        _ = try splitProportions()
        if let minCount { guard minCount >= 1, minCount <= 1_000_000_000 else { throw ValidationError("--min-count must be between 1 and 1000000000") } }
        if !heldOutPaths.isEmpty {
            guard let data else { throw ValidationError("--validation and --test need --data: the training file they are held out from") }
            if trainOnAll { throw ValidationError("--train-on-all holds nothing out: leave out --validation and --test") }
            for path in heldOutPaths {
                if path == "-" { throw ValidationError("only --data may be standard input (-)") }
                if path == data { throw ValidationError("\(path) is the training file itself: held-out rows must be other rows") }
            }
            if let validation, validation == testFile { throw ValidationError("--validation and --test name the same file") }
        }
    }

    /// The held-out files, validation first.
    var heldOutPaths: [String] { [validation, testFile].compactMap { $0 } }

    func splitProportions() throws -> DataSplit.Proportions {
        guard let proportions = DataSplit.Proportions(splitText) else {
            throw ValidationError("--split must be three whole percents, each at least 1, summing to 100, e.g. 80,10,10 (got '\(splitText)')")
        }
        return proportions
    }

    /// The budget in bytes.
    func memoryBudgetBytes() throws -> Int {
        guard let text = memoryBudget?.uppercased() else { return DataRequest.defaultMemoryBudget }
        let units: [Character: Double] = ["K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12]
        var number = Substring(text)
        var scale = 1.0
        if let last = number.last, let unit = units[last] { scale = unit; number = number.dropLast() }
        // Checked as a Double before the conversion: Int(inf) or Int(1e30) would trap.
        guard let value = Double(number), value.isFinite, value > 0, value * scale >= 1 else {
            throw ValidationError("--memory-budget must be a size such as 4G, 512M or 100000000 (got '\(memoryBudget!)')")
        }
        guard value * scale <= 1e18 else {
            throw ValidationError("--memory-budget \(memoryBudget!) is beyond any machine (at most 1000000T)")
        }
        return Int(value * scale)
    }

    /// What these options ask the data source for.
    func request(seed: UInt64) throws -> DataRequest {
        var request = DataRequest(path: data)
        request.format = format
        request.fieldMapPath = fieldMap
        request.minCount = minCount
        request.vocabularyFrom = vocabFrom
        request.cacheDirectory = cacheDir
        request.useCache = !noCache
        request.skipBadLines = skipBadLines
        request.split = try splitProportions()
        request.validationPath = validation
        request.testPath = testFile
        request.trainOnAll = trainOnAll
        request.memoryBudget = try memoryBudgetBytes()
        request.seed = seed
        request.sideInformation = sideInfo
        request.pooling = pooling
        request.criteoNumeric = numeric
        request.maxIdsPerField = maxIds
        return request
    }

    func load(log: Log, seed: UInt64, executor: PhaseExecutor? = nil) throws -> Dataset {
        do { return try DataSource(try request(seed: seed), note: log.say).load(executor: executor) } catch let error as InputError {
            throw CLIError(error.description)
        }
    }
}

extension DataFormat: ExpressibleByArgument {}
extension VocabularySource: ExpressibleByArgument {}
extension DataRequest.SideInformation: ExpressibleByArgument {}
extension Pooling: ExpressibleByArgument {}
extension CriteoNumeric: ExpressibleByArgument {}
