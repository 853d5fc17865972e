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
    /// The checkpoint tensors, in torch-like separate arrays: `prefix`.m / .v (rows x width),
    /// .steps / .last_update, and `linearPrefix`.m / .v for the linear weights.
    package func tensors(prefix: String, linearPrefix: String) -> [String: SafeTensors.Tensor] {
        let rows = self.rows, width = self.width
        let moments = self.moments, states = self.states
        func momentTensor(_ half: Int) -> SafeTensors.Tensor {
            SafeTensors.Tensor(dtype: .f32, shape: [rows, width]) { raw in
                let out = raw.baseAddress!
                for r in 0..<rows {
                    (out + r * width * 4).copyMemory(from: moments.base + (r * 2 + half) * width, byteCount: width * 4)
                }
            }
        }
        func stateTensor(_ field: KeyPath<LazyRowState, UInt32>) -> SafeTensors.Tensor {
            SafeTensors.Tensor(dtype: .u32, shape: [rows]) { raw in
                for r in 0..<rows { raw.storeBytes(of: states[r][keyPath: field], toByteOffset: r * 4, as: UInt32.self) }
            }
        }
        var t = [
            "\(prefix).m": momentTensor(0), "\(prefix).v": momentTensor(1),
            "\(prefix).steps": stateTensor(\.steps), "\(prefix).last_update": stateTensor(\.lastUpdate),
        ]
        if hasLinear {
            for (name, field) in [("m", \LazyRowState.linearM), ("v", \LazyRowState.linearV)] {
                t["\(linearPrefix).\(name)"] = SafeTensors.Tensor(dtype: .f32, shape: [rows, 1]) { raw in
                    for r in 0..<rows { raw.storeBytes(of: states[r][keyPath: field], toByteOffset: r * 4, as: Float.self) }
                }
            }
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
        func bytes(_ name: String, _ body: (UnsafeRawBufferPointer) -> Void) { file.tensors[name]!.withUnsafeBytes(body) }
        let rows = self.rows, width = self.width
        for half in 0..<2 {
            bytes(half == 0 ? "\(prefix).m" : "\(prefix).v") { raw in
                for r in 0..<rows {
                    UnsafeMutableRawPointer(moments.base + (r * 2 + half) * width)
                        .copyMemory(from: raw.baseAddress! + r * width * 4, byteCount: width * 4)
                }
            }
        }
        bytes("\(prefix).steps") { raw in
            for r in 0..<rows { states[r].steps = raw.loadUnaligned(fromByteOffset: r * 4, as: UInt32.self) }
        }
        bytes("\(prefix).last_update") { raw in
            for r in 0..<rows { states[r].lastUpdate = raw.loadUnaligned(fromByteOffset: r * 4, as: UInt32.self) }
        }
        if hasLinear {
            bytes("\(linearPrefix).m") { raw in
                for r in 0..<rows { states[r].linearM = raw.loadUnaligned(fromByteOffset: r * 4, as: Float.self) }
            }
            bytes("\(linearPrefix).v") { raw in
                for r in 0..<rows { states[r].linearV = raw.loadUnaligned(fromByteOffset: r * 4, as: Float.self) }
            }
        }
        for r in 0..<rows where states[r].steps > states[r].lastUpdate || Int(states[r].lastUpdate) > globalStep {
            throw ModelFileError(path: path, "corrupt checkpoint: row \(r)'s step counts are inconsistent")
        }
    }
}

extension RowAdagrad {
    /// The checkpoint tensors: `prefix`.accumulator (rows x width, or rows x 1 row-wise) and
    /// `linearPrefix`.accumulator (rows x 1); SGD has none.
    package func tensors(prefix: String, linearPrefix: String) -> [String: SafeTensors.Tensor] {
        var t: [String: SafeTensors.Tensor] = [:]
        if accumulatorsPerRow > 0 { t["\(prefix).accumulator"] = ModelFile.tensor(accumulators, [rows, accumulatorsPerRow]) }
        if linearAccumulators.count > 0 { t["\(linearPrefix).accumulator"] = ModelFile.tensor(linearAccumulators, [rows, 1]) }
        return t
    }

    package func restore(prefix: String, linearPrefix: String, from file: SafeTensors, path: String) throws(ModelFileError) {
        if accumulatorsPerRow > 0 { try restoreFloats(file, "\(prefix).accumulator", accumulators, path: path) }
        if linearAccumulators.count > 0 { try restoreFloats(file, "\(linearPrefix).accumulator", linearAccumulators, path: path) }
        for i in 0..<accumulators.count where !(accumulators[i] >= 0) || !accumulators[i].isFinite {
            throw ModelFileError(path: path, "corrupt checkpoint: an Adagrad accumulator is negative or not finite")
        }
        for i in 0..<linearAccumulators.count where !(linearAccumulators[i] >= 0) || !linearAccumulators[i].isFinite {
            throw ModelFileError(path: path, "corrupt checkpoint: an Adagrad accumulator is negative or not finite")
        }
    }
}

package func restoreFloats(_ file: SafeTensors, _ name: String, _ buffer: AlignedBuffer<Float>, path: String) throws(ModelFileError) {
    guard let t = file.tensors[name], t.dtype == .f32, t.elementCount == buffer.count else {
        throw ModelFileError(path: path, "checkpoint lacks '\(name)' of \(buffer.count) values")
    }
    t.copyFloats(into: buffer.base)
}
