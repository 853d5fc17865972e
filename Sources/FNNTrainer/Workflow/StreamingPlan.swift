import FNNCore

/// Streaming chunk size for `dataset` when it exceeds `budget` bytes (nil: train in memory),
/// with the line that explains the choice. The budget covers what streaming holds in proportion
/// to the data: the resident pages of a window of chunks (two windows, while one gives way to the
/// next) and its list of training rows (4 bytes a row). Evaluation holds a score and a label per
/// validation or test row (8 bytes each) on top, and the model, its optimizer state and the batch
/// workspace come on top of everything; the memory plan says how much.
public func streamChunkRows(for dataset: Dataset, budget: Int, batchSize: Int, window: Int) -> (rows: Int?, note: String?) {
    guard dataset.binaryBytes > budget else { return (nil, nil) }
    guard dataset.isMapped else {
        return (nil, "note: the data (\(dataset.binaryBytes / 1_000_000) MB) exceeds --memory-budget but is held in memory (no binary cache); training goes on in memory")
    }
    let bytesPerRow = (dataset.fieldCount + 1) * 4 + 4
    // Two windows are resident while one gives way to the next.
    let rows = max(batchSize, budget / bytesPerRow / (2 * window))
    let evaluation = dataset.rowCount / 10 * 8
    return (rows, "data of \(dataset.binaryBytes / 1_000_000) MB exceeds the \(budget / 1_000_000) MB memory budget: streaming from the mapped data in chunks of \(rows) rows, shuffled by chunk and within windows of \(window) chunks; evaluation adds \(evaluation / 1_000_000) MB (scores and labels)")
}
