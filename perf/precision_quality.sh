#!/usr/bin/env bash
# Test AUC of the FNNs trained with --precision fp32 and bf16 on the real samples, seeds 1-3
# (`fnn-par experiment`: FM, FNN, FNN-from-FM; the FM is fp32 either way), and the Criteo
# sample's FNN with the 400,400,400 MLP of the speed target. Prints one line per run and the
# per-model mean difference bf16 - fp32 (perf/RESULTS.md, "bf16 MLP arithmetic").
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release >/dev/null
bin=$PWD/.build/release/fnn-par
data=${FNN_PAR_DATA:-../shared/data}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
results=$scratch/results.tsv
sets=("ml-100k $data/ml-100k/u.data" "ml-1m-sample $data/ml-1m-sample/ratings_sample100k.dat"
      "criteo-sample $data/criteo-dac-sample/head8000_train.txt")
for entry in "${sets[@]}"; do
    set -- $entry
    for seed in 1 2 3; do
        for precision in fp32 bf16; do
            "$bin" experiment --data "$2" --cache-dir "$scratch" --seed "$seed" --precision "$precision" --threads 1 2>/dev/null \
                | awk -v d="$1" -v s="$seed" -v p="$precision" '$1 ~ /^(fnn|fnn_init)$/ && $2 ~ /^0\./ {print d"\t16,16\t"s"\t"p"\t"$1"\t"$2}' \
                | tee -a "$results"
        done
    done
done
for seed in 1 2 3; do
    for precision in fp32 bf16; do
        "$bin" fnn --data "$data/criteo-dac-sample/head8000_train.txt" --cache-dir "$scratch" --mlp 400,400,400 --seed "$seed" \
            --precision "$precision" --threads 1 2>/dev/null \
            | awk -v s="$seed" -v p="$precision" '$1 == "fnn" && $2 ~ /^0\./ {print "criteo-sample\t400,400,400\t"s"\t"p"\t"$1"\t"$2}' \
            | tee -a "$results"
    done
done
echo "== mean test AUC over seeds 1-3: fp32, bf16, bf16 - fp32"
awk -F'\t' '{k=$1" "$2" "$5; a[k" "$4]+=$6; n[k" "$4]++; keys[k]=1}
    END {for (k in keys) {f=a[k" fp32"]/n[k" fp32"]; b=a[k" bf16"]/n[k" bf16"]; printf "%-40s %.4f %.4f %+.4f\n", k, f, b, b-f}}' "$results" | sort
