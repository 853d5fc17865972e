import FNNSystem

/// What a phase of a training step does, for the per-phase time breakdown.
public enum Phase: Int, CaseIterable, Sendable, Codable {
    /// Batch preparation on the calling thread alone (table rows, row grouping).
    case prepare
    case forward
    case backward
    /// Dense gradient reduction across slices and the dense Adam step.
    case denseUpdate
    /// Lazy (or dense) table row updates.
    case sparseUpdate
    /// Evaluation-mode forward passes.
    case evaluate

    public var name: String {
        switch self {
        case .prepare: return "prepare"
        case .forward: return "forward"
        case .backward: return "backward"
        case .denseUpdate: return "dense_update"
        case .sparseUpdate: return "sparse_update"
        case .evaluate: return "evaluate"
        }
    }
}
