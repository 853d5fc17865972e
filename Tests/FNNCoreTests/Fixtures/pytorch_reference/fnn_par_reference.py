"""A PyTorch reference for fnn-par models with multi-hot and numeric fields, so they can be served
from PyTorch: its forward pass on an fnn-par model file gives `fnn-par predict`'s probabilities.

One-hot models load into torchfm unchanged; torchfm has no multi-hot or valued input, so this
module reads the same tensors (torchfm's names) with torch.nn.EmbeddingBag semantics:

  * every row is a list of (field, id, value) entries; table row = the field's offset + id;
  * a multi-hot field pools its entries by the model's `field_schema` (sum: value-weighted sum of
    the embeddings; mean: each value divided by the row's number of ids in that field); a
    numeric field's id is scaled by its value; an empty field adds nothing (zeros in the FNN);
  * FM: sigmoid(bias + sum_e x_e w_e + 1/2 sum_k ((sum_e x_e v_ek)^2 - sum_e x_e^2 v_ek^2));
  * FNN: per field the pooled embedding (preceded by the pooled linear weight with
    `fnn_input` embedding+linear), concatenated in field order, through torchfm's MLP
    (Linear, BatchNorm1d in eval mode, ReLU per hidden layer; a final Linear; sigmoid).

Usage (prints one probability per data row):

    python3 fnn_par_reference.py MODEL.safetensors DATA.tsv            # torch, EmbeddingBag
    python3 fnn_par_reference.py --numpy MODEL.safetensors DATA.tsv    # the same sums in NumPy

DATA is a fields TSV (label, then one cell per field; a `# fields:` line declares multi-hot
cells `id,id:value,...` and numeric cells `id:value`), as `fnn-par generate` writes and
`fnn-par predict` reads. The NumPy path is what fnn-par's test suite runs (Tests/CLITests/
ReferenceModuleTests.swift) where torch is not installed; the torch path computes the same
bags with EmbeddingBag and was written to the same equations.
"""
import json
import struct
import sys

import numpy as np


def read_safetensors(path):
    """Tensors (as NumPy arrays) and metadata of a safetensors file, without the safetensors package."""
    with open(path, "rb") as f:
        raw = f.read()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])
    metadata = header.pop("__metadata__", {})
    types = {"F32": np.float32, "I64": np.int64, "U32": np.uint32, "U8": np.uint8}
    data = raw[8 + length :]
    tensors = {}
    for name, entry in header.items():
        start, end = entry["data_offsets"]
        tensors[name] = np.frombuffer(data[start:end], dtype=types[entry["dtype"]]).reshape(entry["shape"])
    return tensors, metadata


def read_rows(path, field_count):
    """Per data row of a fields TSV, its (field, id, value) entries in field order."""
    rows = []
    for line in open(path):
        line = line.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        cells = cells[1:] if len(cells) == field_count + 1 else cells
        entries = []
        for field, cell in enumerate(cells):
            for item in filter(None, cell.split(",")):
                index, _, value = item.partition(":")
                entries.append((field, int(index), float(value) if value else 1.0))
        rows.append(entries)
    return rows


class Model:
    """What the file says: kinds, offsets and weights."""

    def __init__(self, path):
        self.tensors, meta = read_safetensors(path)
        self.kind = meta["model"]
        self.field_dims = json.loads(meta["field_dims"])
        self.offsets = np.concatenate([[0], np.cumsum(self.field_dims)[:-1]]).astype(np.int64)
        schema = json.loads(meta["field_schema"])["fields"] if "field_schema" in meta else []
        self.mean = [f["kind"] == "multi-hot" and f["pooling"] == "mean" for f in schema] or [False] * len(self.field_dims)
        self.with_linear = meta.get("fnn_input") == "embedding+linear"
        self.embed_dim = int(meta["embed_dim"])
        self.hidden = len(json.loads(meta["mlp_dims"])) if "mlp_dims" in meta else 0

    def bags(self, rows):
        """Flat bags, one per (row, field): table rows, pooled weights, and each bag's start."""
        indices, weights, starts = [], [], []
        for entries in rows:
            for field in range(len(self.field_dims)):
                starts.append(len(indices))
                mine = [(i, v) for f, i, v in entries if f == field]
                for i, v in mine:
                    indices.append(self.offsets[field] + i)
                    weights.append(v / len(mine) if self.mean[field] else v)
        return np.array(indices, dtype=np.int64), np.array(weights, dtype=np.float64), np.array(starts, dtype=np.int64)


