#!/usr/bin/env python3
"""Expected samples/s of fnn-par's replicated-table data parallelism (issue 14) on R nodes, from
measured single-thread compute per step and the bytes each rank receives per step.

Inputs (perf/RESULTS.md, "Many processes"): one-thread step times measured on this machine with
`fnn-par bench ... --threads 1 --profile`; the per-exchange bytes measured under
`mpirun -np 2 fnn-par bench` (and their formulas below, checked against it).

Assumptions, stated because they are not measured here: a node is 16 cores at 85% thread
efficiency; an all-gather over a ring moves (R-1)/R of the gathered bytes into each rank at the
link's bandwidth, plus 5 us per hop per collective; no overlap of compute and communication
(fnn-par does not overlap yet).
"""
import sys

CORES, EFFICIENCY, HOP_LATENCY = 16, 0.85, 5e-6
LINKS = {"25 Gb/s": 25e9 / 8, "100 Gb/s": 100e9 / 8}

def fnn(fields, dim, widths, label):
    inputs = fields * dim
    dense = 0
    prev = inputs
    for w in widths:
        dense += prev * w + w + 2 * w  # weight, bias, BatchNorm gamma/beta
        prev = w
    dense += prev + 1
    return dict(label=label, dense=dense, entry=inputs, fields=fields, bn=sum(widths), layers=len(widths))

def fm(fields, dim, label):
    return dict(label=label, dense=1, entry=dim + 1, fields=fields, bn=0, layers=0)

# One-thread compute per 2048-example step, seconds (measured, perf/RESULTS.md): forward+backward
# share (split across ranks) and the replicated table update (repeated on every rank).
WORKLOADS = [
    (fnn(39, 16, [400, 400, 400], "Criteo FNN 400,400,400"), 2048 / 23.0e3, 0.0013),
    (fm(39, 16, "Criteo FM"), 0.47e-3, 0.98e-3),
    (fnn(2, 16, [16, 16], "ML-1M FNN 16,16"), 2048 / 4.2e6, 0.05e-3),
    (fm(2, 16, "ML-1M FM"), 0.08e-3, 0.07e-3),
]

def step_seconds(w, split_compute, replicated, ranks, batch, link):
    node = CORES * EFFICIENCY
    slices = batch // 64
    scale = batch / 2048
    compute = split_compute * scale / node / ranks + replicated * scale / node
    gathered = batch * (w["entry"] * 4 + w["fields"] * 4)            # gradient entries + positions
    gathered += slices * w["bn"] * 2 * 8 * 2                         # BatchNorm moments and backward sums
    received = gathered * (ranks - 1) / ranks
    nodes_per_rank = 1 if slices % ranks == 0 else 2
    # ZeRO-1: every rank's tree nodes at this rank's columns in, the stepped columns gathered back.
    received += (ranks - 1) / ranks * (nodes_per_rank + 1) * w["dense"] * 4
    collectives = 5 + 2 * w["layers"]
    comm = received / link + collectives * (ranks - 1) * HOP_LATENCY if ranks > 1 else 0
    return compute + comm, received

def main():
    print("| workload | global batch | link | " + " | ".join(f"{r} nodes" for r in (1, 2, 8, 32, 64)) + " | MB in per rank-step at 64 |")
    print("|---|---|---|" + "---|" * 6)
    for w, split_compute, replicated in WORKLOADS:
        for regime in ("2048", "2048 x R"):
            for name, link in LINKS.items():
                cells = []
                for r in (1, 2, 8, 32, 64):
                    batch = 2048 * (r if regime != "2048" else 1)
                    if batch // 64 < r:
                        cells.append("idle ranks")
                        continue
                    t, received = step_seconds(w, split_compute, replicated, r, batch, link)
                    cells.append(f"{batch / t / 1e6:.2f}M")
                t64, rec64 = step_seconds(w, split_compute, replicated, 64, 2048 * 64 if regime != "2048" else 2048, link)
                print(f"| {w['label']} | {regime} | {name} | " + " | ".join(cells) + f" | {rec64 / 1e6:.1f} |")

if __name__ == "__main__":
    sys.exit(main())
