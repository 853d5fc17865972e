import FNNSystem

/// Checkpoint tensors of the optimizers.
extension DenseAdam {
    package func tensors(prefix: String) -> [String: SafeTensors.Tensor] {
        [
            "\(prefix).m": ModelFile.tensor(m, [m.count]), "\(prefix).v": ModelFile.tensor(v, [v.count]),
            "\(prefix).step": SafeTensors.Tensor(int64: Int64(step)),
        ]
    }

    package func restore(prefix: String, from file: SafeTensors, path: String) throws(ModelFileError) {
        try restoreFloats(file, "\(prefix).m", m, path: path)
        try restoreFloats(file, "\(prefix).v", v, path: path)
        guard let t = file.tensors["\(prefix).step"], t.dtype == .i64, t.elementCount == 1, t.int64 >= 0, t.int64 < Int64(UInt32.max) else {
            throw ModelFileError(path: path, "checkpoint lacks a valid '\(prefix).step'")
        }
        step = Int(t.int64)
    }
}

extension LazyRowAdam {
    /// The checkpoint tensors, in torch-like separate arrays whatever the layout: `prefix`.m / .v
    /// (rows x width), .steps / .last_update, and `linearPrefix`.m / .v for the linear weights.
    /// (The step record's four floats: steps, last update, linear m, linear v.)
    package func tensors(prefix: String, linearPrefix: String) -> [String: SafeTensors.Tensor] {
        let rows = self.rows, width = self.width, records = self.records
        func moments(_ half: Int) -> SafeTensors.Tensor {
            SafeTensors.Tensor(dtype: .f32, shape: [rows, width]) { records.copyWide(first: half * width, count: width, rows: $0, into: $1) }
        }
        func state(_ field: Int, _ dtype: SafeTensors.DType, _ shape: [Int]) -> SafeTensors.Tensor {
            SafeTensors.Tensor(dtype: dtype, shape: shape) { records.copyNarrow(field: field, rows: $0, into: $1) }
        }
        var t = ["\(prefix).m": moments(0), "\(prefix).v": moments(1),
                 "\(prefix).steps": state(0, .u32, [rows]), "\(prefix).last_update": state(1, .u32, [rows])]
        if hasLinear {
            t["\(linearPrefix).m"] = state(2, .f32, [rows, 1])
            t["\(linearPrefix).v"] = state(3, .f32, [rows, 1])
        }
        return t
    }

    /// `globalStep`: the optimizer's restored step; every row's counts must lie within it.
    package func restore(prefix: String, linearPrefix: String, from file: SafeTensors, path: String,
                 globalStep: Int) throws(ModelFileError) {
        var names = [("\(prefix).m", SafeTensors.DType.f32, width), ("\(prefix).v", .f32, width),
                     ("\(prefix).steps", .u32, 1), ("\(prefix).last_update", .u32, 1)]
        if hasLinear { names += [("\(linearPrefix).m", .f32, 1), ("\(linearPrefix).v", .f32, 1)] }
        for (name, dtype, perRow) in names {
            guard let t = file.tensors[name], t.dtype == dtype, t.elementCount == rows * perRow else {
                throw ModelFileError(path: path, "checkpoint lacks '\(name)' of \(rows * perRow) values")
            }
        }
        let records = self.records, width = self.width
        // A mapped checkpoint's pages are handed back once copied (a table's moments are twice its size).
        func bytes(_ name: String, _ body: (UnsafeRawBufferPointer) -> Void) {
            let t = file.tensors[name]!
            t.withUnsafeBytes(body)
            t.releasePages()
        }
        bytes("\(prefix).m") { records.restoreWide(first: 0, count: width, from: $0) }
        bytes("\(prefix).v") { records.restoreWide(first: width, count: width, from: $0) }
        bytes("\(prefix).steps") { records.restoreNarrow(field: 0, from: $0) }
        bytes("\(prefix).last_update") { records.restoreNarrow(field: 1, from: $0) }
        if hasLinear {
            bytes("\(linearPrefix).m") { records.restoreNarrow(field: 2, from: $0) }
            bytes("\(linearPrefix).v") { records.restoreNarrow(field: 3, from: $0) }
        }
        for r in 0..<rows {
            let state = self.state(row: r)
            if state.steps > state.lastUpdate || Int(state.lastUpdate) > globalStep {
                throw ModelFileError(path: path, "corrupt checkpoint: row \(r)'s step counts are inconsistent")
            }
        }
    }
}

