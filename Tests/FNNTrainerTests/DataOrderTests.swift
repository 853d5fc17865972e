import FNNCore
import FNNExecution
import FNNTrainer
import TestSupport
import Testing

/// `DataOrder.parts`: the order that lets each rank read one contiguous part of the file.
@Suite struct DataOrderTests {
    /// Every epoch is a permutation of the training rows; in every batch but the trailing ones,
    /// slice k's rows come from part k (the k-th run of training rows in file order, sized like
    /// the slice), so the slices of any rank's share come from one contiguous run of the file.
    @Test(arguments: [(2048, 64), (1000, 64), (700, 300)])
    func slicesComeFromTheirOwnPartOfTheFile(batchSize: Int, sliceRows: Int) {
        let data = randomDataset(rows: 9000, fieldDims: [20, 10], seed: 3)
        let split = DataSplit(rowCount: data.rowCount, seed: 4)
        var options = TrainingOptions()
        options.batchSize = batchSize
        options.sliceRows = sliceRows
        options.dataOrder = .parts
        let engine = makeEngine(model: Model.initialized(config: ModelConfig(kind: .fm, fieldDims: data.fieldDims, embedDim: 4), seed: 1),
                                data: data, options: options)
        let run = TrainingRun(engine: engine, data: data, split: split, options: options, executor: SerialExecutor())
        let fileOrder = split.train.sorted()
        let n = fileOrder.count
        let layout = SliceLayout(capacity: batchSize, sliceRows: sliceRows)
        let slices = layout.slices(for: batchSize)
        // Part k: file-order training rows from n * (rows of slices before k) / batch on.
        let bounds = (0...slices).map { n * min(batchSize, $0 * sliceRows) / batchSize }
        let partOf = Dictionary(uniqueKeysWithValues: (0..<slices).flatMap { k in fileOrder[bounds[k]..<bounds[k + 1]].map { ($0, k) } })
        for epoch in 1...2 {
            let order = run.order(epoch: epoch)
            #expect(order.sorted() == fileOrder)
            #expect(order == run.order(epoch: epoch))
            let fullBatches = (0..<slices).map { (bounds[$0 + 1] - bounds[$0]) / layout.rows(of: $0, count: batchSize).count }.min()!
            #expect(fullBatches >= n / batchSize - 1)
            for j in 0..<fullBatches {
                for k in 0..<slices {
                    let rows = layout.rows(of: k, count: batchSize)
                    #expect(order[(j * batchSize + rows.lowerBound)..<(j * batchSize + rows.upperBound)].allSatisfy { partOf[$0] == k },
                            "epoch \(epoch), batch \(j), slice \(k)")
                }
            }
        }
        #expect(run.order(epoch: 1) != run.order(epoch: 2))
        options.dataOrder = .shuffle
        let shuffled = TrainingRun(engine: engine, data: data, split: split, options: options, executor: SerialExecutor())
        #expect(shuffled.order(epoch: 1) != run.order(epoch: 1))
    }
}
