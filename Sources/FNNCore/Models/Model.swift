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
    /// The table rows this model holds: all of them, or one rank's shard of them.
    public let shard: TableShard
    /// The rows its update tasks cover (a shard's local rows, with their unowned row after).
    public var tableRange: TableRowRange {
        shard.isWholeTable ? TableRowRange(wholeTableOf: config.tableRows) : TableRowRange(shardOf: shard.localRows)
    }
    /// Rows held here: `shard.localRows`.
    public var heldRows: Int { shard.localRows }
    /// heldRows x embedDim: the held rows in local order (global row g of a shard at g / ranks).
    public let embedding: AlignedBuffer<Float>
    /// heldRows, when `config.hasLinearTable`.
    public let linear: AlignedBuffer<Float>?
    /// FM: [bias]; FNN: see `DenseLayout`.
    public let dense: AlignedBuffer<Float>
    /// FNN BatchNorm running mean and variance per hidden layer: [mean (out), var (out)] per layer.
    public let runningStats: AlignedBuffer<Float>
    public var batchesTracked: Int64 = 0
    /// Bumped whenever the dense parameters change, so cached copies (per-worker replicas) know
    /// to refresh.
    public internal(set) var revision = 1
    /// Bumped whenever the table tensors (`embedding`, `linear`) are written from outside a
    /// training engine (a copy of another model's parameters, an FM's tables), so an engine
    /// that trains on its own copy of the rows (fused row records) knows the tensors lead.
    public internal(set) var tableRevision = 1

    public init(config: ModelConfig, shard: TableShard? = nil) {
        let shard = shard ?? TableShard(wholeTableOf: config.tableRows)
        precondition(shard.tableRows == config.tableRows)
        self.config = config
        self.shard = shard
        layout = DenseLayout(config)
        var acc = 0
        offsets = config.fieldDims.map { d in defer { acc += d }; return acc }
        embedding = AlignedBuffer(count: shard.localRows * config.embedDim)
        linear = config.hasLinearTable ? AlignedBuffer(count: shard.localRows) : nil
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
    ///
    /// A shard draws the whole table's stream and keeps its own rows, so every rank count starts
    /// from the same numbers.
    public static func initialized(config: ModelConfig, seed: UInt64, tables: TableInitialization = .torch,
                                   shard: TableShard? = nil) -> Model {
        let model = Model(config: config, shard: shard)
        let shard = model.shard, d = config.embedDim
        var rng = Xoshiro256(seed: SeedDerivation.initialization(seed))
        /// Draws every row's values in global order; `keep` stores row g's at its local index.
        func drawRows(width: Int, into buffer: AlignedBuffer<Float>, _ draw: (inout Xoshiro256) -> Float) {
            if shard.isWholeTable {
                for i in 0..<buffer.count { buffer[i] = draw(&rng) }
                return
            }
            for row in 0..<config.tableRows {
                if shard.owner(of: row) == shard.rank {
                    let base = shard.localRow(of: row) * width
                    for j in 0..<width { buffer[base + j] = draw(&rng) }
                } else {
                    for _ in 0..<width { _ = draw(&rng) }
                }
            }
        }
        switch tables.kind {
        case .torch:
            let bound = (6.0 / Double(config.tableRows + config.embedDim)).squareRoot()
            drawRows(width: d, into: model.embedding) { Float(($0.nextDouble() * 2 - 1) * bound) }
            if let linear = model.linear { drawRows(width: 1, into: linear) { Float($0.nextGaussian()) } }
        case .normal:
            let scale = Double(tables.scale)
            drawRows(width: d, into: model.embedding) { Float($0.nextGaussian() * scale) }
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

    /// Call after changing `embedding` or `linear` directly.
    public func tablesDidChange() { tableRevision += 1 }

    public func copy() -> Model {
        let m = Model(config: config, shard: shard)
        m.embedding.copy(from: embedding)
        if let linear { m.linear!.copy(from: linear) }
        m.dense.copy(from: dense)
        m.runningStats.copy(from: runningStats)
        m.batchesTracked = batchesTracked
        return m
    }

    public func copyParameters(from other: Model) {
        precondition(other.config == config && other.shard == shard)
        revision += 1
        tableRevision += 1
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
        config == other.config && shard == other.shard && embedding.bitwiseEqual(other.embedding) && dense.bitwiseEqual(other.dense)
            && runningStats.bitwiseEqual(other.runningStats) && batchesTracked == other.batchesTracked
            && (linear == nil || linear!.bitwiseEqual(other.linear!))
    }
}
