import FNNSystem

/// The most table rows a model may have: row ids are 32-bit and batch positions are grouped with
/// 32-bit indices.
public let maximumTableRows = Int(Int32.max)

/// Field sizes come from the largest id, so one stray huge id (a hash, a timestamp) makes a
/// table no machine can hold; name the line it came from instead of failing to allocate.
func checkTableSize(_ fieldDims: [Int], largest: [UInt64], lines: [Int], names: [String], path: String) throws(InputError) {
    guard fieldDims.reduce(0, +) > maximumTableRows else { return }
    let f = fieldDims.indices.max { fieldDims[$0] < fieldDims[$1] }!
    throw InputError(path: path, line: lines[f],
                     "\(names[f]) \(largest[f]) would make a table of \(fieldDims.reduce(0, +)) rows (at most \(maximumTableRows)): ids must be small consecutive integers; hashed ids need a vocabulary")
}
