import ArgumentParser
import FNNCore
import FNNExecution
import FNNMPI
import FNNSystem
import FNNThreads
import FNNTrainer
import Foundation

/// The processes of this run, for the commands that train (`fm`, `fnn`, `experiment`, `bench`).
/// Under a launcher (mpirun, srun) the world communicator is made at first use, MPI initialised
/// then and not before; run directly, this is one rank and MPI is never touched.
enum ProcessRanks {
    nonisolated(unsafe) private static var made: RankExchange?
    nonisolated(unsafe) private static var mpi: MPICommunicator?

    /// The run's ranks.
    static func shared() throws -> RankExchange {
        if let made { return made }
        let exchange: RankExchange
        if Launcher.current != nil {
            do {
                let world = try MPICommunicator.world()
                mpi = world
                exchange = RankExchange(world)
            } catch { throw CLIError(error.description) }
        } else {
            exchange = RankExchange()
        }
        made = exchange
        return exchange
    }

    /// From now on, one exchange that waits `seconds` (0: forever) ends every rank.
    static func armTimeout(seconds: Double) {
        guard seconds > 0, let mpi, mpi.size > 1 else { return }
        mpi.abortAfterWaiting(seconds: seconds)
    }

    /// Whether this process speaks and writes: rank 0, or the one process of a plain run.
    static var isRoot: Bool { (made?.rank ?? 0) == 0 }

    /// FNV-1a of some bytes, in hex: what the start-up agreement compares.
    static func digest<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        var hash = FNV1a()
        var count: UInt64 = 0
        for byte in bytes { hash.add(byte); count += 1 }
        return String(SplitMix64.mix(hash.value ^ count), radix: 16)
    }

    /// A failed command under several ranks: says which rank failed and why on its standard
    /// error, then ends every rank (MPI_Abort), so none waits on it forever. The last checkpoint
    /// was written whole or not at all, so it stays valid.
    static func endAllRanks(after error: Error) {
        // An agreed ending (every rank stopped at the same step on Ctrl-C) is no failure.
        guard let mpi, mpi.size > 1, !(error is ExitCode) else { return }
        let text = String(describing: error)
        FileHandle.standardError.write(Data("fnn-par: rank \(mpi.rank) of \(mpi.size) (\(hostName), pid \(processID)): \(text)\n".utf8))
        mpi.abortAll(code: 1)
    }

    /// The commands that run in one process (scoring, generating, splitting, exporting): under a
    /// launcher with several ranks each would do the whole job and write the same files, so
    /// they refuse, saying how to run them.
    static func refuseSeveralRanks(command: String) throws {
        let ranks = Launcher.worldSize
        guard ranks > 1 else { return }
        // Rank 0 says why; the others stop without a word, so the ranks' lines do not interleave.
        guard Launcher.worldRank == 0 else { throw ExitCode.failure }
        throw CLIError("fnn-par \(command) runs in one process, and this launch started \(ranks); run it without mpirun or srun (or with -np 1)")
    }

    /// Start-up agreement of every rank: the same binary, options and data (a fingerprint of
    /// each, compared with rank 0's), and each rank's CPUs against `--threads`. A rank that
    /// differs is named and the run refused on every rank.
    static func agree(on listed: @autoclosure () -> [(what: String, value: String)], threads: Int, log: Log) throws {
        // Listed only with several ranks: the binary's digest reads the whole executable.
        guard let made, made.size > 1 else { return }
        let parts = listed()
        let mine = parts.map { "\($0.what)=\(digest($0.value.utf8))" }.joined(separator: "\n")
            + "\ncpus=\(WorkerPool.onlineCPUs)\nhost=\(hostName)"
        let all: [[UInt8]]
        do { all = try made.communicator.allGather(Array(mine.utf8)) } catch { throw CLIError(error.description) }
        let lines = all.map { String(decoding: $0, as: UTF8.self).split(separator: "\n").map(String.init) }
        for (r, theirs) in lines.enumerated() where r > 0 {
            for (k, part) in parts.enumerated() where k < theirs.count && theirs[k] != lines[0][k] {
                throw CLIError("rank \(r) differs from rank 0 in its \(part.what); every rank must run the same fnn-par with the same options on the same data")
            }
        }
        let short = lines.enumerated().compactMap { r, fields -> Int? in
            guard let cpus = fields.first(where: { $0.hasPrefix("cpus=") }).flatMap({ Int($0.dropFirst(5)) }) else { return nil }
            return cpus < threads ? r : nil
        }
        if !short.isEmpty {
            let fix = Launcher.current?.bindingAdvice(threads: threads) ?? "widen the affinity mask"
            log.say("note: rank\(short.count == 1 ? "" : "s") \(short.map(String.init).joined(separator: ", ")) may use fewer CPUs than --threads \(threads), so its workers share CPUs: \(fix)")
        }
        made.hostCount = Set(lines.compactMap { $0.last }).count
        log.say("ranks: \(made.size) processes on \(made.hostCount) host(s), \(threads) thread\(threads == 1 ? "" : "s") each; rank 0 writes")
    }
}
