import FNNCore
import FNNThreads
import TestSupport
import Testing

/// The divergence check's scan of the parameters: every NaN or infinity is found, wherever it
/// sits (lane body, scalar tail, any worker's part), and a finite model passes.
@Suite struct NonFiniteScanTests {
    @Test(arguments: [1, 3])
    func everyNonFiniteValueIsFound(threads: Int) {
        let pool = WorkerPool(threads: threads)
        // 70,001 x 3 floats: several parts of several lanes, and a tail.
        let model = Model.initialized(config: ModelConfig(kind: .fm, fieldDims: [70_000, 1], embedDim: 3), seed: 1, tables: .normal(0.1))
        #expect(model.firstNonFiniteTensor(executor: pool) == nil)
        for index in [0, 7, 8, 100_003, model.embedding.count - 1] {
            for bad in [Float.nan, .infinity, -.infinity] {
                let saved = model.embedding[index]
                model.embedding[index] = bad
                #expect(model.firstNonFiniteTensor(executor: pool) == "embedding.embedding.weight", "\(bad) at \(index)")
                model.embedding[index] = saved
            }
        }
        model.linear![69_999] = .nan
        #expect(model.firstNonFiniteTensor(executor: pool) == "linear.fc.weight")
        model.linear![69_999] = 0
        model.dense[0] = .infinity
        #expect(model.firstNonFiniteTensor() == "linear.bias")
        // Huge but finite values are finite.
        model.dense[0] = .greatestFiniteMagnitude
        model.embedding[5] = -.greatestFiniteMagnitude
        #expect(model.firstNonFiniteTensor(executor: pool) == nil)
    }
}
