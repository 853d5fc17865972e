import Foundation
import Testing

/// The shared real data sets live beside the repository (never inside it: their terms forbid
/// redistribution). FNN_PAR_DATA overrides the location.
public enum TestData {
    public static let root: String = {
        if let override = ProcessInfo.processInfo.environment["FNN_PAR_DATA"] { return override }
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return repo.deletingLastPathComponent().appendingPathComponent("shared/data").path
    }()

    public static func path(_ relative: String) -> String { root + "/" + relative }

    /// Whether the shared data sets are here: tests that read them are enabled only then (a
    /// clone elsewhere skips them, with this reason, instead of failing).
    public static let isAvailable = FileManager.default.fileExists(atPath: root + "/README.md")
    public static let unavailableReason: Comment = "needs the shared data sets in ../shared/data (or FNN_PAR_DATA)"
}
