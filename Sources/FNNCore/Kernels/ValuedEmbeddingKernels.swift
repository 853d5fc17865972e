import CMemoryHints

/// The embedding kernels over variable positions (multi-hot and numeric fields): each position
/// carries a value x that scales its row, so the FM is Rendle's full equation
/// bias + sum_p x_p w_p + 1/2 sum_k ((sum_p x_p v_pk)^2 - sum_p x_p^2 v_pk^2), and an FNN field's
/// input block is sum_p x_p v_p over the field's positions. The arithmetic is the one-hot
/// kernels' with each row first multiplied by its value, in the same order, so one-hot data read
/// as variable rows (every x = 1, x * v = v exactly) gives the one-hot kernels' bits.
extension EmbeddingKernels {
    /// Positions of a slice from variable rows: per example its entries in field order, rows
    /// offset by field, values divided by the field's id count where mean-pooled, and the count.
    @inlinable package static func variableTableRows(
        starts: UnsafePointer<Int>, entries: UnsafePointer<VariableEntry>,
        examples: UnsafePointer<Int>, rows: Int, stride: Int, offsets: UnsafePointer<Int>, meanPooled: UnsafePointer<UInt8>,
        rowIds: UnsafeMutablePointer<UInt32>, positionValues: UnsafeMutablePointer<Float>,
        positionFields: UnsafeMutablePointer<UInt32>, counts: UnsafeMutablePointer<Int32>,
        labels: UnsafePointer<Float>? = nil, batchLabels: UnsafeMutablePointer<Float>? = nil
    ) {
        // Two misses in a chain per example (its offsets, then its entries): the offsets are
        // requested `ahead` examples early, the entries (one or two lines) half as early, when
        // their offsets have arrived.
        let ahead = 16, entriesAhead = 8
        // The labels first, in a loop of their own: their loads are independent of each other,
        // so the core keeps many in flight; left in the entries loop they queued behind its
        // chains and were its largest stall.
        if let labels, let batchLabels {
            for i in 0..<rows { batchLabels[i] = labels[examples[i]] }
        }
        func prefetchEntries(ofExample i: Int) {
            let lo = starts[examples[i]], hi = starts[examples[i] + 1]
            fnnpar_prefetch(entries + lo)
            if hi > lo { fnnpar_prefetch(entries + hi - 1) }
        }
        for i in 0..<min(ahead, rows) { fnnpar_prefetch(starts + examples[i]) }
        for i in 0..<min(entriesAhead, rows) { prefetchEntries(ofExample: i) }
        for i in 0..<rows {
            if i + ahead < rows { fnnpar_prefetch(starts + examples[i + ahead]) }
            if i + entriesAhead < rows { prefetchEntries(ofExample: i + entriesAhead) }
            let example = examples[i]
            let lo = starts[example], hi = starts[example + 1]
            let base = i * stride
            // One pass over a field's run; a mean field's values are divided by the run's
            // length after it (x / 1 == x, so runs of one are left as they are).
            let out = base - lo
            var k = lo
            while k < hi {
                let f = entries[k].field
                let offset = UInt32(truncatingIfNeeded: offsets[Int(f)])
                var q = k
                repeat {
                    let entry = entries[q]
                    rowIds[out + q] = offset &+ entry.id
                    positionValues[out + q] = entry.value
                    positionFields[out + q] = f
                    q += 1
                } while q < hi && entries[q].field == f
                if q - k > 1 && meanPooled[Int(f)] != 0 {
                    let divisor = Float(q - k)
                    for j in k..<q { positionValues[out + j] = positionValues[out + j] / divisor }
                }
                k = q
            }
            counts[i] = Int32(truncatingIfNeeded: hi - lo)
        }
    }

