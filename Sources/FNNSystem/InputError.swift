/// A problem with an input file, located precisely enough to fix it: "u.data:17: rating 'x' is not a number".
public struct InputError: Error, CustomStringConvertible, Equatable, Sendable {
    public let path: String
    /// 1-based line number, or nil when the problem concerns the whole file.
    public let line: Int?
    public let message: String

    public init(path: String, line: Int? = nil, _ message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    public var description: String {
        if let line { return "\(path):\(line): \(message)" }
        return "\(path): \(message)"
    }
}
