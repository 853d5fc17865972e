#if canImport(Glibc)
import Glibc
#endif

/// Ctrl-C (SIGINT) and SIGTERM (what `kill`, schedulers and container runtimes send): the first
/// one asks the run to stop at the next step boundary (it then writes a checkpoint, says how to
/// resume and exits with 128 + the signal: 130, 143); a second one ends the process at once.
public enum Interrupt {
    /// The signal received, or 0.
    nonisolated(unsafe) private static var received: sig_atomic_t = 0

    public static func install() {
        // A parent (a test runner, a job system) may have left the signals blocked; we want them.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        for s in [SIGINT, SIGTERM] {
            signal(s) { number in
                Interrupt.received = number
                // A second signal of either kind ends the process at once.
                signal(SIGINT, SIG_DFL)
                signal(SIGTERM, SIG_DFL)
            }
        }
    }

    public static var requested: Bool { received != 0 }
    /// The exit status of a run stopped by the signal: 128 + its number.
    public static var exitStatus: Int32 { 128 + Int32(received == 0 ? SIGINT : received) }
}
