#!/bin/bash
# Two fnn-par binaries (or one twice) measured in alternation on a noisy machine: N rounds, each
# running `fnn-par bench ARGS` with A then B (odd rounds) or B then A (even rounds), so drifts
# in the machine's load fall on both alike; prints each side's samples/s of the first table row
# and their medians.
#   perf/ab.sh 6 "--shape criteo --rows 200000 --models fm --threads 1 --repeats 1 --steps 200" \
#       /tmp/base/.build/release/fnn-par .build/release/fnn-par
# (the base: `git worktree add /tmp/base <commit> && (cd /tmp/base && swift build -c release)`).
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 ROUNDS \"BENCH ARGS\" BINARY_A BINARY_B" >&2; exit 2; }
rounds=$1 args=$2 a=$3 b=$4
rate() {  # the first rate (a number ending in k or M) of the table's first row, as samples/s
  "$1" bench $args 2>&1 | sed -n 3p | tr ' ' '\n' | grep -m1 -E '^[0-9.]+[kM]$' \
    | awk '/M$/ { printf "%.0f\n", $0 * 1e6; next } { printf "%.0f\n", $0 * 1e3 }'
}
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ra=() rb=()
for i in $(seq "$rounds"); do
  if (( i % 2 )); then ra+=("$(rate "$a")"); rb+=("$(rate "$b")"); else rb+=("$(rate "$b")"); ra+=("$(rate "$a")"); fi
done
echo "A $a: ${ra[*]}; median $(median "${ra[@]}")"
echo "B $b: ${rb[*]}; median $(median "${rb[@]}")"
awk -v a="$(median "${ra[@]}")" -v b="$(median "${rb[@]}")" 'BEGIN { printf "B / A = %.3f\n", b / a }'
