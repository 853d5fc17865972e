import FNNSystem
import Foundation

/// What `eval` and `predict` score: a model file and data read as that model's training data was
/// (its recorded format, vocabularies and libsvm field map), so raw Criteo / Avazu / libffm /
/// libsvm rows map to the rows they trained. Lives beside the model files because the mapping is
/// the model's: the command line only says which files.
public struct ScoringRequest: Sendable {
    public var modelPath: String
    /// "-" is standard input; gzip and zstd files are read directly.
    public var dataPath: String
    public var format: DataFormat = .auto
    /// Field sizes of a PyTorch model file, which does not record them (default: from the data).
    public var fieldDims: [Int]?
    public var skipBadLines = false
    /// Rows may come without labels (predict).
    public var unlabeled = false
    /// Criteo / Avazu: keep this 0-based column's text per line (predict's --id-column).
    public var identifierColumn: Int?
    /// Ids past a field of a model without vocabularies score through a zero fallback row
    /// instead of being refused (predict).
    public var fallbackForUnseen = false
    /// Rank r of R keeps only the table rows it holds (tables sharded across ranks that score
    /// together); (0, 1): the whole model.
    public var shardOf: (rank: Int, ranks: Int) = (0, 1)
    /// MovieLens: the folder holding the side files a model was trained with (nil: beside the data).
    public var sideFilesFolder: String?

    public init(modelPath: String, dataPath: String) {
        self.modelPath = modelPath
        self.dataPath = dataPath
    }
}

/// The model, the data indexed for it, what the model file records, and per field how many rows
/// hold an id or token the model has no row of its own for.
public struct ScoringData {
    public var model: Model
    public var dataset: Dataset
    public var metadata: [String: String]
    public var unseenPerField: [Int]
    /// Whether unseen ids were mapped to fallback rows (`Model.withFallbackRows`), not to
    /// vocabulary rare/unseen rows.
    public var usesFallbackRows = false

    /// Reads `request`'s model and data. Standard input and compressed files are read from plain
    /// copies; errors name what was given.
    public static func load(_ request: ScoringRequest, note: @escaping (String) -> Void) throws -> ScoringData {
        let inputs = PlainInputs(note: note)
        let readable = try inputs.readable(request.dataPath)
        let given = inputs.name(of: request.dataPath)
        do {
            var loaded = try load(request, readable: readable)
            loaded.dataset.name = given
            return loaded
        } catch let error as InputError {
            throw inputs.displayed(error)
        } catch let error as ScoringError where readable != request.dataPath {
            throw ScoringError(error.description.replacingOccurrences(of: readable, with: given))
        }
    }

    private static func load(_ request: ScoringRequest, readable data: String) throws -> ScoringData {
        let model = request.modelPath
        let file = try SafeTensors.read(path: model)
        var fieldCount: Int? = request.fieldDims?.count
        if fieldCount == nil, let text = file.metadata["field_dims"], let dims = try? JSONDecoder().decode([Int].self, from: Data(text.utf8)) {
            fieldCount = dims.count
        }
        var dataset: Dataset
        var rareOrUnseen: [Int]?
        let resolved = request.format == .auto ? try formatFor(data, recorded: file.metadata["data_format"]) : request.format
        if let kind = resolved.categorical {
            // Raw rows: the model's own vocabularies map their tokens (unseen ones to each field's unseen id).
            guard let vocabulary = try Vocabulary(file: file, path: model) else {
                throw ScoringError("\(model): this model records no vocabularies, so it cannot read raw \(resolved.rawValue) rows")
            }
            let fieldMap = try FieldMap(file: file, path: model)
            if kind == .libsvm && fieldMap == nil {
                throw ScoringError("\(model): this model records no libsvm field map, so it cannot read libsvm rows")
            }
            let modelSchema = try recordedSchema(file, model: model, fieldCount: vocabulary.fields.count)
            var raw = try loadRawCategorical(path: data, format: kind, skipBadLines: request.skipBadLines, fieldMap: fieldMap,
                                             minimumFields: vocabulary.fields.count,
                                             scoring: ScoringInput(unlabeledRows: request.unlabeled, identifierColumn: request.identifierColumn),
                                             entries: !modelSchema.isOneHot,
                                             criteoNumeric: modelSchema.fields.first?.kind == .numeric ? .value : .bucket,
                                             oneHotOnly: modelSchema.isOneHot ? "the model \(model)" : nil)
            guard raw.fieldCount == vocabulary.fields.count else {
                throw ScoringError("\(model): its vocabularies cover \(vocabulary.fields.count) fields, the data has \(raw.fieldCount)")
            }
            // Rows a one-hot model cannot take come as entries; their fields are named.
            let observed = raw.observations ?? [FieldObservation](repeating: FieldObservation(mostItems: 1), count: raw.fieldCount)
            raw = raw.resolvingFields(try modelSchema.fitting(observed, path: data))
            dataset = raw.dataset(vocabulary: vocabulary)
            rareOrUnseen = raw.rareOrUnseenCounts(vocabulary: vocabulary)
        } else {
            if request.identifierColumn != nil {
                throw ScoringError("\(data): --id-column reads Criteo and Avazu rows; \(resolved.rawValue) rows have no id column")
            }
            dataset = try loadDataset(path: data, format: resolved, unlabeledFields: request.unlabeled ? fieldCount : nil,
                                      skipBadLines: request.skipBadLines)
            dataset = try withSideInformation(dataset, model: model, file: file, dataPath: request.dataPath,
                                              sideFilesFolder: request.sideFilesFolder, format: resolved)
            // A fields TSV declares its kinds; they must be the model's (MovieLens joined above is).
            let modelSchema = try recordedSchema(file, model: model, fieldCount: fieldCount ?? dataset.fieldCount)
            if !(modelSchema.isOneHot && dataset.schema.isOneHot) {
                if let problem = modelSchema.mismatch(withData: dataset.schema) {
                    throw InputError(path: data, "\(problem): the model does not fit this data" + (dataset.schema.isOneHot && resolved == .fields
                        ? " (a fields TSV declares multi-hot and numeric columns on a '# fields:' line)" : ""))
                }
                dataset = try dataset.checked(against: modelSchema)
            }
        }
        // The sharded lookup moves one table row per field of an example; multi-hot and valued
        // rows are scored on whole tables.
        if request.shardOf.ranks > 1 && dataset.variable != nil {
            throw ScoringError("\(data): tables sharded across ranks score one-hot fields only; these rows have multi-hot or valued fields (\(dataset.schema.summary)): score with --tables replicated, or in one process")
        }
        let ownFormat = file.metadata["format"] == ModelFile.formatName
        let loaded = try ModelFile.model(from: file, path: model, fieldDims: ownFormat ? nil : (request.fieldDims ?? dataset.fieldDims),
                                         dropout: 0, shardOf: request.shardOf).0
        if let rareOrUnseen {
            return ScoringData(model: loaded, dataset: try dataset.reindexed(for: loaded.config.fieldDims), metadata: file.metadata,
                               unseenPerField: rareOrUnseen)
        }
        let dims = loaded.config.fieldDims
        let fits = dataset.fieldCount == dims.count && zip(dataset.fieldDims, dims).allSatisfy { $0 <= $1 }
        guard request.fallbackForUnseen, !fits else {
            return ScoringData(model: loaded, dataset: try dataset.reindexed(for: dims), metadata: file.metadata,
                               unseenPerField: [Int](repeating: 0, count: dims.count))
        }
        guard request.shardOf.ranks == 1 else {
            throw ScoringError("\(data): it holds ids past the model's fields (new users, items or ids), which score through fallback rows added to the whole table; with tables sharded across ranks there is none: score with --tables replicated, or in one process")
        }
        let (mapped, unseen) = try dataset.mappingUnseenIds(toFallbackOf: dims)
        return ScoringData(model: loaded.withFallbackRows(), dataset: mapped, metadata: file.metadata, unseenPerField: unseen,
                           usesFallbackRows: true)
    }

