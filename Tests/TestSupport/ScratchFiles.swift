import Foundation

/// A fresh temporary directory per call.
public func temporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "fnn-par-tests-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

public func writeText(_ text: String, to path: String) {
    precondition(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)), "could not write \(path)")
}
