import FNNCore

/// Where the ranks of a run keep the tables: each whole (replicated), or each rank its shard
/// (`TableShard`), or sharded only when a whole table with its optimizer state would not fit a
/// rank's memory (auto). The model is the same bit for bit either way: only memory, bytes
/// exchanged and where each row's update runs differ.
public enum TablePlacement: String, Sendable, CaseIterable, Codable {
    case auto, replicated, sharded
}
