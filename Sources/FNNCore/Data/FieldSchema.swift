import Foundation

/// How a field's ids and values enter a model. Kept beside the field sizes in the data cache and
/// the model file, because it changes the function the model computes: a model trained with
/// mean-pooled genres scores wrongly on sum-pooled ones, with no error from the sizes alone.
public enum FieldKind: String, Sendable, Codable, CaseIterable {
    /// Exactly one id, value 1: the one-hot field of pytorch-fm, and the fast path.
    case categorical
    /// Zero or more ids (at most `maxIds`), each with a value (1 unless the data gives one),
    /// pooled by `pooling`. An empty field contributes nothing (zeros in the FNN's input).
    case multiHot = "multi-hot"
    /// At most one id with a real value that scales its embedding; a missing value contributes
    /// nothing. A field of size 1 is the per-field scalar form (one embedding, scaled).
    case numeric
}

/// How a multi-hot field's (id, value) pairs combine: `sum` adds the value-weighted embeddings,
/// `mean` divides each value by the number of ids the row has in the field (mean pooling scales
/// each value by 1/count, in the FM as in the FNN).
public enum Pooling: String, Sendable, Codable, CaseIterable {
    case sum
    case mean
}

/// One field of a schema.
public struct FieldSpec: Sendable, Codable, Equatable {
    /// What messages call the field ("genres", "I3", "field 4").
    public var name: String
    public var kind: FieldKind
    public var pooling: Pooling
    /// The most ids one row may have in the field (1 for categorical and numeric fields). A row
    /// with more is bad input, refused by name; the bound sizes every batch's position buffers.
    public var maxIds: Int

    public init(name: String, kind: FieldKind = .categorical, pooling: Pooling = .sum, maxIds: Int = 1) {
        self.name = name
        self.kind = kind
        self.pooling = pooling
        self.maxIds = kind == .multiHot ? maxIds : 1
    }

    public static let maximumIdsPerField = 65_536

    /// A short form for the run's data line and `--help` examples: "genres:multi-hot(mean,<=6)".
    public var summary: String {
        switch kind {
        case .categorical: return name
        case .numeric: return "\(name):numeric"
        case .multiHot: return "\(name):multi-hot(\(pooling.rawValue),<=\(maxIds))"
        }
    }
}

/// The kinds of a data set's or model's fields, in field order. The all-categorical schema is
/// today's one-hot data; it is never written to files (absent means one-hot), so one-hot models
/// and caches read as before and load into torchfm unchanged.
public struct FieldSchema: Sendable, Codable, Equatable {
    public var fields: [FieldSpec]

    public init(fields: [FieldSpec]) { self.fields = fields }

    /// Every field categorical: one id per field, value 1.
    public static func oneHot(fieldCount: Int, names: [String]? = nil) -> FieldSchema {
        FieldSchema(fields: (0..<fieldCount).map { FieldSpec(name: names?[$0] ?? "field \($0 + 1)") })
    }

    public var count: Int { fields.count }

    /// Whether every field is categorical (the fixed-width fast path).
    public var isOneHot: Bool { fields.allSatisfy { $0.kind == .categorical } }

    /// The most positions one example can have: the sum of the fields' `maxIds`. Each batch
    /// reserves this many positions per example.
    public var positionsPerExample: Int { fields.reduce(0) { $0 + $1.maxIds } }

    /// The per-field 1/count pooling of mean fields (false: the values are used as they are).
    public var meanPooled: [Bool] { fields.map { $0.kind == .multiHot && $0.pooling == .mean } }

    /// The schema as the files store it (JSON with sorted keys: the encoder's own key order
    /// changes from process to process, and model files must not), nil for the one-hot schema.
    public var stored: String? {
        isOneHot ? nil : storedForced
    }

    /// `stored`'s form for any schema, the one-hot one included: variable rows whose fields are
    /// all categorical (a forced variable parse) are still variable rows in a cache.
    public var storedForced: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

    /// Reads `stored`'s form; nil text is the one-hot schema of `fieldCount` fields. Returns nil
    /// for text that is not a schema of `fieldCount` plausible fields.
    public static func parse(stored text: String?, fieldCount: Int) -> FieldSchema? {
        guard let text else { return .oneHot(fieldCount: fieldCount) }
        guard let schema = try? JSONDecoder().decode(FieldSchema.self, from: Data(text.utf8)),
              schema.count == fieldCount,
              schema.fields.allSatisfy({ (1...FieldSpec.maximumIdsPerField).contains($0.maxIds)
                  && ($0.kind == .multiHot || $0.maxIds == 1) })
        else { return nil }
        return schema
    }

    /// The fields that are not categorical, for the run's first lines ("side information used").
    public var summary: String {
        isOneHot ? "\(count) one-hot fields" : fields.map(\.summary).joined(separator: ", ")
    }

    /// "field 3 (genres)", or "field 3" where the name says no more.
    public func label(ofField f: Int) -> String {
        fields[f].name == "field \(f + 1)" ? "field \(f + 1)" : "field \(f + 1) (\(fields[f].name))"
    }

    /// Why a model of schema `self` cannot read data of schema `data`, naming the first field
    /// that differs; nil when they agree. Names may differ (a renamed column is the same field).
    public func mismatch(withData data: FieldSchema) -> String? {
        guard count == data.count else { return "the data has \(data.count) fields but the model has \(count)" }
        for (f, (mine, theirs)) in zip(fields, data.fields).enumerated() {
            if mine.kind != theirs.kind {
                return "field \(f + 1) (\(theirs.name)) is \(theirs.kind.rawValue) in the data but \(mine.kind.rawValue) in the model"
            }
            if mine.kind == .multiHot && mine.pooling != theirs.pooling {
                return "field \(f + 1) (\(theirs.name)) is \(theirs.pooling.rawValue)-pooled in the data but \(mine.pooling.rawValue)-pooled in the model"
            }
        }
        return nil
    }
}
