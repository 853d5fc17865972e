import FNNSystem

/// Multi-field examples, in one of two forms: fixed-width one-hot rows (exactly one id per field,
/// value 1: `ids`, the fast path), or variable rows (`variable`: any number of (field, id, value)
/// entries per row, for multi-hot and numeric fields), as `schema` says.
///
/// Ids are field-local (0 ..< fieldDims[f]); models add per-field offsets into one shared table,
/// as pytorch-fm does. Storage is row-major and shared by reference, so splits and shuffles are
/// index arrays and never copy the data.
public struct Dataset: Sendable {
    /// What messages and model files call the data: the path the user gave.
    public var name: String
    public internal(set) var fieldDims: [Int]
    public let rowCount: Int
    /// rowCount * fieldCount field-local ids (one-hot form); empty for variable rows.
    public internal(set) var ids: AlignedBuffer<UInt32>
    /// The rows as (field, id, value) entries, when a field is not categorical; nil for one-hot data.
    public internal(set) var variable: VariableRows?
    /// Each field's kind; all categorical for one-hot data.
    public internal(set) var schema: FieldSchema
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
    /// The side files' digest (`MovieLensSideInformation.digest`) when they were joined.
    public var sideInformationDigest: String?
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
    public var isMapped: Bool { variable?.table.isMapped ?? ids.isMapped }

    /// Bytes of ids (or entries) and labels: what has to be resident to touch every example.
    public var binaryBytes: Int { ids.count * 4 + (variable?.byteCount ?? 0) + rowCount * 4 }

    /// The schema a model of this data records: nil while every field is categorical.
    public var modelSchema: FieldSchema? { schema.isOneHot ? nil : schema }

    /// Most positions one example makes (`fieldCount` for one-hot data).
    public var positionsPerExample: Int { schema.positionsPerExample }

    /// Lets the kernel drop the pages of examples `rows` (file order) when mapped.
    public func releasePages(rows: Range<Int>) {
        if let variable {
            variable.releasePages(rows: rows)
        } else {
            ids.releasePages((rows.lowerBound * fieldCount)..<(rows.upperBound * fieldCount))
        }
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

    /// The same examples, checked against a model of schema `modelSchema`: the error names the
    /// first field whose kind or pooling differs.
    public func checked(against modelSchema: FieldSchema) throws(InputError) -> Dataset {
        if let problem = modelSchema.mismatch(withData: schema) {
            throw InputError(path: name, "\(problem): the model does not fit this data")
        }
        var copy = self
        // The model's pooling and names rule; the data's per-field limits size the batches.
        copy.schema = FieldSchema(fields: zip(modelSchema.fields, schema.fields).map { model, data in
            var spec = model
            spec.maxIds = data.maxIds
            return spec
        })
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
        variable = nil
        schema = .oneHot(fieldCount: fieldDims.count)
    }

    /// Variable rows under `schema`. Rows whose every field is categorical are still variable
    /// rows here (one entry per field); use the fixed-width init for the fast path.
    public init(name: String, fieldDims: [Int], schema: FieldSchema, rows: VariableRows, labels: AlignedBuffer<Float>) {
        precondition(schema.count == fieldDims.count && rows.rowCount == labels.count)
        self.name = name
        self.fieldDims = fieldDims
        rowCount = labels.count
        ids = AlignedBuffer(count: 0)
        self.labels = labels
        variable = rows
        self.schema = schema
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
        if let variable {
            hash.add(schemaOf: self)
            for r in 0...rowCount { hash.add(word: UInt64(variable.starts[r])) }
            for k in 0..<variable.entryCount {
                let entry = variable.table[k]
                hash.add(word: UInt64(entry.field) << 32 | UInt64(entry.id))
                hash.add(word: UInt64(entry.value.bitPattern))
            }
        }
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
        if variable != nil { hash.add(schemaOf: self) }
        for k in 0..<count {
            let r = count == 1 ? 0 : k * (rowCount - 1) / (count - 1)
            if let variable {
                for e in variable.entries(ofRow: r) {
                    let entry = variable.table[e]
                    hash.add(word: UInt64(entry.field) << 32 | UInt64(entry.id))
                    hash.add(word: UInt64(entry.value.bitPattern))
                }
            } else {
                for f in 0..<fields { hash.add(word: UInt64(ids[r * fields + f])) }
            }
            hash.add(word: UInt64(labels[r].bitPattern))
        }
        return SplitMix64.mix(hash.value)
    }
}

extension FNV1a {
    /// The kinds and poolings of a data set's fields (not their names): data read with other
    /// pooling is other data.
    mutating func add(schemaOf data: Dataset) {
        for spec in data.schema.fields {
            add(word: UInt64(FieldKind.allCases.firstIndex(of: spec.kind)!) << 8
                | UInt64(Pooling.allCases.firstIndex(of: spec.pooling)!))
        }
    }
}
