import FNNCore
import TestSupport
import Testing

@Suite struct TableInitializationTests {
    /// `normal(s)`: linear weights exactly 0, rows N(0, s^2) whatever the table size; `torch`:
    /// xavier bounds over the whole table and N(0, 1) linear weights.
    @Test func normalAndTorchStarts() {
        let config = ModelConfig(kind: .fm, fieldDims: [3000, 1000], embedDim: 16)
        let normal = Model.initialized(config: config, seed: 3, tables: .normal(0.01))
        #expect(normal.linear!.array.allSatisfy { $0 == 0 })
        let values = normal.embedding.array.map(Double.init)
        let mean = values.reduce(0, +) / Double(values.count)
        let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
        #expect(abs(mean) < 2e-4 && abs(std - 0.01) < 2e-4)
        let torch = Model.initialized(config: config, seed: 3)
        let bound = Float((6.0 / Double(4000 + 16)).squareRoot())
        #expect(torch.embedding.array.allSatisfy { abs($0) <= bound })
        let linear = torch.linear!.array.map(Double.init)
        let linearStd = (linear.map { $0 * $0 }.reduce(0, +) / Double(linear.count)).squareRoot()
        #expect(abs(linearStd - 1) < 0.05)
        #expect(TableInitialization.recommended(for: .fm) == .normal(0.001) && TableInitialization.recommended(for: .fnn) == .torch)
    }

    /// The default learning rates of the table rules follow the field count (2 / fields for the
    /// Adagrads, 0.08 / fields for SGD); Adam's is the dense one; a given one wins.
    @Test func tableLearningRates() {
        #expect(TableOptimizerConfig(kind: .rowwiseAdagrad).learningRate(fieldCount: 2, denseLearningRate: 1e-3) == 1)
        #expect(TableOptimizerConfig(kind: .adagrad).learningRate(fieldCount: 40, denseLearningRate: 1e-3) == 0.05)
        #expect(TableOptimizerConfig(kind: .sgd).learningRate(fieldCount: 4, denseLearningRate: 1e-3) == 0.02)
        #expect(TableOptimizerConfig(kind: .adam).learningRate(fieldCount: 4, denseLearningRate: 3e-3) == 3e-3)
        #expect(TableOptimizerConfig(kind: .sgd, learningRate: 0.5).learningRate(fieldCount: 4, denseLearningRate: 1e-3) == 0.5)
        #expect(TableOptimizerConfig.recommended(for: .fm).kind == .rowwiseAdagrad)
        #expect(TableOptimizerConfig.recommended(for: .fnn).kind == .adam)
    }
}