extension RowAdagrad {
    /// The checkpoint tensors: `prefix`.accumulator (rows x width, or rows x 1 row-wise) and
    /// `linearPrefix`.accumulator (rows x 1); SGD has none.
    package func tensors(prefix: String, linearPrefix: String) -> [String: SafeTensors.Tensor] {
        var t: [String: SafeTensors.Tensor] = [:]
        let records = self.records, rows = self.rows, width = self.width, rowwiseIndex = self.rowwiseIndex
        switch kind {
        case .adagrad:
            t["\(prefix).accumulator"] = SafeTensors.Tensor(dtype: .f32, shape: [rows, width]) {
                records.copyWide(first: 0, count: width, rows: $0, into: $1)
            }
        case .rowwiseAdagrad:
            t["\(prefix).accumulator"] = SafeTensors.Tensor(dtype: .f32, shape: [rows, 1]) {
                records.copyNarrow(field: rowwiseIndex, rows: $0, into: $1)
            }
        default: break
        }
        // As before the records: no linear accumulator tensor for a shard without rows.
        if hasLinearAccumulator && rows > 0 {
            t["\(linearPrefix).accumulator"] = SafeTensors.Tensor(dtype: .f32, shape: [rows, 1]) {
                records.copyNarrow(field: 0, rows: $0, into: $1)
            }
        }
        return t
    }

    package func restore(prefix: String, linearPrefix: String, from file: SafeTensors, path: String) throws(ModelFileError) {
        func take(_ name: String, perRow: Int, _ body: (UnsafeRawBufferPointer) -> Void) throws(ModelFileError) {
            guard let t = file.tensors[name], t.dtype == .f32, t.elementCount == rows * perRow else {
                throw ModelFileError(path: path, "checkpoint lacks '\(name)' of \(rows * perRow) values")
            }
            t.withUnsafeBytes(body)
            // A mapped checkpoint's pages are handed back once copied.
            t.releasePages()
        }
        let records = self.records, width = self.width, rowwiseIndex = self.rowwiseIndex
        switch kind {
        case .adagrad: try take("\(prefix).accumulator", perRow: width) { records.restoreWide(first: 0, count: width, from: $0) }
        case .rowwiseAdagrad: try take("\(prefix).accumulator", perRow: 1) { records.restoreNarrow(field: rowwiseIndex, from: $0) }
        default: break
        }
        if hasLinearAccumulator && rows > 0 {
            try take("\(linearPrefix).accumulator", perRow: 1) { records.restoreNarrow(field: 0, from: $0) }
        }
        func valid(_ a: Float) -> Bool { a >= 0 && a.isFinite }
        for r in 0..<rows {
            let a = accumulators(row: r)
            var fine = !hasLinearAccumulator || valid(linearAccumulator(row: r))
            for j in 0..<accumulatorsPerRow { fine = fine && valid(a[j]) }
            guard fine else { throw ModelFileError(path: path, "corrupt checkpoint: an Adagrad accumulator is negative or not finite") }
        }
    }
}

package func restoreFloats(_ file: SafeTensors, _ name: String, _ buffer: AlignedBuffer<Float>, path: String) throws(ModelFileError) {
    guard let t = file.tensors[name], t.dtype == .f32, t.elementCount == buffer.count else {
        throw ModelFileError(path: path, "checkpoint lacks '\(name)' of \(buffer.count) values")
    }
    t.copyFloats(into: buffer.base)
}
