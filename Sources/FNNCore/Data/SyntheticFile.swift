import FNNSystem

extension PlantedFMGenerator {
    /// Writes `rows` drawn rows as fnn-par's binary data file at `path`, a chunk at a time: only
    /// the labels (4 bytes a row) are held whole, since the file stores them after all the ids,
    /// so the file may be larger than memory. Returns the positive count.
    public func writeBinaryFile(rows: Int, to path: String, description: String) throws -> Int {
        var sampler = makeSampler()
        let fieldCount = fields.count
        let labels = AlignedBuffer<Float>(count: rows)
        let chunkRows = max(1, (16 << 20) / (fieldCount * 4))
        let chunk = AlignedBuffer<UInt32>(count: chunkRows * fieldCount)
        // The labels are drawn with the ids, and written after them.
        try DatasetCache.write(cache: path, key: nil, rowCount: rows, fieldDims: fields.map(\.size), hasLabels: true,
                               vocabulary: nil, labels: UnsafeBufferPointer(start: labels.base, count: rows),
                               metadata: ["generated_by": description]) { writer in
            var done = 0
            while done < rows {
                let n = min(chunkRows, rows - done)
                sampler.draw(rows: n, ids: chunk.base, labels: labels.base + done)
                try writer.write(UnsafeRawBufferPointer(start: chunk.base, count: n * fieldCount * 4))
                done += n
            }
        }
        var positives = 0
        for r in 0..<rows where labels[r] > 0 { positives += 1 }
        return positives
    }
}