    /// The field kinds `file` records (one-hot when it records none).
    private static func recordedSchema(_ file: SafeTensors, model: String, fieldCount: Int) throws -> FieldSchema {
        guard let schema = FieldSchema.parse(stored: file.metadata["field_schema"], fieldCount: fieldCount) else {
            throw ScoringError("\(model): corrupt model metadata: field_schema")
        }
        return schema
    }

    /// MovieLens ratings for a model trained with side information get the side files beside
    /// them joined as in training. Side ids are the side files' sorted values, so the same files
    /// give the same ids; files with another number of values per field would give other ids
    /// silently, and are refused.
    private static func withSideInformation(_ ratings: Dataset, model: String, file: SafeTensors, dataPath: String,
                                            sideFilesFolder: String?, format: DataFormat) throws -> Dataset {
        guard let text = file.metadata["field_schema"], format == .movielens, ratings.fieldCount == 2 else { return ratings }
        let dims = file.metadata["field_dims"].flatMap { try? JSONDecoder().decode([Int].self, from: Data($0.utf8)) } ?? []
        guard let modelSchema = FieldSchema.parse(stored: text, fieldCount: dims.count) else {
            throw ScoringError("\(model): corrupt model metadata: field_schema")
        }
        let found = try sideFilesFolder.map { (folder) throws(InputError) in try MovieLensSideInformation.find(inFolder: folder) }
            ?? MovieLensSideInformation.find(besideRatings: dataPath)
        guard let side = found else {
            throw ScoringError("\(model) was trained with MovieLens side information (\(modelSchema.summary)), but there are no side files "
                + (sideFilesFolder.map { "in \($0)" } ?? "beside \(dataPath)")
                + ": give --side-files with the folder of the users and movies files the model was trained with")
        }
        let joined = try side.joined(ratings).checked(against: modelSchema)
        if let recorded = file.metadata["side_information"], recorded != side.digest {
            throw ScoringError("\(side.files.joined(separator: ", ")): their values differ from those the model \(model) was trained with (side information digest \(side.digest), the model's \(recorded)): these are not the side files it was trained with")
        }
        for f in 2..<max(2, min(dims.count, joined.fieldCount)) where dims[f] != joined.fieldDims[f] {
            throw ScoringError("\(side.files.joined(separator: ", ")): field \(f + 1) (\(modelSchema.fields[f].name)) has \(joined.fieldDims[f]) ids but the model was trained with \(dims[f]): these are not the side files it was trained with")
        }
        return joined
    }

    /// `--format auto` for data scored by a model: a binary data file is one by its content;
    /// anything else is read in the format the model was trained on (rows such as `user<TAB>movie`
    /// match no format by content alone), and by content only when the model records none.
    static func formatFor(_ path: String, recorded: String?) throws(InputError) -> DataFormat {
        if let recorded = recorded.flatMap(DataFormat.init(rawValue:)), recorded != .binary, recorded != .auto {
            return (try? detectFormat(path: path)) == .binary ? .binary : recorded
        }
        return try detectFormat(path: path)
    }
}

/// Why a model cannot score the data given: the file and the mismatch.
public struct ScoringError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ message: String) { description = message }
}
