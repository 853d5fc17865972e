"""Loads an fnn-par model file into torchfm and compares torchfm's eval-mode predictions with
`fnn-par predict` output for the same rows (not part of CI; needs torch, torchfm, safetensors).

    venv/bin/python check_fnn_par_model.py MODEL.safetensors DATA.tsv PREDICTIONS.txt

DATA is MovieLens tab-separated (user, movie, ...) as `fnn-par predict` read it.
"""
import json
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file
from torchfm.model.fm import FactorizationMachineModel
from torchfm.model.fnn import FactorizationSupportedNeuralNetworkModel

model_path, data_path, predictions_path = sys.argv[1:4]
with safe_open(model_path, "pt") as f:
    meta = f.metadata()
field_dims = json.loads(meta["field_dims"])
embed_dim = int(meta["embed_dim"])
if meta["model"] == "fm":
    model = FactorizationMachineModel(field_dims, embed_dim)
else:
    model = FactorizationSupportedNeuralNetworkModel(field_dims, embed_dim, tuple(json.loads(meta["mlp_dims"])), float(meta["dropout"]))
# Vocabulary tensors (models trained on raw Criteo/Avazu/libffm tokens) are not parameters.
model.load_state_dict({k: v for k, v in load_file(model_path).items() if not k.startswith(("vocabulary.", "field_map."))})
model.eval()
rows = [line.split("\t")[:2] for line in open(data_path) if line.strip()]
x = torch.tensor([[int(u) - 1, int(m) - 1] for u, m in rows], dtype=torch.long)
with torch.no_grad():
    theirs = model(x)
ours = torch.tensor([float(v) for v in open(predictions_path)])
difference = (theirs - ours).abs().max().item()
print(f"{meta['model']}: {len(rows)} rows, load_state_dict ok, max |torchfm - fnn-par| = {difference:.3g}")
sys.exit(0 if difference < 1e-5 else 1)
