import FNNSystem

/// Scoring rows whose ids a model never saw (a new user or movie in MovieLens, an id past a
/// fields-TSV column's size) without refusing them: each field gets one fallback row after its
/// own, zero in the embedding and the linear weight, so an unseen id contributes nothing (the
/// FM's score is that of the row's other features; the FNN sees a zero block). Models with
/// vocabularies do not need this: their tokens map to each field's rare/unseen row.
extension Model {
    /// A copy with one zero row appended to every field.
    public func withFallbackRows() -> Model {
        var config = self.config
        config.fieldDims = config.fieldDims.map { $0 + 1 }
        let copy = Model(config: config)
        let d = config.embedDim
        for f in 0..<self.config.fieldCount {
            let rows = self.config.fieldDims[f]
            (copy.embedding.base + copy.offsets[f] * d).update(from: embedding.base + offsets[f] * d, count: rows * d)
            (copy.embedding.base + (copy.offsets[f] + rows) * d).update(repeating: 0, count: d)
            if let linear, let copyLinear = copy.linear {
                (copyLinear.base + copy.offsets[f]).update(from: linear.base + offsets[f], count: rows)
                copyLinear[copy.offsets[f] + rows] = 0
            }
        }
        copy.dense.copy(from: dense)
        copy.runningStats.copy(from: runningStats)
        copy.batchesTracked = batchesTracked
        return copy
    }
}

extension Dataset {
    /// The examples indexed for `modelDims` plus a fallback row per field (`withFallbackRows`):
    /// ids at or past a field's size become that field's fallback. Returns how many rows of each
    /// field were unseen.
    public func mappingUnseenIds(toFallbackOf modelDims: [Int]) throws(InputError) -> (Dataset, unseen: [Int]) {
        guard modelDims.count == fieldCount else {
            throw InputError(path: name, "the data has \(fieldCount) fields but the model has \(modelDims.count)")
        }
        if let variable {
            // Each entry's id on its own: a multi-hot field's unseen ids each read the fallback row.
            let mapped = AlignedBuffer<VariableEntry>(count: variable.entryCount)
            var unseen = [Int](repeating: 0, count: fieldCount)
            for e in 0..<variable.entryCount {
                var entry = variable.table[e]
                let k = Int(entry.field)
                if Int(entry.id) >= modelDims[k] {
                    entry.id = UInt32(modelDims[k])
                    unseen[k] += 1
                }
                mapped[e] = entry
            }
            var copy = self
            copy.variable = VariableRows(starts: variable.starts, table: mapped)
            copy.fieldDims = modelDims.map { $0 + 1 }
            return (copy, unseen)
        }
        let f = fieldCount
        let mapped = AlignedBuffer<UInt32>(count: ids.count)
        var unseen = [Int](repeating: 0, count: f)
        for r in 0..<rowCount {
            for k in 0..<f {
                let id = ids[r * f + k]
                if Int(id) >= modelDims[k] {
                    mapped[r * f + k] = UInt32(modelDims[k])
                    unseen[k] += 1
                } else {
                    mapped[r * f + k] = id
                }
            }
        }
        var copy = self
        copy.ids = mapped
        copy.fieldDims = modelDims.map { $0 + 1 }
        return (copy, unseen)
    }
}
