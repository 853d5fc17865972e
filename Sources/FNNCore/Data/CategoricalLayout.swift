import FNNExecution
import FNNSystem
import Foundation

/// How a Criteo or Avazu file lays out its columns: Criteo's own `train.txt` is tab-separated
/// without a header; its CSV exports start with a header and are comma-separated, DeepCTR's
/// (`label,I1,...,C26`) as the TSV's columns, Kaggle's (`Id,Label,I1,...`) with an id column first.
public struct CategoricalLayout: Sendable, Equatable {
    var separator: Separator
    /// Columns before the label (Kaggle's CSV: its `Id`).
    var leadingColumns: Int
    /// The first line is a header (Criteo CSV; Avazu's is recognised by its names line by line).
    var header: Bool

    public static let criteoTSV = CategoricalLayout(separator: .tab, leadingColumns: 0, header: false)
    public static let avazu = CategoricalLayout(separator: .comma, leadingColumns: 0, header: false)

    /// The layout of `format` text whose first data line (or header) is `firstLine`.
    public static func detect(_ format: CategoricalFormat, firstLine: String) -> CategoricalLayout {
        guard format == .criteo else { return .avazu }
        let names = firstLine.split(separator: ",", omittingEmptySubsequences: false).map { $0.lowercased() }
        if names.count == 40 && names[0] == "label" && names[1] == "i1" {
            return CategoricalLayout(separator: .comma, leadingColumns: 0, header: true)
        }
        if names.count == 41 && names[0] == "id" && names[1] == "label" && names[2] == "i1" {
            return CategoricalLayout(separator: .comma, leadingColumns: 1, header: true)
        }
        return .criteoTSV
    }

    /// The layout of `format` text starting with `bytes`.
    public static func detect(_ format: CategoricalFormat, start bytes: UnsafeBufferPointer<UInt8>) -> CategoricalLayout {
        let end = bytes.firstIndex(of: 0x0A) ?? bytes.count
        return detect(format, firstLine: String(decoding: UnsafeBufferPointer(rebasing: bytes[0..<min(end, 4096)]), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
