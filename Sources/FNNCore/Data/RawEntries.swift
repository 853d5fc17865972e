import FNNSystem

/// libffm / libsvm rows as their lines give them, when a line names a field twice or gives a
/// value other than 1 (the fixed-width form, one token per field, cannot hold such rows): per row
/// its (field, token, value) items, fields in increasing order (a field's items together, in the
/// line's order). A field a line does not name has no item here; whether that reads as the
/// "missing" token or as nothing depends on the field's kind, decided only once every file of
/// the data has been read (`RawCategoricalData.resolvingFields`).
public struct RawEntries: Sendable, Equatable {
    /// rowCount + 1 item offsets.
    public var starts: [Int] = [0]
    public var fields: [UInt32] = []
    /// Indices into the raw data's `tokens[field]`.
    public var tokens: [UInt32] = []
    public var values: [Float] = []

    public var rowCount: Int { starts.count - 1 }

    public func items(ofRow r: Int) -> Range<Int> { starts[r]..<starts[r + 1] }

    mutating func append(field: Int, token: UInt32, value: Float) {
        fields.append(UInt32(field))
        tokens.append(token)
        values.append(value)
    }

    mutating func endRow() { starts.append(tokens.count) }

    /// Fixed-width rows (one token per field, value 1) as entries, for joining them with rows
    /// that need entries.
    static func fromFixed(tokenIds: [UInt32], fieldCount: Int) -> RawEntries {
        var entries = RawEntries()
        let rows = fieldCount == 0 ? 0 : tokenIds.count / fieldCount
        for r in 0..<rows {
            for f in 0..<fieldCount { entries.append(field: f, token: tokenIds[r * fieldCount + f], value: 1) }
            entries.endRow()
        }
        return entries
    }
}

/// What the rows show of one field: the most items one row gives it, and whether any item's
/// value is not 1. The field's kind follows (`FieldSchema.inferred`).
public struct FieldObservation: Sendable, Equatable {
    public var mostItems = 0
    public var valued = false

    public init(mostItems: Int = 0, valued: Bool = false) {
        self.mostItems = mostItems
        self.valued = valued
    }

    public mutating func merge(_ other: FieldObservation) {
        mostItems = max(mostItems, other.mostItems)
        valued = valued || other.valued
    }
}

extension FieldSchema {
    /// The kinds libffm-style rows call for, field by field: a field some row names more than
    /// once is multi-hot (pooled by `pooling`; sum is libffm's and xLearn's own arithmetic), a
    /// field with a value other than 1 is numeric, any other field is categorical (one id, a row
    /// that does not name it holding the "missing" token, as for one-hot libffm data).
    public static func inferred(from observations: [FieldObservation], pooling: Pooling, names: [String]) -> FieldSchema {
        FieldSchema(fields: observations.enumerated().map { f, seen in
            if seen.mostItems > 1 { return FieldSpec(name: names[f], kind: .multiHot, pooling: pooling, maxIds: seen.mostItems) }
            if seen.valued { return FieldSpec(name: names[f], kind: .numeric) }
            return FieldSpec(name: names[f])
        })
    }

    /// This (a model's) schema for rows showing `observations`: the model's kinds and pooling,
    /// multi-hot fields bounded by what the rows hold. Rows a field of this schema cannot take
    /// (two ids in a categorical or numeric field, a value in a categorical one) are refused,
    /// naming the field.
    public func fitting(_ observations: [FieldObservation], path: String) throws(InputError) -> FieldSchema {
        guard observations.count == count else {
            throw InputError(path: path, "the data has \(observations.count) fields but the model has \(count)")
        }
        var fitted = self
        for (f, seen) in observations.enumerated() {
            let spec = fields[f]
            let field = label(ofField: f)
            if seen.mostItems > 1 && spec.kind != .multiHot {
                throw InputError(path: path, "\(field) has up to \(seen.mostItems) ids in a row, but it is \(spec.kind.rawValue) in the model (one id): the model does not fit this data")
            }
            if seen.valued && spec.kind == .categorical {
                throw InputError(path: path, "\(field) has values other than 1, but it is categorical in the model: the model does not fit this data")
            }
            if spec.kind == .multiHot { fitted.fields[f].maxIds = max(1, seen.mostItems) }
        }
        return fitted
    }
}

/// Raw token indices numbered again in order of first appearance as resolved rows use them, the
/// "missing" token included where a categorical field is absent (a real token spelled
/// "missing" is that token, as in a fixed-width parse). One struct for the in-memory and the
/// segment-at-a-time paths, so both give the same ids.
struct TokenRenumbering {
    let oldTokens: [[String]]
    /// Per field, the "missing" token's old index (one past the old tokens when it had none).
    let missing: [UInt32]
    /// Per field, the tokens in their new order.
    private(set) var order: [[String]]
    /// Per field, old index -> new index (UInt32.max: not used yet); one extra slot for "missing".
    private(set) var renumbered: [[UInt32]]

    init(tokens: [[String]]) {
        oldTokens = tokens
        missing = tokens.map { UInt32($0.firstIndex(of: "missing") ?? $0.count) }
        order = [[String]](repeating: [], count: tokens.count)
        renumbered = tokens.map { [UInt32](repeating: .max, count: $0.count + 1) }
    }

    mutating func number(_ f: Int, _ old: UInt32) -> UInt32 {
        let known = renumbered[f][Int(old)]
        if known != .max { return known }
        let id = UInt32(order[f].count)
        order[f].append(Int(old) < oldTokens[f].count ? oldTokens[f][Int(old)] : "missing")
        renumbered[f][Int(old)] = id
        return id
    }

    /// One raw row's items in field order, resolved: each item with its new token, and the
    /// "missing" token (value 1) for a categorical field the row lacks.
    mutating func resolve(fields: UnsafeBufferPointer<UInt32>, tokens: UnsafeBufferPointer<UInt32>,
                          values: UnsafeBufferPointer<Float>, categorical: [Bool],
                          emit: (_ field: Int, _ token: UInt32, _ value: Float) -> Void) {
        resolve(count: fields.count, field: { fields[$0] }, token: { tokens[$0] }, value: { values[$0] },
                categorical: categorical, emit: emit)
    }

    /// `resolve` over items that `field`, `token` and `value` read by index.
    @inline(__always)
    mutating func resolve(count: Int, field: (Int) -> UInt32, token: (Int) -> UInt32, value: (Int) -> Float, categorical: [Bool],
                          emit: (_ field: Int, _ token: UInt32, _ value: Float) -> Void) {
        var e = 0
        for f in 0..<categorical.count {
            if e < count && Int(field(e)) == f {
                while e < count && Int(field(e)) == f {
                    emit(f, number(f, token(e)), value(e))
                    e += 1
                }
            } else if categorical[f] {
                emit(f, number(f, missing[f]), 1)
            }
        }
    }
}
