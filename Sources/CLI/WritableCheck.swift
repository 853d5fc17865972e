import FNNSystem
import FNNTrainer
import Foundation

/// Output paths are checked before any work, so that a run does not train for an hour and then
/// fail to write its result: the directory must exist and take new files (outputs are written to
/// a temporary name beside the target and renamed), and the target must not be a directory.
///
/// `shardedCheckpoint`: the path is a checkpoint, which may be a sharded checkpoint's directory
/// (it is written into) when it already is one.
func checkWritable(_ path: String?, option: String, allowStandardOutput: Bool = false, shardedCheckpoint: Bool = false) throws {
    guard let path else { return }
    if allowStandardOutput && path == "-" { return }
    guard !path.isEmpty else { throw CLIError("\(option): an empty path") }
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
        if shardedCheckpoint && FileManager.default.fileExists(atPath: path + "/" + ShardedCheckpoint.manifestName) {
            do { try isWritable(path) } catch { throw CLIError("\(option) \(path): cannot write in it (\(error))") }
            return
        }
        throw CLIError("\(option) \(path): is a directory" + (shardedCheckpoint ? " but not a sharded checkpoint (no \(ShardedCheckpoint.manifestName))" : "") + "; give a file name")
    }
    // A device, FIFO or terminal (also through a link such as /dev/stdout) is written in place:
    // it must take writes itself; its directory need not take new files.
    if FileManager.default.fileExists(atPath: path), !isRegularFile(path) {
        do { try isWritable(path) } catch {
            throw CLIError("\(option) \(path): cannot write to it (\(error))")
        }
        return
    }
    let directory = (path as NSString).deletingLastPathComponent
    let parent = directory.isEmpty ? "." : directory
    guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw CLIError("\(option) \(path): the directory \(parent) does not exist")
    }
    do { try isWritable(parent) } catch {
        throw CLIError("\(option) \(path): cannot write in \(parent) (\(error))")
    }
}

extension OutputOptions {
    func checkOutputsWritable() throws {
        try checkWritable(json, option: "--json")
        try checkWritable(metricsCsv, option: "--metrics-csv")
        try checkWritable(plot, option: "--plot")
    }
}

extension TrainingFileOptions {
    func checkOutputsWritable() throws {
        if let save, let checkpoint, save == checkpoint || sameFile(save, checkpoint) {
            throw CLIError("--checkpoint \(checkpoint) is the --save path: the checkpoint would overwrite the model; give another")
        }
        try checkWritable(save, option: "--save")
        try checkWritable(checkpointPath, option: checkpoint == nil ? "the checkpoint (--save plus .ckpt)" : "--checkpoint",
                          shardedCheckpoint: true)
    }
}

/// An output must never be one of the command's inputs (or another of its outputs): writing it
/// would destroy the data or model the user gave, silently. Compared by path and by device and
/// inode (links, `./x` against `x`). `-` (standard input or output) is never a file here.
func refuseOverwritingInputs(outputs: [(path: String?, option: String)], inputs: [(path: String?, option: String)]) throws {
    let outs = outputs.compactMap { o in o.path.map { (path: $0, option: o.option) } }.filter { $0.path != "-" }
    let ins = inputs.compactMap { i in i.path.map { (path: $0, option: i.option) } }.filter { $0.path != "-" }
    func same(_ a: String, _ b: String) -> Bool {
        a == b || sameFile(a, b)
            || URL(fileURLWithPath: a).standardizedFileURL.path == URL(fileURLWithPath: b).standardizedFileURL.path
    }
    for output in outs {
        for input in ins where same(output.path, input.path) {
            throw CLIError("\(output.option) \(output.path) is the \(input.option) file: writing it would destroy that input; give another path")
        }
    }
    for (i, a) in outs.enumerated() {
        for b in outs[(i + 1)...] where same(a.path, b.path) {
            throw CLIError("\(a.option) and \(b.option) are the same file (\(a.path)): one would overwrite the other")
        }
    }
}

extension DataOptions {
    /// The files the data options read.
    var inputFiles: [(path: String?, option: String)] {
        [(data, "--data"), (validation, "--validation"), (testFile, "--test"), (fieldMap, "--field-map")]
    }
}

extension OutputOptions {
    var outputFiles: [(path: String?, option: String)] { [(json, "--json"), (metricsCsv, "--metrics-csv"), (plot, "--plot")] }
}
