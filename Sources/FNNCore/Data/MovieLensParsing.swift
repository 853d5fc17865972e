import FNNSystem

/// MovieLens ratings as pytorch-fm reads them: two fields (user, movie), index = id - 1, field
/// size = largest id, label = rating > 3.
func parseMovieLens(_ bytes: UnsafeBufferPointer<UInt8>, path: String, allowUnlabeled: Bool = false,
                    skipBadLines: Bool = false) throws(InputError) -> Dataset {
    var policy = BadLinePolicy(skip: skipBadLines)
    var scanner = LineScanner(bytes)
    var columns: [Range<Int>] = []
    columns.reserveCapacity(8)
    var separator: Separator?
    var ids: [UInt32] = []
    var labels: [Float] = []
    let estimatedRows = bytes.count / 20
    ids.reserveCapacity(estimatedRows * 2)
    labels.reserveCapacity(estimatedRows)
    var maxUser: UInt64 = 0, maxMovie: UInt64 = 0
    var maxUserLine = 0, maxMovieLine = 0
    var unlabeledRows = 0
    while let line = scanner.nextLine() {
        if bytes.isBlank(line) { continue }
        if separator == nil {
            for candidate in [Separator.doubleColon, .tab, .comma] {
                bytes.splitColumns(line, by: candidate, into: &columns)
                if columns.count > 1 { separator = candidate; break }
            }
            guard separator != nil else {
                throw InputError(path: path, line: scanner.lineNumber,
                                 "expected MovieLens columns separated by '::', tab or ','")
            }
            // ML-latest's CSV starts with "userId,movieId,rating,timestamp".
            if separator == .comma, bytes.parseUnsigned(columns[0]) == nil, labels.isEmpty { continue }
        }
        bytes.splitColumns(line, by: separator!, into: &columns)
        let unlabeled = allowUnlabeled && columns.count == 2
        guard columns.count == 4 || unlabeled else {
            try policy.reject(keptRows: labels.count, InputError(path: path, line: scanner.lineNumber,
                                         "expected 4 columns (user, movie, rating, timestamp) separated by \(separator!.display), found \(columns.count)"))
            continue
        }
        guard let user = bytes.parseUnsigned(columns[0]), user > 0, user <= UInt64(UInt32.max) else {
            try policy.reject(keptRows: labels.count, InputError(path: path, line: scanner.lineNumber,
                                         "user id '\(bytes.text(columns[0]))' is not a positive integer"))
            continue
        }
        guard let movie = bytes.parseUnsigned(columns[1]), movie > 0, movie <= UInt64(UInt32.max) else {
            try policy.reject(keptRows: labels.count, InputError(path: path, line: scanner.lineNumber,
                                         "movie id '\(bytes.text(columns[1]))' is not a positive integer"))
            continue
        }
        var label: Float = 0
        if unlabeled {
            unlabeledRows += 1
        } else {
            guard let rating = bytes.parseDecimal(columns[2]) else {
                try policy.reject(keptRows: labels.count, InputError(path: path, line: scanner.lineNumber,
                                             "rating '\(bytes.text(columns[2]))' is not a number"))
                continue
            }
            label = rating > 3 ? 1 : 0
        }
        ids.append(UInt32(user - 1))
        ids.append(UInt32(movie - 1))
        labels.append(label)
        if user > maxUser { maxUser = user; maxUserLine = scanner.lineNumber }
        if movie > maxMovie { maxMovie = movie; maxMovieLine = scanner.lineNumber }
    }
    if labels.isEmpty { throw InputError(path: path, "empty file: no data rows") }
    try checkTableSize([Int(maxUser), Int(maxMovie)], largest: [maxUser, maxMovie], lines: [maxUserLine, maxMovieLine],
                       names: ["user id", "movie id"], path: path)
    var data = Dataset(name: path, fieldDims: [Int(maxUser), Int(maxMovie)], ids: ids, labels: labels)
    data.hasLabels = unlabeledRows == 0
    data.skippedLines = policy.skipped
    data.firstSkipped = policy.first
    data.skippedRowPositions = policy.positions
    return data
}
