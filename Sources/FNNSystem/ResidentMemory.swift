import CMemoryHints
import Foundation

/// The process's resident memory as the kernel counts it: what benchmarks report per
/// measurement and what the memory tests bound.
public enum ResidentMemory {
    /// Resets the peak mark (VmHWM) to the current resident set, after handing freed heap memory
    /// back (the previous measurement's workspace, which malloc would otherwise keep and count).
    public static func resetPeak() {
        fnnpar_release_free_heap()
        if let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") {
            handle.write(Data("5".utf8))
            try? handle.close()
        }
    }

    /// VmHWM from /proc/self/status, the peak since the last reset; nil where unavailable.
    public static var peakSinceReset: Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return Int(line.filter(\.isNumber)).map { $0 * 1024 }
        }
        return nil
    }

    /// Peak resident set of the whole run (getrusage's ru_maxrss is in kilobytes on Linux).
    public static var peakOfProcess: Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Int(usage.ru_maxrss) * 1024
    }
}
