import FNNCore
import Testing

@Suite struct TablesFromFMTests {
    /// The FNN takes the FM's embedding (and linear weights with embedding+linear) and keeps its
    /// own MLP; an FM of another width or other fields is refused with the reason, not a trap.
    @Test func fnnStartsFromTheFMsTables() throws {
        let fm = Model.initialized(config: ModelConfig(kind: .fm, fieldDims: [5, 7], embedDim: 4), seed: 1, tables: .normal(0.1))
        let config = ModelConfig(kind: .fnn, fieldDims: [5, 7], embedDim: 4, mlpDims: [8], dropout: 0, fnnInput: .embeddingPlusLinear)
        let fnn = Model.initialized(config: config, seed: 2, tables: .torch)
        let mlpBefore = fnn.dense.array
        try fnn.startTables(from: fm, source: "fm.safetensors")
        #expect(fnn.embedding.bitwiseEqual(fm.embedding))
        #expect(fnn.linear!.bitwiseEqual(fm.linear!))
        #expect(fnn.dense.array == mlpBefore)
        let wide = Model.initialized(config: ModelConfig(kind: .fm, fieldDims: [5, 7], embedDim: 8), seed: 1, tables: .normal(0.1))
        #expect(throws: TablesFromFMError("fm.safetensors: its embedding dimension is 8, this FNN's is 4 (--embed-dim)")) {
            try fnn.startTables(from: wide, source: "fm.safetensors")
        }
        let other = Model.initialized(config: ModelConfig(kind: .fm, fieldDims: [5, 9], embedDim: 4), seed: 1, tables: .normal(0.1))
        #expect(throws: TablesFromFMError.self) { try fnn.startTables(from: other, source: "fm.safetensors") }
    }
}
