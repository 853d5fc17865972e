import FNNSystem

/// `--skip-bad-lines`: without it the first malformed line stops the load with its error; with it,
/// malformed lines are counted and left out whole, and the first one is kept for the report.
/// Where each left-out line sat (the rows kept before it) is recorded too, so `predict` can
/// write a `nan` in its place and keep its output aligned with the input's lines.
struct BadLinePolicy {
    let skip: Bool
    var skipped = 0
    var first: InputError?
    var positions: [Int] = []

    mutating func reject(keptRows: Int, _ error: InputError) throws(InputError) {
        guard skip else { throw error }
        skipped += 1
        positions.append(keptRows)
        if first == nil { first = error }
    }
}