    /// The same positions as `variableTableRows`, from interned rows (`InternedRows`): per
    /// example one line of run indices (and its label) from memory, each naming its run's
    /// entries in the small, cache-resident table of distinct runs. A value is divided by its
    /// run's length where the field is mean-pooled and the run longer than one, as there.
    @inlinable package static func internedTableRows(
        runIndices: UnsafePointer<UInt32>, fieldCount: Int, entries: UnsafePointer<VariableEntry>,
        direct: UnsafePointer<UInt8>, examples: UnsafePointer<Int>, rows: Int, stride: Int, offsets: UnsafePointer<Int>,
        meanPooled: UnsafePointer<UInt8>,
        rowIds: UnsafeMutablePointer<UInt32>, positionValues: UnsafeMutablePointer<Float>,
        positionFields: UnsafeMutablePointer<UInt32>, counts: UnsafeMutablePointer<Int32>,
        labels: UnsafePointer<Float>? = nil, batchLabels: UnsafeMutablePointer<Float>? = nil
    ) {
        prefetchSliceStart(runIndices, examples: examples, rows: rows, fieldCount: fieldCount, label: labels)
        for i in 0..<rows {
            prefetchAhead(of: i, runIndices, examples: examples, rows: rows, fieldCount: fieldCount, label: labels)
            let example = examples[i]
            let runs = runIndices + example * fieldCount
            let first = i * stride
            var out = first
            for f in 0..<fieldCount {
                if direct[f] != 0 {
                    // The id itself, value 1 (1 / 1).
                    rowIds[out] = UInt32(truncatingIfNeeded: offsets[f]) &+ runs[f]
                    positionValues[out] = 1
                    positionFields[out] = UInt32(truncatingIfNeeded: f)
                    out += 1
                    continue
                }
                let run = runs[f]
                let lo = Int(run >> 8), hi = lo + Int(run & 0xFF)
                let offset = UInt32(truncatingIfNeeded: offsets[f])
                let divisor: Float = hi - lo > 1 && meanPooled[f] != 0 ? Float(hi - lo) : 1
                for q in lo..<hi {
                    let entry = entries[q]
                    rowIds[out] = offset &+ entry.id
                    // As the entries gather: a value is divided only when pooled (x / 1 would
                    // quiet a signaling NaN).
                    positionValues[out] = divisor == 1 ? entry.value : entry.value / divisor
                    positionFields[out] = UInt32(truncatingIfNeeded: f)
                    out += 1
                }
            }
            counts[i] = Int32(truncatingIfNeeded: out - first)
            if let labels, let batchLabels { batchLabels[i] = labels[example] }
        }
    }

    /// One example's FM logit over `count` valued positions; leaves sum_p x_p v_p in `sum`.
    @inlinable @inline(__always) package static func fmLogit(
        rowIds: UnsafePointer<UInt32>, values: UnsafePointer<Float>, count: Int, embedDim: Int,
        table: TableRows, bias: Float, sum: UnsafeMutablePointer<Float>
    ) -> Float {
        let vectorEnd = embedDim / Lanes.scalarCount * Lanes.scalarCount
        for k in 0..<embedDim { sum[k] = 0 }
        var squares = Lanes(repeating: 0)
        var squaresTail: Float = 0
        var linearTerm: Float = 0
        for p in 0..<count {
            let row = Int(rowIds[p])
            let value = values[p]
            linearTerm += value * table.linear(row)
            let v = table.row(row)
            var k = 0
            while k < vectorEnd {
                let x = value * load(v + k)
                store(load(sum + k) + x, sum + k)
                squares += x * x
                k += Lanes.scalarCount
            }
            while k < embedDim {
                let x = value * v[k]
                sum[k] += x
                squaresTail += x * x
                k += 1
            }
        }
        return completedLogit(sum: sum, embedDim: embedDim, bias: bias, linearTerm: linearTerm,
                              squares: squares.sum() + squaresTail)
    }

    /// FM logits of a slice of variable positions (`layout` from the slice's first example).
    @inlinable package static func fmForward(
        rowIds: UnsafePointer<UInt32>, layout: VariablePositions, rows: Int, embedDim: Int,
        table: TableRows, bias: Float,
        logits: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
    ) {
        precondition(table.hasLinear)
        for i in 0..<rows {
            let first = i * layout.stride
            logits[i] = fmLogit(rowIds: rowIds + first, values: layout.values + first, count: Int(layout.counts[i]),
                                embedDim: embedDim, table: table, bias: bias, sum: scratch)
        }
    }

