import ArgumentParser
import FNNExecution
import FNNMPI
import FNNSystem
import FNNThreads
import Foundation

/// `fnn-par ranks`: what each process of a launch sees, before a long run is started on it:
/// its host and the CPUs its affinity mask allows (the launcher's binding decides that).
struct RanksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ranks",
        abstract: "List the processes of an MPI launch: rank, host, process id and the CPUs each may use.",
        discussion: """
            Run it the way training will be run, to see the binding before a long job: \
            `mpirun -np 4 fnn-par ranks --threads 8`. Without a launcher it reports the one process. \
            A rank with fewer CPUs than --threads gets the launcher's fix (e.g. mpirun --bind-to none).

            Examples:
              fnn-par ranks
              mpirun -np 2 --bind-to none fnn-par ranks --threads 4
            """)

    @Option(help: "The worker threads each rank will run (checked against its CPUs).")
    var threads: Int?

    func validate() throws {
        if let threads { guard threads >= 1, threads <= 1024 else { throw ValidationError("--threads must be between 1 and 1024") } }
    }

    func run() throws {
        let communicator: Communicator
        if Launcher.current != nil {
            do { communicator = try MPICommunicator.world() } catch { throw CLIError(error.description) }
        } else {
            communicator = LocalCommunicator()
        }
        let mine = "\(hostName)\t\(processID)\t\(WorkerPool.onlineCPUs)"
        let all: [[UInt8]]
        do { all = try communicator.allGather(Array(mine.utf8)) } catch { throw CLIError(error.description) }
        guard communicator.isRoot else { return }
        var lines = ["rank  host                  pid      CPUs"]
        var short: [Int] = []
        for (r, bytes) in all.enumerated() {
            let fields = String(decoding: bytes, as: UTF8.self).split(separator: "\t").map(String.init)
            guard fields.count == 3 else { continue }
            func padded(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
            lines.append(String(format: "%4d  ", r) + padded(fields[0], 20) + "  " + padded(fields[1], 7) + "  " + fields[2])
            if let threads, let cpus = Int(fields[2]), cpus < threads { short.append(r) }
        }
        print(lines.joined(separator: "\n"))
        if let threads, !short.isEmpty {
            let fix = Launcher.current?.bindingAdvice(threads: threads) ?? "widen the affinity mask (taskset, cpusets)"
            print("rank\(short.count == 1 ? "" : "s") \(short.map(String.init).joined(separator: ", ")) may use fewer CPUs than --threads \(threads): \(fix)")
        }
    }
}
