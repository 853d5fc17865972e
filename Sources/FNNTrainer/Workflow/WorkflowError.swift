/// Why a run cannot start or go on, in words for the user: the data set or file, the figures,
/// and what to change. The CLI prints it as it is.
public struct WorkflowError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ message: String) { description = message }
}
