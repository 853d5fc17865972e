import FNNCore
import FNNExecution
import FNNThreads
import FNNTrainer
import TestSupport
import Testing

@Suite struct TopologyTests {
    @Test func describedTwoNodeMachineFillsNodeByNode() {
        let topology = Topology.uniform(nodes: 2, cpusPerNode: 16)
        #expect(topology.cpuCount == 32)
        let twenty = topology.placement(workers: 20)
        #expect(twenty == Array(0..<20))
        #expect(twenty.prefix(16).allSatisfy { topology.node(ofCPU: $0) == 0 })
        #expect(twenty.suffix(4).allSatisfy { topology.node(ofCPU: $0) == 1 })
        // More workers than CPUs wrap around, still node by node.
        let seventy = topology.placement(workers: 70)
        #expect(seventy[32] == 0 && seventy[48] == 16 && seventy[69] == 5)
    }

    @Test func unevenNodesAndGapsInCPUNumbers() {
        // e.g. a cpuset that left node 0 with CPUs 2, 3 and node 1 with 8-11; node 2 empty.
        let topology = Topology(nodes: [[2, 3], [8, 9, 10, 11], []])
        #expect(topology.nodes.count == 2)
        #expect(topology.placement(workers: 5) == [2, 3, 8, 9, 10])
        #expect(topology.node(ofCPU: 10) == 1 && topology.node(ofCPU: 5) == nil)
    }

    @Test func realLibNUMAAnswersWithoutFailing() {
        let (topology, problem) = Topology.detect()
        if let topology {
            #expect(problem == nil)
            #expect(topology.cpuCount >= 1 && topology.cpuCount <= WorkerPool.onlineCPUs)
            let placement = topology.placement(workers: 3 * topology.cpuCount)
            #expect(placement.count == 3 * topology.cpuCount)
            #expect(Set(placement) == Set(topology.nodes.flatMap { $0 }))
        } else {
            #expect(problem != nil)
        }
    }

    /// Pinned by the real placement and by a deliberately odd one: the same model.
    @Test func placementDoesNotChangeTheModel() {
        let data = PlantedFMGenerator.movieLens1MShape(seed: 5).generate(rows: 3000)
        let config = ModelConfig(kind: .fnn, fieldDims: data.fieldDims, embedDim: 4, mlpDims: [8, 8], dropout: 0.2)
        func trained(_ pool: PhaseExecutor) -> Model {
            trainedTwoEpochs(config, data: data, seed: 3, batchSize: 700, executor: pool)
        }
        let reference = trained(SerialExecutor())
        let cpus = Topology.detect().topology?.nodes.flatMap { $0 } ?? [0]
        #expect(trained(WorkerPool(threads: 3, cpus: cpus.reversed())).bitwiseEqual(reference))
        #expect(trained(WorkerPool(threads: 4, cpus: [cpus[0]])).bitwiseEqual(reference))
    }
}
