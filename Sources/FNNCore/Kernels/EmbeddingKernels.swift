import CMemoryHints

/// Table lookups and the FM's second-order term over a slice of a batch.
package enum EmbeddingKernels: FloatLanes {
    /// Rows `indices[0 ..< count]` of a table of `width`-float rows (and of its linear weights),
    /// copied in that order: a sharded table's rows served to the ranks that asked for them. The
    /// indices are random in a large table, so the rows are requested well ahead.
    package static func copyRows(
        indices: UnsafePointer<UInt32>, count: Int, width: Int, table: UnsafePointer<Float>, linear: UnsafePointer<Float>?,
        into destination: UnsafeMutablePointer<Float>, linearInto linearDestination: UnsafeMutablePointer<Float>?
    ) {
        // The default width as a constant: each row is two vector moves, where a row of a
        // width known only at run time was a call to memmove (as long as the copy itself).
        if width == 16 {
            copyRows(width: 16, indices: indices, count: count, table: table, linear: linear, into: destination,
                     linearInto: linearDestination)
        } else {
            copyRows(width: width, indices: indices, count: count, table: table, linear: linear, into: destination,
                     linearInto: linearDestination)
        }
    }

    @inline(__always) private static func copyRows(
        width: Int, indices: UnsafePointer<UInt32>, count: Int, table: UnsafePointer<Float>, linear: UnsafePointer<Float>?,
        into destination: UnsafeMutablePointer<Float>, linearInto linearDestination: UnsafeMutablePointer<Float>?
    ) {
        let ahead = 16
        for k in 0..<min(ahead, count) { fnnpar_prefetch(table + Int(indices[k]) * width) }
        for k in 0..<count {
            if k + ahead < count {
                fnnpar_prefetch(table + Int(indices[k + ahead]) * width)
                if let linear { fnnpar_prefetch(linear + Int(indices[k + ahead])) }
            }
            AdamKernels.copy(table + Int(indices[k]) * width, into: destination + k * width, count: width)
            if let linear, let linearDestination { linearDestination[k] = linear[Int(indices[k])] }
        }
    }

    /// Asks for each line of example `e`'s fixed-width row of `fieldCount` ids (once each:
    /// ML-1M's two ids are one line) and, when given, its label; into L1, or only into L2.
    @inlinable @inline(__always) package static func prefetchRow(_ ids: UnsafePointer<UInt32>, example e: Int, fieldCount: Int,
                                                                 label labels: UnsafePointer<Float>?, toL2: Bool = false) {
        @inline(__always) func ask(_ address: UnsafeRawPointer) {
            if toL2 { fnnpar_prefetch_to_l2(address) } else { fnnpar_prefetch(address) }
        }
        let start = Int(bitPattern: UnsafeRawPointer(ids + e * fieldCount))
        var line = start & ~63
        let last = (start + fieldCount * MemoryLayout<UInt32>.stride - 1) & ~63
        while line <= last { ask(UnsafeRawPointer(bitPattern: line)!); line += 64 }
        if let labels { ask(labels + e) }
    }

    /// How far ahead the gathers ask for their examples' rows (`prefetchSliceStart`,
    /// `prefetchAhead`): into L1 8 examples ahead, from L2, and into L2 up to 96 ahead. An L1
    /// prefetch for every line in flight overran the misses L1 can track (ML-1M's examples are
    /// two lines, an id pair and a label), and the loop stalled on the ids; a slice of up to 96
    /// examples is thus asked for whole at its start. ML-1M FM: 1.17x for the L2 requests over
    /// 16 ahead into L1 alone, then 1.05x for 8 instead of 16, 0.95x for 4; Criteo-shaped FM
    /// 1.07x, then 1.04x.
    @inlinable static var nearExamples: Int { 8 }
    @inlinable static var farExamples: Int { 96 }

    /// The first rows of a slice, requested together up front: waiting for the loop to reach
    /// them would leave part of a 64-row slice unprefetched.
    @inlinable @inline(__always) package static func prefetchSliceStart(_ ids: UnsafePointer<UInt32>, examples: UnsafePointer<Int>,
                                                                        rows: Int, fieldCount: Int, label labels: UnsafePointer<Float>?) {
        let near = nearExamples, far = farExamples
        for i in 0..<min(near, rows) { prefetchRow(ids, example: examples[i], fieldCount: fieldCount, label: labels) }
        for i in near..<max(near, min(far, rows)) {
            prefetchRow(ids, example: examples[i], fieldCount: fieldCount, label: labels, toL2: true)
        }
    }

    /// At example `i` of a slice of `rows`: the rows `nearExamples` and `farExamples` ahead.
    @inlinable @inline(__always) package static func prefetchAhead(of i: Int, _ ids: UnsafePointer<UInt32>, examples: UnsafePointer<Int>,
                                                                   rows: Int, fieldCount: Int, label labels: UnsafePointer<Float>?) {
        let near = nearExamples, far = farExamples
        if i + near < rows { prefetchRow(ids, example: examples[i + near], fieldCount: fieldCount, label: labels) }
        if i + far < rows { prefetchRow(ids, example: examples[i + far], fieldCount: fieldCount, label: labels, toL2: true) }
    }

    /// Global table rows of a slice: rowIds[i * F + f] = offsets[f] + ids[example i, field f],
    /// and, when given, the examples' labels. Examples come in shuffled order, so each is a cache
    /// miss in a large data set: this tight loop, with nothing else in it, lets the CPU keep many
    /// of them in flight.
    @inlinable package static func tableRows(
        ids: UnsafePointer<UInt32>, examples: UnsafePointer<Int>, rows: Int, fieldCount: Int,
        offsets: UnsafePointer<Int>, rowIds: UnsafeMutablePointer<UInt32>,
        labels: UnsafePointer<Float>? = nil, batchLabels: UnsafeMutablePointer<Float>? = nil
    ) {
        // An example's ids span several lines (Criteo's 39 fields: 156 bytes, three or four):
        // all of them are asked for, or the rest arrive one demand miss after another.
        prefetchSliceStart(ids, examples: examples, rows: rows, fieldCount: fieldCount, label: labels)
        for i in 0..<rows {
            prefetchAhead(of: i, ids, examples: examples, rows: rows, fieldCount: fieldCount, label: labels)
            let src = ids + examples[i] * fieldCount
            let dst = rowIds + i * fieldCount
            for f in 0..<fieldCount { dst[f] = UInt32(offsets[f]) &+ src[f] }
            if let labels, let batchLabels { batchLabels[i] = labels[examples[i]] }
        }
    }

    /// The MLP input of a slice: per field the embedding row, preceded by the linear weight when
    /// `linear` is given (the paper's z_i = (w_i, v_i)).
    @inlinable package static func gatherMLPInput(
        rowIds: UnsafePointer<UInt32>, rows: Int, fieldCount: Int, embedDim: Int,
        table: TableRows, x: UnsafeMutablePointer<Float>
    ) {
        let fieldWidth = table.hasLinear ? embedDim + 1 : embedDim
        let ahead = 4
        for i in 0..<min(ahead, rows) {
            for f in 0..<fieldCount { fnnpar_prefetch(table.row(Int(rowIds[i * fieldCount + f]))) }
        }
        for i in 0..<rows {
            if i + ahead < rows {
                for f in 0..<fieldCount { fnnpar_prefetch(table.row(Int(rowIds[(i + ahead) * fieldCount + f]))) }
            }
            var dst = x + i * fieldCount * fieldWidth
            for f in 0..<fieldCount {
                let r = Int(rowIds[i * fieldCount + f])
                if table.hasLinear { dst[0] = table.linear(r); dst += 1 }
                // A plain loop: a memmove call per 16-float row costs more than the copy.
                let src = table.row(r)
                for k in 0..<embedDim { dst[k] = src[k] }
                dst += embedDim
            }
        }
    }

    /// FM logits of a slice: bias + sum_i w_i + 1/2 sum_k ((sum_i v_ik)^2 - sum_i v_ik^2).
    /// `scratch` holds embedDim floats.
    @inlinable package static func fmForward(
        rowIds: UnsafePointer<UInt32>, rows: Int, fieldCount: Int, embedDim: Int,
        table: TableRows, bias: Float,
        logits: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
    ) {
        precondition(table.hasLinear)
        for i in 0..<rows {
            let r = rowIds + i * fieldCount
            logits[i] = fmLogit(rowIds: r, fieldCount: fieldCount, embedDim: embedDim, table: table, bias: bias, sum: scratch)
        }
    }

    package typealias Lanes = SIMD8<Float>

    /// One example's FM logit; leaves sum_i v_i in `sum` for the backward pass. The sums of
    /// squares are kept per lane and added across lanes once at the end: one running scalar sum
    /// would chain every addition behind the previous one.
    @inlinable @inline(__always) package static func fmLogit(
        rowIds: UnsafePointer<UInt32>, fieldCount: Int, embedDim: Int,
        table: TableRows, bias: Float, sum: UnsafeMutablePointer<Float>
    ) -> Float {
        let vectorEnd = embedDim / Lanes.scalarCount * Lanes.scalarCount
        for k in 0..<embedDim { sum[k] = 0 }
        var squares = Lanes(repeating: 0)
        var squaresTail: Float = 0
        var linearTerm: Float = 0
        for f in 0..<fieldCount {
            let row = Int(rowIds[f])
            linearTerm += table.linear(row)
            let v = table.row(row)
            var k = 0
            while k < vectorEnd {
                let x = load(v + k)
                store(load(sum + k) + x, sum + k)
                squares += x * x
                k += Lanes.scalarCount
            }
            while k < embedDim {
                sum[k] += v[k]
                squaresTail += v[k] * v[k]
                k += 1
            }
        }
        return completedLogit(sum: sum, embedDim: embedDim, bias: bias, linearTerm: linearTerm,
                              squares: squares.sum() + squaresTail)
    }

    /// Ends an FM logit once the embedding sum and the summed squares are known: bias + linear
    /// term + ½(|Σv|² − Σ|v|²), the one-hot and the valued gathers sharing the same finish.
    @inlinable @inline(__always) package static func completedLogit(
        sum: UnsafeMutablePointer<Float>, embedDim: Int, bias: Float, linearTerm: Float, squares: Float
    ) -> Float {
        let vectorEnd = embedDim / Lanes.scalarCount * Lanes.scalarCount
        var interaction = Lanes(repeating: 0)
        var interactionTail: Float = 0
        var k = 0
        while k < vectorEnd {
            let s = load(sum + k)
            interaction += s * s
            k += Lanes.scalarCount
        }
        while k < embedDim { interactionTail += sum[k] * sum[k]; k += 1 }
        return bias + linearTerm + 0.5 * ((interaction.sum() + interactionTail) - squares)
    }

    /// FM forward and backward for a slice, in the factored form of `RowGradients.fm`: per example
    /// i it writes the logit gradient g_i of the mean loss (dLogits[i], also the gradient of each
    /// of its linear weights and its share of the bias) and g_i S_i (scaledSums[i * embedDim ...],
    /// S_i the sum of its embedding rows); returns the summed loss and this slice's bias gradient.
    @inlinable package static func fmTrain(
        rowIds: UnsafePointer<UInt32>, labels: UnsafePointer<Float>, rows: Int, batchSize: Int,
        fieldCount: Int, embedDim: Int,
        table: TableRows, bias: Float,
        dLogits: UnsafeMutablePointer<Float>, scaledSums: UnsafeMutablePointer<Float>
    ) -> (loss: Double, dBias: Float) {
        precondition(table.hasLinear)
        // The default width as a constant: its loops unroll and its sums stay in registers. The
        // model's dense tensors (`TableRows.isDense`) get their strides as constants too, so a
        // row's address is a shift of its index, as it was before rows had strides.
        if embedDim == 16 && table.isDense(width: 16) {
            return fmTrainSlice(rowIds: rowIds, labels: labels, rows: rows, batchSize: batchSize, fieldCount: fieldCount,
                                embedDim: 16, table: table.dense(width: 16), bias: bias, dLogits: dLogits,
                                scaledSums: scaledSums)
        }
        if embedDim == 16 {
            return fmTrainSlice(rowIds: rowIds, labels: labels, rows: rows, batchSize: batchSize, fieldCount: fieldCount,
                                embedDim: 16, table: table, bias: bias, dLogits: dLogits,
                                scaledSums: scaledSums)
        }
        return fmTrainSlice(rowIds: rowIds, labels: labels, rows: rows, batchSize: batchSize, fieldCount: fieldCount,
                            embedDim: embedDim, table: table, bias: bias, dLogits: dLogits,
                            scaledSums: scaledSums)
    }

    @inlinable @inline(__always) static func fmTrainSlice(
        rowIds: UnsafePointer<UInt32>, labels: UnsafePointer<Float>, rows: Int, batchSize: Int,
        fieldCount: Int, embedDim: Int,
        table: TableRows, bias: Float,
        dLogits: UnsafeMutablePointer<Float>, scaledSums: UnsafeMutablePointer<Float>
    ) -> (loss: Double, dBias: Float) {
        // Three passes over the slice: logits (keeping each example's sum of embeddings), then the
        // loss and logit gradients eight examples at a time, then the sums scaled.
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: rows) { buffer in
            let logits = buffer.baseAddress!
            for i in 0..<min(4, rows) {
                for f in 0..<fieldCount {
                    let row = Int(rowIds[i * fieldCount + f])
                    fnnpar_prefetch(table.row(row))
                    fnnpar_prefetch(table.linearAddress(row))
                }
            }
            for i in 0..<rows {
                if i + 4 < rows {
                    for f in 0..<fieldCount {
                        let ahead = Int(rowIds[(i + 4) * fieldCount + f])
                        fnnpar_prefetch(table.row(ahead))
                        fnnpar_prefetch(table.linearAddress(ahead))
                    }
                }
                logits[i] = fmLogit(rowIds: rowIds + i * fieldCount, fieldCount: fieldCount, embedDim: embedDim,
                                    table: table, bias: bias, sum: scaledSums + i * embedDim)
            }
            let total = BinaryCrossEntropy.gradients(logits: logits, labels: labels, rows: rows, batchSize: batchSize,
                                                     dLogits: dLogits)
            return (total, scaleSums(rows: rows, embedDim: embedDim, dLogits: dLogits, scaledSums: scaledSums))
        }
    }

    /// The backward pass's last step: each example's sum of rows times its logit gradient, in
    /// place; returns the slice's bias gradient (the logit gradients' sum).
    @inlinable @inline(__always) static func scaleSums(rows: Int, embedDim: Int, dLogits: UnsafePointer<Float>,
                                                       scaledSums: UnsafeMutablePointer<Float>) -> Float {
        var dBias: Float = 0
        let vectorEnd = embedDim / Lanes.scalarCount * Lanes.scalarCount
        for i in 0..<rows {
            let g = dLogits[i]
            dBias += g
            let sum = scaledSums + i * embedDim
            var k = 0
            while k < vectorEnd {
                store(g * load(sum + k), sum + k)
                k += Lanes.scalarCount
            }
            while k < embedDim { sum[k] *= g; k += 1 }
        }
        return dBias
    }
}
