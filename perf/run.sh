#!/usr/bin/env bash
# Thread-scaling and throughput benchmarks (perf/RESULTS.md explains the figures).
#   perf/run.sh            all workloads
#   perf/run.sh ml1m       one of: ml1m criteo ml100k
# Each workload runs `fnn-par bench`: every thread count in turn, several rounds, medians, with the
# per-phase breakdown; JSON, text and an SVG plot land in perf/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release >/dev/null
bin=.build/release/fnn-par
out=perf/out
mkdir -p "$out"
cpus=$(nproc)
threads=1
t=2
while [ "$t" -le $((2 * cpus)) ]; do threads="$threads,$t"; t=$((t * 2)); done
case ",$threads," in *,32,*) ;; *) threads="$threads,32" ;; esac
data=${FNN_PAR_DATA:-../shared/data}
want=${1:-all}

run() {
    local name=$1; shift
    if [ "$want" = all ] || [ "$want" = "$name" ]; then
        echo "== $name: fnn-par bench $* --threads $threads"
        "$bin" bench "$@" --threads "$threads" --json "$out/$name.json" --svg "$out/$name.svg" | tee "$out/$name.txt"
    fi
}

run ml1m --shape ml1m --repeats 5
run criteo --shape criteo --rows 200000 --mlp 400,400,400 --repeats 3
run ml100k --data "$data/ml-100k/u.data" --repeats 5