    /// `fmTrain` over variable positions: the same outputs (g_i, and g_i S_i with S_i the
    /// value-weighted sum of the example's rows).
    @inlinable package static func fmTrain(
        rowIds: UnsafePointer<UInt32>, layout: VariablePositions, labels: UnsafePointer<Float>, rows: Int, batchSize: Int,
        embedDim: Int, table: TableRows, bias: Float,
        dLogits: UnsafeMutablePointer<Float>, scaledSums: UnsafeMutablePointer<Float>
    ) -> (loss: Double, dBias: Float) {
        precondition(table.hasLinear)
        if embedDim == 16 && table.isDense(width: 16) {
            return fmTrainSlice(rowIds: rowIds, layout: layout, labels: labels, rows: rows, batchSize: batchSize, embedDim: 16,
                                table: table.dense(width: 16), bias: bias, dLogits: dLogits, scaledSums: scaledSums)
        }
        if embedDim == 16 {
            return fmTrainSlice(rowIds: rowIds, layout: layout, labels: labels, rows: rows, batchSize: batchSize, embedDim: 16,
                                table: table, bias: bias, dLogits: dLogits, scaledSums: scaledSums)
        }
        return fmTrainSlice(rowIds: rowIds, layout: layout, labels: labels, rows: rows, batchSize: batchSize, embedDim: embedDim,
                            table: table, bias: bias, dLogits: dLogits, scaledSums: scaledSums)
    }

    @inlinable @inline(__always) static func fmTrainSlice(
        rowIds: UnsafePointer<UInt32>, layout: VariablePositions, labels: UnsafePointer<Float>, rows: Int, batchSize: Int,
        embedDim: Int, table: TableRows, bias: Float,
        dLogits: UnsafeMutablePointer<Float>, scaledSums: UnsafeMutablePointer<Float>
    ) -> (loss: Double, dBias: Float) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: rows) { buffer in
            let logits = buffer.baseAddress!
            let stride = layout.stride
            func prefetch(example i: Int) {
                for p in 0..<Int(layout.counts[i]) {
                    let row = Int(rowIds[i * stride + p])
                    fnnpar_prefetch(table.row(row))
                    fnnpar_prefetch(table.linearAddress(row))
                }
            }
            for i in 0..<min(4, rows) { prefetch(example: i) }
            for i in 0..<rows {
                if i + 4 < rows { prefetch(example: i + 4) }
                logits[i] = fmLogit(rowIds: rowIds + i * stride, values: layout.values + i * stride,
                                    count: Int(layout.counts[i]), embedDim: embedDim, table: table,
                                    bias: bias, sum: scaledSums + i * embedDim)
            }
            let total = BinaryCrossEntropy.gradients(logits: logits, labels: labels, rows: rows, batchSize: batchSize,
                                                     dLogits: dLogits)
            return (total, scaleSums(rows: rows, embedDim: embedDim, dLogits: dLogits, scaledSums: scaledSums))
        }
    }

    /// The MLP input of a slice of variable positions: per field the value-weighted sum of its
    /// positions' rows (zeros for a field with none), preceded by the same sum of their linear
    /// weights when `linear` is given.
    @inlinable package static func gatherMLPInput(
        rowIds: UnsafePointer<UInt32>, layout: VariablePositions, rows: Int, fieldCount: Int, embedDim: Int,
        table: TableRows, x: UnsafeMutablePointer<Float>
    ) {
        let fieldWidth = table.hasLinear ? embedDim + 1 : embedDim
        let rowWidth = fieldCount * fieldWidth
        let stride = layout.stride
        let vectorEnd = embedDim / Lanes.scalarCount * Lanes.scalarCount
        for i in 0..<rows {
            if i + 2 < rows {
                for p in 0..<Int(layout.counts[i + 2]) {
                    fnnpar_prefetch(table.row(Int(rowIds[(i + 2) * stride + p])))
                }
            }
            let out = x + i * rowWidth
            out.update(repeating: 0, count: rowWidth)
            for p in 0..<Int(layout.counts[i]) {
                let position = i * stride + p
                let r = Int(rowIds[position])
                let value = layout.values[position]
                var dst = out + Int(layout.fields[position]) * fieldWidth
                if table.hasLinear { dst[0] += value * table.linear(r); dst += 1 }
                let src = table.row(r)
                var k = 0
                while k < vectorEnd {
                    store(load(dst + k) + value * load(src + k), dst + k)
                    k += Lanes.scalarCount
                }
                while k < embedDim { dst[k] += value * src[k]; k += 1 }
            }
        }
    }
}
