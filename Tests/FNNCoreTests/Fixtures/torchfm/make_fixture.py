"""Produces the torchfm fixture of ModelFileTests (run once; its outputs are committed).

    python3 -m venv venv && venv/bin/pip install torch torchfm safetensors
    venv/bin/python make_fixture.py

Builds a small torchfm FactorizationMachineModel and FactorizationSupportedNeuralNetworkModel
(field sizes 3 and 4, embedding 4, MLP 5,3), gives them non-trivial weights and BatchNorm running
statistics with a few Adam steps in training mode, saves their state_dicts with
safetensors.torch.save_file, and records their eval-mode outputs (probabilities) for every
(field 1, field 2) pair in expected.json.
"""
import json

import torch
from safetensors.torch import save_file
from torchfm.model.fm import FactorizationMachineModel
from torchfm.model.fnn import FactorizationSupportedNeuralNetworkModel

torch.manual_seed(2016)
field_dims = [3, 4]
x = torch.tensor([[i, j] for i in range(3) for j in range(4)], dtype=torch.long)
y = torch.tensor([float((i + j) % 2) for i in range(3) for j in range(4)])

models = {
    "fm": FactorizationMachineModel(field_dims, embed_dim=4),
    "fnn": FactorizationSupportedNeuralNetworkModel(field_dims, embed_dim=4, mlp_dims=(5, 3), dropout=0.2),
}
expected = {"field_dims": field_dims, "inputs": x.tolist(), "torch": torch.__version__}
for name, model in models.items():
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05, weight_decay=1e-6)
    model.train()
    for _ in range(5):
        loss = torch.nn.functional.binary_cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        expected[name] = model(x).tolist()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, f"{name}_torch.safetensors")

with open("expected.json", "w") as f:
    json.dump(expected, f, indent=1)
    f.write("\n")
