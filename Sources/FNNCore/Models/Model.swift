import FNNExecution
import FNNSystem
import Foundation

/// The parameters of an FM or FNN, laid out as pytorch-fm lays them out (one embedding table for
/// all fields with per-field offsets, torch weight layouts), so model files map one to one onto
/// its `state_dict()`.
public final class Model: @unchecked Sendable {
    public let config: ModelConfig
    public let layout: DenseLayout
    /// First table row of each field.
    public let offsets: [Int]
    /// The table rows this model holds: all of them (a sharded run's rank would hold its share).
    public var tableRange: TableRowRange { TableRowRange(wholeTableOf: config.tableRows) }
    /// tableRows x embedDim.
    public let embedding: AlignedBuffer<Float>
    /// tableRows, when `config.hasLinearTable`.
    public let linear: AlignedBuffer<Float>?
    /// FM: [bias]; FNN: see `DenseLayout`.
    public let dense: AlignedBuffer<Float>
    /// FNN BatchNorm running mean and variance per hidden layer: [mean (out), var (out)] per layer.
    public let runningStats: AlignedBuffer<Float>
    public var batchesTracked: Int64 = 0
    /// Bumped whenever the dense parameters change, so cached copies (per-worker replicas) know
    /// to refresh.
    public internal(set) var revision = 1

    public init(config: ModelConfig) {
        self.config = config
        layout = DenseLayout(config)
        var acc = 0
        offsets = config.fieldDims.map { d in defer { acc += d }; return acc }
        embedding = AlignedBuffer(count: config.tableRows * config.embedDim)
        linear = config.hasLinearTable ? AlignedBuffer(count: config.tableRows) : nil
        dense = AlignedBuffer(count: layout.count)
        runningStats = AlignedBuffer(count: layout.runningStatsCount)
    }

    /// torch's default initialisation as pytorch-fm uses it: xavier-uniform over the whole
    /// embedding table (fan_in = embed dim, fan_out = table rows), N(0, 1) linear weights (the
    /// `nn.Embedding` default), zero FM bias, Linear weight and bias U(+-1/sqrt(fan_in)),
    /// BatchNorm gamma 1, beta 0, running mean 0, running variance 1.
    ///
    /// `tables: .normal(s)` starts the embedding rows at N(0, s^2) and the linear weights at 0
    /// instead (see `TableInitialization`); the dense parameters are drawn as above either way.
    public static func initialized(config: ModelConfig, seed: UInt64, tables: TableInitialization = .torch) -> Model {
        let model = Model(config: config)
        var rng = Xoshiro256(seed: SeedDerivation.initialization(seed))
        switch tables.kind {
        case .torch:
            let bound = (6.0 / Double(config.tableRows + config.embedDim)).squareRoot()
            for i in 0..<model.embedding.count {
                model.embedding[i] = Float((rng.nextDouble() * 2 - 1) * bound)
            }
            if let linear = model.linear {
                for i in 0..<linear.count { linear[i] = Float(rng.nextGaussian()) }
            }
        case .normal:
            let scale = Double(tables.scale)
            for i in 0..<model.embedding.count { model.embedding[i] = Float(rng.nextGaussian() * scale) }
        }
        let layout = model.layout
        if config.kind == .fnn {
            for layer in layout.hidden {
                let b = 1.0 / Double(layer.inputs).squareRoot()
                for i in 0..<(layer.inputs * layer.outputs) { model.dense[layer.weight + i] = Float((rng.nextDouble() * 2 - 1) * b) }
                for i in 0..<layer.outputs {
                    model.dense[layer.bias + i] = Float((rng.nextDouble() * 2 - 1) * b)
                    model.dense[layer.gamma + i] = 1
                    model.dense[layer.beta + i] = 0
                }
            }
            let b = 1.0 / Double(layout.outputInputs).squareRoot()
            for i in 0..<layout.outputInputs { model.dense[layout.outputWeight + i] = Float((rng.nextDouble() * 2 - 1) * b) }
            model.dense[layout.outputBias] = Float((rng.nextDouble() * 2 - 1) * b)
            var offset = 0
            for layer in layout.hidden {
                for i in 0..<layer.outputs { model.runningStats[offset + layer.outputs + i] = 1 }
                offset += 2 * layer.outputs
            }
        }
        return model
    }

    /// Offset of hidden layer `l`'s running mean; its variance follows after `outputs` floats.
    public func runningStatsOffset(layer l: Int) -> Int {
        layout.hidden[0..<l].reduce(0) { $0 + 2 * $1.outputs }
    }

    /// Call after changing `dense` directly.
    public func denseDidChange() { revision += 1 }

    public func copy() -> Model {
        let m = Model(config: config)
        m.embedding.copy(from: embedding)
        if let linear { m.linear!.copy(from: linear) }
        m.dense.copy(from: dense)
        m.runningStats.copy(from: runningStats)
        m.batchesTracked = batchesTracked
        return m
    }

    public func copyParameters(from other: Model) {
        precondition(other.config == config)
        revision += 1
        embedding.copy(from: other.embedding)
        if let linear { linear.copy(from: other.linear!) }
        dense.copy(from: other.dense)
        runningStats.copy(from: other.runningStats)
        batchesTracked = other.batchesTracked
    }

    /// The name of the first parameter tensor holding a NaN or an infinity, or nil. The tables
    /// are scanned in `executor`'s workers, a part each (a Criteo-sized table is 180 MB).
    public func firstNonFiniteTensor(executor: PhaseExecutor? = nil) -> String? {
        func finite(_ b: AlignedBuffer<Float>) -> Bool {
            let parts = partition(b.count, parts: b.count < 1 << 16 ? 1 : executor?.concurrency ?? 1, alignment: 64)
            let flags = AlignedBuffer<Float>(count: parts.count * 16)
            let scan = { (p: Int) in flags[p * 16] = Self.nonFiniteSum(b.base, parts[p]) }
            if let executor, parts.count > 1 { executor.run(.evaluate, tasks: parts.count) { p, _ in scan(p) } } else { scan(0) }
            return (0..<parts.count).allSatisfy { flags[$0 * 16] == 0 }
        }
        if !finite(embedding) { return "embedding.embedding.weight" }
        if let linear, !finite(linear) { return "linear.fc.weight" }
        if !finite(dense) { return config.kind == .fm ? "linear.bias" : "the MLP's weights" }
        if !finite(runningStats) { return "the BatchNorm running statistics" }
        return nil
    }

    /// The sum of x * 0 over `range`: x * 0 is 0 for every finite x and NaN for NaN and the
    /// infinities, so the sum is 0 exactly when all are finite. One streaming pass in 8-float
    /// lanes, no branches.
    private static func nonFiniteSum(_ base: UnsafeMutablePointer<Float>, _ range: Range<Int>) -> Float {
        let p = UnsafeRawPointer(base)
        var lanes = SIMD8<Float>(repeating: 0)
        var i = range.lowerBound
        while i + 8 <= range.upperBound {
            lanes += p.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * 0
            i += 8
        }
        var tail: Float = 0
        while i < range.upperBound { tail += base[i] * 0; i += 1 }
        return lanes.sum() + tail
    }

    /// Byte-identical parameters, running statistics included.
    public func bitwiseEqual(_ other: Model) -> Bool {
        config == other.config && embedding.bitwiseEqual(other.embedding) && dense.bitwiseEqual(other.dense)
            && runningStats.bitwiseEqual(other.runningStats) && batchesTracked == other.batchesTracked
            && (linear == nil || linear!.bitwiseEqual(other.linear!))
    }
}
