import FNNCore
import Foundation

/// Plain Double implementations of the models' training-mode loss, written from the definitions
/// (pytorch-fm's modules) rather than from our kernels, for finite-difference gradient checks.
public struct ReferenceModel {
    public let config: ModelConfig
    public let layout: DenseLayout
    public let offsets: [Int]
    public var embedding: [Double]
    public var linear: [Double]
    public var dense: [Double]
    public let seed: UInt64
    public let epoch: Int

    public init(_ model: Model, seed: UInt64, epoch: Int) {
        config = model.config
        layout = model.layout
        offsets = model.offsets
        embedding = model.embedding.array.map(Double.init)
        linear = model.linear?.array.map(Double.init) ?? []
        dense = model.dense.array.map(Double.init)
        self.seed = seed
        self.epoch = epoch
    }

    public func row(_ data: Dataset, _ example: Int, _ field: Int) -> Int {
        offsets[field] + Int(data.ids[example * data.fieldCount + field])
    }

    /// Example `example`'s table rows and their weights, field by field: one row of weight 1 per
    /// field for one-hot data; for variable rows each entry's value, divided by the field's
    /// entry count under mean pooling (an empty field contributes nothing).
    public func entries(_ data: Dataset, _ example: Int) -> [[(row: Int, weight: Double)]] {
        guard let variable = data.variable else {
            return (0..<config.fieldCount).map { f in [(row(data, example, f), 1.0)] }
        }
        var byField = [[(row: Int, weight: Double)]](repeating: [], count: config.fieldCount)
        for k in variable.entries(ofRow: example) {
            let f = Int(variable.fields[k])
            byField[f].append((offsets[f] + Int(variable.ids[k]), Double(variable.values[k])))
        }
        let mean = data.schema.meanPooled
        for f in byField.indices where mean[f] && !byField[f].isEmpty {
            let n = Double(byField[f].count)
            byField[f] = byField[f].map { ($0.row, $0.weight / n) }
        }
        return byField
    }

    public func bce(_ z: Double, _ y: Double) -> Double {
        // log(1 + e^z) - y z, stable.
        (z > 0 ? z + log1p(exp(-z)) : log1p(exp(z))) - y * z
    }

    public func meanLoss(_ data: Dataset, _ examples: [Int]) -> Double {
        let logits = config.kind == .fm ? fmLogits(data, examples) : fnnTrainLogits(data, examples)
        var total = 0.0
        for (i, e) in examples.enumerated() { total += bce(logits[i], Double(data.labels[e])) }
        return total / Double(examples.count)
    }

    public func fmLogits(_ data: Dataset, _ examples: [Int]) -> [Double] {
        let d = config.embedDim
        return examples.map { e in
            var z = dense[0]
            var sum = [Double](repeating: 0, count: d)
            var squares = 0.0
            for (r, w) in entries(data, e).joined() {
                z += w * linear[r]
                for k in 0..<d {
                    sum[k] += w * embedding[r * d + k]
                    squares += w * embedding[r * d + k] * w * embedding[r * d + k]
                }
            }
            return z + 0.5 * (sum.reduce(0) { $0 + $1 * $1 } - squares)
        }
    }

    /// Linear -> BatchNorm1d (batch statistics, biased variance) -> ReLU -> inverted dropout, per
    /// hidden layer, then Linear(., 1).
    public func fnnTrainLogits(_ data: Dataset, _ examples: [Int]) -> [Double] {
        let d = config.embedDim
        var x: [[Double]] = examples.map { e in
            var v: [Double] = []
            for field in entries(data, e) {
                var pooled = [Double](repeating: 0, count: d)
                var linearTerm = 0.0
                for (r, w) in field {
                    if config.fnnInput == .embeddingPlusLinear { linearTerm += w * linear[r] }
                    for k in 0..<d { pooled[k] += w * embedding[r * d + k] }
                }
                if config.fnnInput == .embeddingPlusLinear { v.append(linearTerm) }
                v.append(contentsOf: pooled)
            }
            return v
        }
        let n = Double(examples.count)
        for (l, h) in layout.hidden.enumerated() {
            var z: [[Double]] = x.map { input in
                (0..<h.outputs).map { o in
                    var s = dense[h.bias + o]
                    for i in 0..<h.inputs { s += dense[h.weight + o * h.inputs + i] * input[i] }
                    return s
                }
            }
            for o in 0..<h.outputs {
                let mean = z.reduce(0) { $0 + $1[o] } / n
                let variance = z.reduce(0) { $0 + ($1[o] - mean) * ($1[o] - mean) } / n
                for i in z.indices {
                    let y = dense[h.gamma + o] * (z[i][o] - mean) / (variance + 1e-5).squareRoot() + dense[h.beta + o]
                    var a = max(y, 0)
                    if config.dropout > 0 {
                        let key = CounterRandom.key(seed, UInt64(epoch), UInt64(examples[i]), UInt64(l))
                        a = CounterRandom.uniform16(key, o) < config.dropout ? 0 : a / (1 - Double(config.dropout))
                    }
                    z[i][o] = a
                }
            }
            x = z
        }
        return x.map { input in
            var s = dense[layout.outputBias]
            for i in 0..<layout.outputInputs { s += dense[layout.outputWeight + i] * input[i] }
            return s
        }
    }

    /// Central differences of the mean loss with respect to one parameter.
    public func numericGradient(_ data: Dataset, _ examples: [Int], _ keyPath: WritableKeyPath<ReferenceModel, [Double]>,
                         _ index: Int, step h: Double = 1e-6) -> Double {
        var plus = self, minus = self
        plus[keyPath: keyPath][index] += h
        minus[keyPath: keyPath][index] -= h
        return (plus.meanLoss(data, examples) - minus.meanLoss(data, examples)) / (2 * h)
    }
}
