#!/bin/bash
# Issue 17's two figures for sharded tables, on this machine's two cores:
#   perf/sharded.sh speed ROUNDS [BINARY]   np 1 against np 2 --tables sharded, alternated
#   perf/sharded.sh memory [BINARY]         per-rank peak RSS against one process's
# Data: fnn-par generate --shape criteo --rows 2000000 --out $DATA (DATA defaults to
# /tmp/criteo2m.fnnpar and is generated when missing).
set -eu
mode=${1:?speed ROUNDS [BINARY] | memory [BINARY]}
shift
if [ "$mode" = speed ]; then rounds=${1:?rounds}; shift; fi
B=${1:-.build/release/fnn-par}
DATA=${DATA:-/tmp/criteo2m.fnnpar}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
M="mpirun --oversubscribe --bind-to none"
[ -f "$DATA" ] || "$B" generate --shape criteo --rows 2000000 --out "$DATA"
rate() { grep -m1 '^fm ' | tr ' ' '\n' | grep -m1 -E '^[0-9.]+[kM]$'; }
value() { case $1 in *M) echo "${1%M} * 1000000" | bc;; *k) echo "${1%k} * 1000" | bc;; esac; }
case $mode in
speed)
  ratios=()
  for r in $(seq "$rounds"); do
    one=$("$B" bench --data "$DATA" --models fm --threads 1 --repeats 1 --steps 400 | rate)
    two=$($M -np 2 "$B" bench --data "$DATA" --models fm --threads 1 --repeats 1 --steps 400 --tables sharded | rate)
    ratio=$(echo "scale=3; $(value "$two") / $(value "$one")" | bc)
    ratios+=("$ratio")
    echo "round $r: np 1 $one, np 2 sharded $two, ratio $ratio"
  done
  printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END{m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; print "median ratio " m " over " NR " rounds"}'
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
