"""pytorch-fm's training loop, timed the way `fnn-par bench` times ours, for side-by-side ratios.

Not part of CI. Needs a virtual environment with torch and torchfm:
    python3 -m venv venv && venv/bin/pip install torch torchfm
    venv/bin/python perf/anchor_torchfm.py --data perf/out/data/ml1m.tsv --threads 1,2 --json perf/out/torch-ml1m.json

The loop is torchfm's example (examples/main.py): Adam(lr, weight_decay) over model.parameters(),
BCELoss on the model's sigmoid output, zero_grad / backward / step, on shuffled minibatches of
a seeded 80% training split. Batches are gathered by tensor indexing rather than a DataLoader,
which only flatters torch.
"""
import argparse
import json
import statistics
import time

import numpy as np
import torch
from torchfm.model.fm import FactorizationMachineModel
from torchfm.model.fnn import FactorizationSupportedNeuralNetworkModel


def load_fields_tsv(path):
    rows = [line.rstrip("\n").split("\t") for line in open(path) if line.strip() and not line.startswith("#")]
    array = np.array(rows, dtype=np.int64)
    return array[:, 1:], array[:, 0].astype(np.float32)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--models", default="fm,fnn")
    p.add_argument("--embed-dim", type=int, default=16)
    p.add_argument("--mlp", default="16,16")
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--batch-size", type=int, default=2048)
    p.add_argument("--steps", type=int, default=0, help="minibatches per measurement (default: one epoch)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json")
    a = p.parse_args()

    x, y = load_fields_tsv(a.data)
    field_dims = (x.max(axis=0) + 1).tolist()
    rng = np.random.default_rng(1)
    order = rng.permutation(len(y))[: int(0.8 * len(y))]
    x_train, y_train = torch.from_numpy(x[order]), torch.from_numpy(y[order])
    steps = a.steps or (len(order) + a.batch_size - 1) // a.batch_size
    mlp = tuple(int(v) for v in a.mlp.split(","))
    points = []
    for kind in a.models.split(","):
        for threads in [int(t) for t in a.threads.split(",")]:
            torch.set_num_threads(threads)
            rates = []
            for repeat in range(a.repeats):
                torch.manual_seed(repeat)
                if kind == "fm":
                    model = FactorizationMachineModel(field_dims, a.embed_dim)
                else:
                    model = FactorizationSupportedNeuralNetworkModel(field_dims, a.embed_dim, mlp, a.dropout)
                optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-6)
                criterion = torch.nn.BCELoss()
                model.train()
                perm = torch.randperm(len(y_train))
                start = time.perf_counter()
                examples = 0
                for s in range(steps):
                    i = (s * a.batch_size) % len(perm)
                    idx = perm[i : i + a.batch_size]
                    loss = criterion(model(x_train[idx]), y_train[idx])
                    model.zero_grad()
                    loss.backward()
                    optimizer.step()
                    examples += len(idx)
                rates.append(examples / (time.perf_counter() - start))
            point = {"model": kind, "threads": threads, "samples_per_second": statistics.median(rates),
                     "minimum": min(rates), "maximum": max(rates)}
            print(f"torchfm {kind} threads {threads}: {point['samples_per_second']:,.0f} samples/s (median of {a.repeats})", flush=True)
            points.append(point)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"torch": torch.__version__, "data": a.data, "field_dims": field_dims, "steps": steps,
                       "batch_size": a.batch_size, "points": points}, f, indent=1)


if __name__ == "__main__":
    main()
