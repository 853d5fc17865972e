#!/usr/bin/env bash
# Thread-scaling and throughput benchmarks (perf/RESULTS.md explains the figures).
#   perf/run.sh            all workloads
#   perf/run.sh ml1m       one of: capacity ml1m criteo ml100k bf16 busy quota
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

# Control: how much parallel capacity does this machine give right now? Two independent
# one-thread processes side by side; on a shared host (SMT siblings, CPU quotas) their summed rate
# can be far below 2x one process alone, and no trainer can scale past that.
capacity() {
    local solo pair
    solo=$("$bin" bench --shape ml1m --models fnn --threads 1 --repeats 3 --steps 200 --json "$out/capacity-solo.json" >/dev/null 2>&1; grep -m1 '"samples_per_second"' "$out/capacity-solo.json" | tr -dc '0-9.')
    # Each process on its own CPU: bench pins its first worker to the first CPU it may use, so
    # without taskset both would share CPU 0 and the control would measure one core.
    taskset -c 0 "$bin" bench --shape ml1m --models fnn --threads 1 --repeats 3 --steps 200 --json "$out/capacity-a.json" >/dev/null 2>&1 &
    taskset -c 1 "$bin" bench --shape ml1m --models fnn --threads 1 --repeats 3 --steps 200 --json "$out/capacity-b.json" >/dev/null 2>&1
    wait
    pair=$(for f in a b; do grep -m1 '"samples_per_second"' "$out/capacity-$f.json" | tr -dc '0-9.'; echo; done | awk '{s+=$1} END {print s}')
    awk -v s="$solo" -v p="$pair" 'BEGIN {printf "== machine capacity: two 1-thread FNN processes together run %.2fx one alone (%.0f vs %.0f samples/s)\n", p/s, p, s}' | tee "$out/capacity.txt"
    # The second control: how long a cache line takes to move between the two CPUs. Independent
    # processes share nothing, so the first control cannot see it; synchronous FM steps move
    # their table lines between the cores every step, and on this shared host the figure changes
    # (30 ns, or several times that when the vCPUs sit far apart).
    if command -v cc >/dev/null; then
        cc -O2 -pthread perf/pingpong.c -o "$out/pingpong" && "$out/pingpong" | sed 's/^/== /' | tee -a "$out/capacity.txt"
    fi
}
if [ "$want" = all ] || [ "$want" = capacity ]; then capacity; fi

run ml1m --shape ml1m --repeats 5
run criteo --shape criteo --rows 200000 --mlp 400,400,400 --repeats 3
run ml100k --data "$data/ml-100k/u.data" --cache-dir "$out" --repeats 5

# bf16 MLP products: the kernel against cblas_sgemm and the core's ceilings at the FNN's shapes,
# then the Criteo- and ML-1M-shaped FNNs in fp32 and bf16 side by side (each round runs both).
bf16() {
    if [ "$want" != all ] && [ "$want" != bf16 ]; then return; fi
    local want=all  # the two runs below belong to this workload
    # clang, as SwiftPM compiles the kernel (gcc's ceiling loop measures a third of the core's rate).
    local compiler=${CC:-$(command -v clang || command -v cc || true)}
    if [ -n "$compiler" ]; then
        "$compiler" -O2 -ISources/CGEMM/include $(pkg-config --cflags openblas) perf/bf16_gemm.c Sources/CGEMM/bf16_gemm.c \
            $(pkg-config --libs openblas) -lm -o "$out/bf16_gemm" && "$out/bf16_gemm" | tee "$out/bf16-gemm.txt"
    fi
    run criteo-bf16 --shape criteo --rows 200000 --models fnn --mlp 400,400,400 --precision fp32,bf16 --repeats 3
    run ml1m-bf16 --shape ml1m --models fnn --precision fp32,bf16 --repeats 5
}
bf16

# A busy machine: the same ML-1M-shaped bench beside one busy-loop process (unpinned, as a
# neighbour's job would be). Every thread count should stay near --threads 1 under the same
# load: the pool parks workers that hold phases up (WorkerAdmission) and tries them again later.
busy() {
    if [ "$want" = all ] || [ "$want" = busy ]; then
        sh -c 'while :; do :; done' &
        local hog=$!
        trap 'kill $hog 2>/dev/null' RETURN
        echo "== busy: fnn-par bench --shape ml1m --threads 1,2,32 beside one busy-loop process"
        "$bin" bench --shape ml1m --threads 1,2,32 --repeats 5 --json "$out/busy.json" | tee "$out/busy.txt"
    fi
}
busy

# A CPU quota of one CPU (cgroup v1's cpu controller or v2's cpu.max, where this user may make a
# cgroup; skipped elsewhere): --threads 2 should run as --threads 1, the pool starting with the
# active workers the quota grants.
quota() {
    if [ "$want" != all ] && [ "$want" != quota ]; then return; fi
    local dir=""
    if [ -w /sys/fs/cgroup/cpu ] && mkdir -p /sys/fs/cgroup/cpu/fnn-par-perf 2>/dev/null; then
        dir=/sys/fs/cgroup/cpu/fnn-par-perf
        echo 100000 > "$dir/cpu.cfs_period_us"; echo 100000 > "$dir/cpu.cfs_quota_us"
    elif [ -w /sys/fs/cgroup/cgroup.subtree_control ] && mkdir -p /sys/fs/cgroup/fnn-par-perf 2>/dev/null; then
        dir=/sys/fs/cgroup/fnn-par-perf
        echo "100000 100000" > "$dir/cpu.max" 2>/dev/null || { rmdir "$dir"; dir=""; }
    fi
    if [ -z "$dir" ]; then echo "== quota: no writable cgroup here, skipped"; return; fi
    echo "== quota: fnn-par bench --shape ml1m --threads 1,2 in a cgroup granted one CPU"
    sh -c "echo \$\$ > $dir/cgroup.procs && exec $bin bench --shape ml1m --threads 1,2 --repeats 5 --json $out/quota.json" | tee "$out/quota.txt"
    rmdir "$dir" 2>/dev/null || true
}
quota