def numpy_forward(model, rows):
    t = {k: v.astype(np.float64) for k, v in model.tensors.items() if v.dtype == np.float32}
    indices, weights, starts = model.bags(rows)
    fields = len(model.field_dims)
    ends = np.append(starts[1:], len(indices))

    def pooled(table):
        out = np.zeros((len(starts), table.shape[1]))
        for b, (lo, hi) in enumerate(zip(starts, ends)):
            if hi > lo:
                out[b] = (table[indices[lo:hi]] * weights[lo:hi, None]).sum(0)
        return out.reshape(len(rows), fields, table.shape[1])

    v = t["embedding.embedding.weight"]
    if model.kind == "fm":
        w = t["linear.fc.weight"]
        linear = pooled(w).sum((1, 2)) + t["linear.bias"][0]
        s = pooled(v).sum(1)
        squares = np.zeros(len(rows))
        for r in range(len(rows)):
            lo, hi = starts[r * fields], ends[r * fields + fields - 1]
            squares[r] = ((v[indices[lo:hi]] * weights[lo:hi, None]) ** 2).sum()
        logit = linear + 0.5 * ((s ** 2).sum(1) - squares)
    else:
        x = pooled(v)
        if model.with_linear:
            x = np.concatenate([pooled(t["linear.fc.weight"]), x], axis=2)
        h = x.reshape(len(rows), -1)
        for layer in range(model.hidden):
            p = f"mlp.mlp.{4 * layer}"
            h = h @ t[p + ".weight"].T + t[p + ".bias"]
            b = f"mlp.mlp.{4 * layer + 1}"
            h = (h - t[b + ".running_mean"]) / np.sqrt(t[b + ".running_var"] + 1e-5) * t[b + ".weight"] + t[b + ".bias"]
            h = np.maximum(h, 0)
        p = f"mlp.mlp.{4 * model.hidden}"
        logit = (h @ t[p + ".weight"].T + t[p + ".bias"])[:, 0]
    return 1 / (1 + np.exp(-logit))


def torch_forward(model, rows):
    import torch
    import torch.nn.functional as F

    t = {k: torch.from_numpy(v.copy()) for k, v in model.tensors.items() if v.dtype == np.float32}
    indices, weights, starts = (torch.from_numpy(a) for a in model.bags(rows))
    weights = weights.float()
    fields = len(model.field_dims)
    v = t["embedding.embedding.weight"]

    def pooled(table):
        bags = F.embedding_bag(indices, table, starts, mode="sum", per_sample_weights=weights)
        return bags.view(len(rows), fields, table.shape[1])

    with torch.no_grad():
        if model.kind == "fm":
            linear = pooled(t["linear.fc.weight"]).sum((1, 2)) + t["linear.bias"][0]
            s = pooled(v).sum(1)
            squares = F.embedding_bag(indices, v * v, starts, mode="sum", per_sample_weights=weights * weights)
            squares = squares.view(len(rows), -1).sum(1)
            logit = linear + 0.5 * ((s * s).sum(1) - squares)
        else:
            x = pooled(v)
            if model.with_linear:
                x = torch.cat([pooled(t["linear.fc.weight"]), x], dim=2)
            h = x.reshape(len(rows), -1)
            for layer in range(model.hidden):
                p, b = f"mlp.mlp.{4 * layer}", f"mlp.mlp.{4 * layer + 1}"
                h = F.linear(h, t[p + ".weight"], t[p + ".bias"])
                h = F.batch_norm(h, t[b + ".running_mean"], t[b + ".running_var"], t[b + ".weight"], t[b + ".bias"],
                                 training=False, eps=1e-5)
                h = F.relu(h)
            p = f"mlp.mlp.{4 * model.hidden}"
            logit = F.linear(h, t[p + ".weight"], t[p + ".bias"])[:, 0]
        return torch.sigmoid(logit).double().numpy()


if __name__ == "__main__":
    args = sys.argv[1:]
    use_numpy = args and args[0] == "--numpy"
    model_path, data_path = args[1:3] if use_numpy else args[0:2]
    model = Model(model_path)
    rows = read_rows(data_path, len(model.field_dims))
    probabilities = numpy_forward(model, rows) if use_numpy else torch_forward(model, rows)
    print("\n".join(f"{p:.9g}" for p in probabilities))
