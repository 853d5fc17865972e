import FNNCore

/// The rows a training run uses for training, validation and test: every row (--train-on-all),
/// the training file with carved-out or held-out files, or the seeded split; refused with the
/// counts when too few rows are left to train or validate on. Returns the note the caller shows
/// when validation rows were carved out of the training file.
public func trainingSplit(of dataset: Dataset, options: TrainingOptions) throws(WorkflowError) -> (DataSplit, note: String?) {
    if options.trainOnAll { return (DataSplit.allRows(rowCount: dataset.rowCount, seed: options.seed), nil) }
    guard let heldOut = dataset.heldOut else {
        return (try seededSplit(of: dataset, seed: options.seed, proportions: options.split), nil)
    }
    let split = DataSplit(rowCount: dataset.rowCount, seed: options.seed, proportions: options.split, heldOut: heldOut)
    guard split.trainCount >= 2, split.validationCount > 0 else {
        throw WorkflowError("\(dataset.name): \(split.trainCount) training and \(split.validationCount) validation rows are too few to train on")
    }
    let note = heldOut.validationRows == 0
        ? "validation rows: \(split.validationCount) carved out of \(dataset.name) at the \(options.split.train):\(options.split.validation) ratio of --split"
        : nil
    return (split, note)
}

/// The seeded random split, refused when a part would be empty.
public func seededSplit(of dataset: Dataset, seed: UInt64, proportions: DataSplit.Proportions = .standard) throws(WorkflowError) -> DataSplit {
    let split = DataSplit(rowCount: dataset.rowCount, seed: seed, proportions: proportions)
    guard split.trainCount >= 2, split.validationCount > 0, split.testCount > 0 else {
        throw WorkflowError("\(dataset.name): \(dataset.rowCount) rows are too few for a \(proportions) split")
    }
    return split
}
