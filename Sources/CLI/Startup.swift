import FNNSystem

/// What happens before the command line is parsed: the one process-wide setting that must be in
/// place before any library loads.
extension FNNPar {
    /// OpenBLAS (Debian's pthread build) starts a pool of threads when it loads, before any of
    /// our code runs, and they spin on `sched_yield` waiting for work that never comes (our
    /// workers call it one thread each), taking a CPU from the first fraction of a second of
    /// every run: a one-thread FM measured 6.7-9.0M samples/s that way against 9.2-9.4M without.
    /// The pool only stays unstarted if OPENBLAS_NUM_THREADS is set when the library loads, so
    /// the process sets it and runs itself again, once.
    ///
    /// Opt-outs (README, build notes): OPENBLAS_NUM_THREADS set to anything is left alone and no
    /// relaunch happens (the run then uses that setting); FNN_PAR_NO_RELAUNCH=1 skips the
    /// relaunch (under a debugger or a tracer that should see one process).
    static func main() {
        // Only when the variable could be set: otherwise the new run would relaunch again.
        if environment("OPENBLAS_NUM_THREADS") == nil, environment("FNN_PAR_NO_RELAUNCH") != "1",
           setEnvironment("OPENBLAS_NUM_THREADS", "1") {
            replaceProcessWithSameExecutable()
        }
        do {
            var command = try parseAsRoot(nil)
            try command.run()
        } catch {
            // Under several ranks a failing rank ends them all (none waits on it forever).
            ProcessRanks.endAllRanks(after: error)
            exit(withError: error)
        }
        exit()
    }
}
