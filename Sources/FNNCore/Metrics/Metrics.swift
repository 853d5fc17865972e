/// Evaluation metrics over a whole split.
public enum Metrics {
    /// Area under the ROC curve, exact and tie-aware (a tied positive/negative pair counts one
    /// half), in O(n log n) through average ranks. NaN when only one class is present.
    public static func auc(scores: [Float], labels: [Float]) -> Double {
        precondition(scores.count == labels.count)
        let n = scores.count
        var order = Array(0..<n)
        order.sort { scores[$0] < scores[$1] }
        var positives = 0.0
        var rankSumOfPositives = 0.0
        var i = 0
        while i < n {
            var j = i
            while j + 1 < n && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            // Ranks i+1 ... j+1 share their average.
            let averageRank = Double(i + j + 2) / 2
            for k in i...j where labels[order[k]] > 0.5 {
                positives += 1
                rankSumOfPositives += averageRank
            }
            i = j + 1
        }
        let negatives = Double(n) - positives
        guard positives > 0, negatives > 0 else { return .nan }
        return (rankSumOfPositives - positives * (positives + 1) / 2) / (positives * negatives)
    }

    /// Mean binary cross-entropy, from logits.
    public static func logLoss(logits: [Float], labels: [Float]) -> Double {
        precondition(logits.count == labels.count)
        guard !logits.isEmpty else { return .nan }
        var total = 0.0
        for i in 0..<logits.count { total += BinaryCrossEntropy.loss(logit: logits[i], label: labels[i]) }
        return total / Double(logits.count)
    }
}
