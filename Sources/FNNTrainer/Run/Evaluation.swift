import FNNCore
import FNNExecution
import Foundation

/// AUC and log loss on one part of a split, computed in file order (see `logitsOfPart`).
public func evaluate(engine: TrainingEngine, data: Dataset, split: DataSplit, part: DataSplit.Part,
                     executor: PhaseExecutor) throws(CommunicatorError) -> EvaluationResult {
    let (logits, labels) = try logitsOfPart(engine: engine, data: data, split: split, part: part, executor: executor)
    return EvaluationResult(auc: Metrics.auc(scores: logits, labels: labels),
                            logLoss: Metrics.logLoss(logits: logits, labels: labels), rows: logits.count)
}

/// Logits and labels of one part of a split, in file order, without a row list (data larger than
/// memory is evaluated this way too).
/// Examples per evaluation block (see `logitsWalkingTheFile`).
let evaluationBlockRows = 65536

func logitsOfPart(engine: TrainingEngine, data: Dataset, split: DataSplit, part: DataSplit.Part,
                  executor: PhaseExecutor, blockRows: Int = evaluationBlockRows) throws(CommunicatorError) -> (logits: [Float], labels: [Float]) {
    var labels: [Float] = []
    labels.reserveCapacity(split.count(of: part))
    let rows = (0..<data.rowCount).lazy.filter { split.part(ofRow: $0) == part }
    let logits = try logitsWalkingTheFile(engine: engine, data: data, rows: rows, expected: split.count(of: part),
                                      executor: executor, blockRows: blockRows) { labels.append(data.labels[$0]) }
    return (logits, labels)
}

/// Logits of `rows` (increasing row ids), block by block of `blockRows` examples, each block's
/// pages handed back after it: a mapped data set may be larger than memory. In memory the same
/// blocks are used, because a logit's last bit can depend on which rows share its GEMM (the
/// kernel differs with the matrix size), and the result must not depend on where the data lives.
/// `visit` sees every row, in order.
func logitsWalkingTheFile<Rows: Sequence<Int>>(
    engine: TrainingEngine, data: Dataset, rows: Rows, expected: Int, executor: PhaseExecutor, blockRows: Int,
    visit: (Int) -> Void = { _ in }
) throws(CommunicatorError) -> [Float] {
    var logits: [Float] = []
    logits.reserveCapacity(expected)
    var block: [Int] = []
    var released = 0
    func flush() throws(CommunicatorError) {
        guard let last = block.last else { return }
        logits += try engine.logits(examples: block, executor: executor)
        if data.isMapped { data.releasePages(rows: released..<(last + 1)) }
        released = last + 1
        block.removeAll(keepingCapacity: true)
    }
    for r in rows {
        visit(r)
        block.append(r)
        if block.count == blockRows { try flush() }
    }
    try flush()
    return logits
}

/// AUC and log loss of `model` on the given rows.
public func evaluate(engine: TrainingEngine, data: Dataset, rows: [Int], executor: PhaseExecutor) throws(CommunicatorError) -> EvaluationResult {
    let logits = try logitsInFileOrder(engine: engine, data: data, rows: rows, executor: executor)
    let labels = rows.map { data.labels[$0] }
    return EvaluationResult(auc: Metrics.auc(scores: logits, labels: labels),
                            logLoss: Metrics.logLoss(logits: logits, labels: labels), rows: rows.count)
}

/// Logits of `rows`, in the order given, computed in file order (`logitsWalkingTheFile`) and put
/// back in the given order, so metrics sum in the same order too.
func logitsInFileOrder(engine: TrainingEngine, data: Dataset, rows: [Int], executor: PhaseExecutor,
                       blockRows: Int = evaluationBlockRows) throws(CommunicatorError) -> [Float] {
    let permutation = rows.indices.sorted { rows[$0] < rows[$1] }
    let sorted = try logitsWalkingTheFile(engine: engine, data: data, rows: permutation.lazy.map { rows[$0] },
                                      expected: rows.count, executor: executor, blockRows: blockRows)
    var logits = [Float](repeating: 0, count: rows.count)
    for (k, position) in permutation.enumerated() { logits[position] = sorted[k] }
    return logits
}
