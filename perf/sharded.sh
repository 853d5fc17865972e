#!/bin/bash
# Issue 17's two figures for sharded tables, on this machine's two cores:
#   perf/sharded.sh speed ROUNDS [BINARY]   np 1 against np 2 --tables sharded, alternated
#   perf/sharded.sh memory [BINARY]         per-rank peak RSS against one process's
#   perf/sharded.sh ab ROUNDS BINARY_A BINARY_B   np 2 sharded of two builds, alternated (the
#                                           order swapped every round), with both medians
# Data: fnn-par generate --shape criteo --rows 2000000 --out $DATA (DATA defaults to
# /tmp/criteo2m.fnnpar and is generated when missing).
set -eu
mode=${1:?speed ROUNDS [BINARY] | memory [BINARY] | ab ROUNDS BINARY_A BINARY_B}
shift
if [ "$mode" = speed ] || [ "$mode" = ab ]; then rounds=${1:?rounds}; shift; fi
if [ "$mode" = ab ]; then A=${1:?binary A}; B=${2:?binary B}; else B=${1:-.build/release/fnn-par}; fi
DATA=${DATA:-/tmp/criteo2m.fnnpar}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
M="mpirun --oversubscribe --bind-to none"
[ -f "$DATA" ] || "$B" generate --shape criteo --rows 2000000 --out "$DATA"
rate() { grep -m1 '^fm ' | tr ' ' '\n' | grep -m1 -E '^[0-9.]+[kM]$'; }
value() { case $1 in *M) echo "${1%M} * 1000000" | bc;; *k) echo "${1%k} * 1000" | bc;; esac; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
sharded() { $M -np 2 "$1" bench --data "$DATA" --models fm --threads 1 --repeats 1 --steps 400 --tables sharded | rate; }
case $mode in
ab)
  ra=() rb=()
  for r in $(seq "$rounds"); do
    if (( r % 2 )); then a=$(sharded "$A"); b=$(sharded "$B"); else b=$(sharded "$B"); a=$(sharded "$A"); fi
    ra+=("$(value "$a")"); rb+=("$(value "$b")")
    echo "round $r: A $a, B $b"
  done
  ma=$(median "${ra[@]}"); mb=$(median "${rb[@]}")
  echo "median A $ma, B $mb, B / A $(echo "scale=3; $mb / $ma" | bc)"
  ;;
speed)
  ratios=()
  for r in $(seq "$rounds"); do
    one=$("$B" bench --data "$DATA" --models fm --threads 1 --repeats 1 --steps 400 | rate)
    two=$(sharded "$B")
    ratio=$(echo "scale=3; $(value "$two") / $(value "$one")" | bc)
    ratios+=("$ratio")
    echo "round $r: np 1 $one, np 2 sharded $two, ratio $ratio"
  done
  echo "median ratio $(median "${ratios[@]}") over $rounds rounds"
  ;;
memory)
  for order in parts shuffle; do
    one=$(/usr/bin/time -f %M "$B" fm --data "$DATA" --epochs 2 --patience 0 --threads 1 --data-order $order 2>&1 >/dev/null | tail -1)
    ranks=$($M -np 2 sh -c "/usr/bin/time -f %M $B fm --data $DATA --epochs 2 --patience 0 --threads 1 --data-order $order --tables sharded 2>&1 >/dev/null | tail -1" | sort -n | tr '\n' ' ')
    echo "--data-order $order: one process $one KB; sharded ranks $ranks KB" \
      "(largest $(echo "scale=1; 100 * $(echo $ranks | awk '{print $NF}') / $one" | bc)%)"
  done
  ;;
esac
