#!/usr/bin/env bash
# fnn-par next to pytorch-fm on the same files, same hyper-parameters, same machine, same run;
# prints the ratio of samples/s per model and thread count. Not part of CI.
#   TORCH_PYTHON=venv/bin/python perf/anchor.sh [ml1m|criteo]
set -euo pipefail
cd "$(dirname "$0")/.."
python=${TORCH_PYTHON:-venv/bin/python}
swift build -c release >/dev/null
bin=.build/release/fnn-par
out=perf/out
mkdir -p "$out/data"
want=${1:-all}

side_by_side() {
    local name=$1 shape=$2 rows=$3 mlp=$4 steps=$5
    [ "$want" = all ] || [ "$want" = "$name" ] || return 0
    [ -f "$out/data/$name.tsv" ] || "$bin" generate --shape "$shape" --rows "$rows" --seed 1 --out "$out/data/$name.tsv"
    local step_args=()
    [ "$steps" = epoch ] || step_args=(--steps "$steps")
    echo "== $name: fnn-par"
    "$bin" bench --data "$out/data/$name.tsv" --optimizer adam --threads 1,2 --mlp "$mlp" --repeats 3 "${step_args[@]}" \
        --json "$out/anchor-$name-fnnpar.json" | sed -n '1,6p'
    echo "== $name: torchfm"
    "$python" perf/anchor_torchfm.py --data "$out/data/$name.tsv" --threads 1,2 --mlp "$mlp" --repeats 3 \
        "${step_args[@]}" --json "$out/anchor-$name-torch.json"
    "$python" - "$out/anchor-$name-fnnpar.json" "$out/anchor-$name-torch.json" <<'PY'
import json, sys
ours = {(p["model"], p["threads"]): p["samples_per_second"] for p in json.load(open(sys.argv[1]))["points"]}
theirs = {(p["model"], p["threads"]): p["samples_per_second"] for p in json.load(open(sys.argv[2]))["points"]}
print("model threads   fnn-par samples/s   torchfm samples/s   ratio")
for key in sorted(ours):
    if key in theirs:
        print(f"{key[0]:5} {key[1]:7d} {ours[key]:19,.0f} {theirs[key]:19,.0f} {ours[key] / theirs[key]:7.1f}x")
PY
}

side_by_side ml1m ml1m 1000209 16,16 epoch
side_by_side criteo criteo 200000 400,400,400 20
