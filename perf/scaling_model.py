#!/usr/bin/env python3
"""Expected samples/s of fnn-par's data parallelism on R nodes, tables replicated (issue 14) or
sharded across the ranks (issue 17), from measured single-thread compute per step and the bytes
each rank receives per step.

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

def fnn(fields, dim, widths, label, linear=False):
    inputs = fields * dim
    dense = 0
    prev = inputs
    for w in widths:
        dense += prev * w + w + 2 * w  # weight, bias, BatchNorm gamma/beta
        prev = w
    dense += prev + 1
    return dict(label=label, dense=dense, entry=inputs, fields=fields, bn=sum(widths), layers=len(widths), row=dim)

def fm(fields, dim, label):
    return dict(label=label, dense=1, entry=dim + 1, fields=fields, bn=0, layers=0, row=dim + 1)

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

def unique_rows(positions):
    """Distinct table rows among a rank's positions, Criteo shape: measured under
    `mpirun -np 2/4/8 fnn-par bench --data criteo.fnnpar --models fm --tables sharded` (11.0k of
    39.9k positions, 6.6k of 20.0k, 4.0k of 10.0k): about 11000 (n / 39936)^0.74."""
    return 11000 * (positions / 39936) ** 0.74

# Sharded: per 2048-example step at one thread, the lookup's own work (deduplication, grouping by
# owner, copying rows out and in: 0.25-0.3 ms for a rank's 40k positions at np 2, so about 0.55 ms
# per 2048 examples' positions, split across ranks) and the share of the table update that scans
# every position of the batch (each owner filters all of them: about 20% of the update).
LOOKUP_SECONDS, SCAN_SHARE = 0.55e-3, 0.2

def step_seconds_sharded(w, split_compute, update, ranks, batch, link):
    if ranks == 1:
        return step_seconds(w, split_compute, update, 1, batch, link)
    node = CORES * EFFICIENCY
    slices = batch // 64
    scale = batch / 2048
    own_update = update * (SCAN_SHARE + (1 - SCAN_SHARE) / ranks)
    compute = (split_compute / ranks + own_update + LOOKUP_SECONDS / ranks) * scale / node
    positions = batch * w["fields"]
    remote = (ranks - 1) / ranks
    fetched = unique_rows(positions / ranks) * remote if ranks > 1 else 0
    received = fetched * (w["row"] * 4 + 4)                            # rows in, their requests in
    received += positions * 4 * remote                                  # every position to every owner
    received += batch * w["entry"] * 4 * remote                         # gradient entries
    received += slices * w["bn"] * 2 * 8 * 2 * remote
    nodes_per_rank = 1 if slices % ranks == 0 else 2
    received += remote * (nodes_per_rank + 1) * w["dense"] * 4
    collectives = 9 + 2 * w["layers"]
    comm = received / link + collectives * (ranks - 1) * HOP_LATENCY if ranks > 1 else 0
    return compute + comm, received

def main():
    if len(sys.argv) > 1 and sys.argv[1] == "sharded":
        return sharded()
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

def sharded():
    """The sharded tables' table: samples/s and MB received per rank and step, the Criteo shapes
    (the tables that outgrow a machine), and the table rows each rank holds."""
    print("| workload | global batch | link | " + " | ".join(f"{r} nodes" for r in (1, 2, 8, 32, 64))
          + " | MB in per rank-step at 2 / 8 / 64 |")
    print("|---|---|---|" + "---|" * 6)
    for w, split_compute, update in WORKLOADS[:2]:
        for regime in ("2048", "2048 x R"):
            for name, link in LINKS.items():
                cells, mb = [], []
                for r in (1, 2, 8, 32, 64):
                    batch = 2048 * (r if regime != "2048" else 1)
                    if batch // 64 < r:
                        cells.append("idle ranks")
                        continue
                    t, received = step_seconds_sharded(w, split_compute, update, r, batch, link)
                    cells.append(f"{batch / t / 1e6:.2f}M")
                for r in (2, 8, 64):
                    batch = 2048 * (r if regime != "2048" else 1)
                    mb.append(f"{step_seconds_sharded(w, split_compute, update, r, batch, link)[1] / 1e6:.1f}")
                print(f"| {w['label']} | {regime} | {name} | " + " | ".join(cells) + " | " + " / ".join(mb) + " |")

if __name__ == "__main__":
    sys.exit(main())
