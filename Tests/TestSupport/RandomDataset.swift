import FNNCore
import FNNSystem
import Foundation

/// A small random data set for numeric tests.
public func randomDataset(rows: Int, fieldDims: [Int], seed: UInt64) -> Dataset {
    var rng = Xoshiro256(seed: seed)
    var ids: [UInt32] = []
    var labels: [Float] = []
    for _ in 0..<rows {
        for d in fieldDims { ids.append(UInt32(rng.nextInt(below: d))) }
        labels.append(rng.nextDouble() < 0.4 ? 1 : 0)
    }
    return Dataset(name: "random", fieldDims: fieldDims, ids: ids, labels: labels)
}

/// Random variable rows under `schema`: a categorical field gets one id of value 1, a multi-hot
/// field 0 to maxIds distinct ids (some rows empty) of value 1, a numeric field one id with a
/// value in [-2, 2); for gradient and determinism tests of the valued kernels.
public func randomVariableDataset(rows: Int, fieldDims: [Int], schema: FieldSchema, seed: UInt64) -> Dataset {
    precondition(schema.count == fieldDims.count)
    var rng = Xoshiro256(seed: seed)
    var builder = VariableRows.Builder()
    var labels: [Float] = []
    for _ in 0..<rows {
        for (f, spec) in schema.fields.enumerated() {
            switch spec.kind {
            case .categorical:
                builder.append(field: f, id: UInt32(rng.nextInt(below: fieldDims[f])), value: 1)
            case .numeric:
                builder.append(field: f, id: UInt32(rng.nextInt(below: fieldDims[f])), value: Float(rng.nextDouble() * 4 - 2))
            case .multiHot:
                let count = rng.nextInt(below: min(spec.maxIds, fieldDims[f]) + 1)
                var chosen = Set<UInt32>()
                while chosen.count < count { chosen.insert(UInt32(rng.nextInt(below: fieldDims[f]))) }
                for id in chosen.sorted() { builder.append(field: f, id: id, value: 1) }
            }
        }
        builder.endRow()
        labels.append(rng.nextDouble() < 0.4 ? 1 : 0)
    }
    return Dataset(name: "random-variable", fieldDims: fieldDims, schema: schema, rows: builder.finish(),
                   labels: AlignedBuffer(labels))
}
