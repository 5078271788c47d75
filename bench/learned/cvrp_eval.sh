#!/usr/bin/env bash
# The CVRP policy alone on the issue's test sets: 1,000 uniform CVRP100 instances and uniform CVRP1000
# instances (the project's capacity 50, and capacity 250 as in the CVRP1000 sets of the neural-routing
# literature), greedy and aug8 (on CVRP1000: 16 starts x 8 symmetries), gaps to PyVRP.
#
# Usage:
#   bash bench/learned/cvrp_eval.sh refs      # the PyVRP references (long: see below)
#   bash bench/learned/cvrp_eval.sh policy    # the shipped policy (or OPTIONS="-O checkpoint=PATH")
#
# Environment (all optional; see also bench/common.sh; WORKERS defaults to 1 here):
#   COUNT100   CVRP100 instances (default 1000), "coptim generate cvrp --size 100 --seed 300"
#   COUNT1000  CVRP1000 instances per capacity (default 16), "coptim generate cvrp --size 1000 --seed 300"
#   OPTIONS    extra "coptim bench" options for the policy runs
#
# References: PyVRP's HGS, best solution over the runs in the reference CSVs. On CVRP100 it stops after
# 5,000 iterations (about 1.7 s each here, reproducible; 30 s cap); on CVRP1000 after 60 s (no
# iteration limit), so those references are PyVRP at that budget, not best-known values. Runtime with
# WORKERS=1: about 30 min for CVRP100 and 2 x COUNT1000 x 1 min for CVRP1000.
# Writes $RESULTS/learned/cvrp{100,1000,1000c250}-ref.csv, each folder's references.csv and
# $RESULTS/learned/cvrp{100,1000,1000c250}.csv (one row per instance and decoding). Reruns skip what is done.
WORKERS="${WORKERS:-1}"
source "$(dirname "$0")/../common.sh"
COUNT100="${COUNT100:-1000}"
COUNT1000="${COUNT1000:-16}"
DATA="$ROOT/runs/eval"
OUT="$RESULTS/learned"
mkdir -p "$OUT"
read -r -a extra <<< "${OPTIONS:-}"

# suite SIZE COUNT NAME [generator options]: writes runs/eval/NAME (the same files every time; existing ones are kept)
suite() {
  local size=$1 count=$2 name=$3
  shift 3
  "$COPTIM" generate cvrp --size "$size" --count "$count" --seed 300 --out "$DATA/$name" "$@" >/dev/null
}

refs() {
  local name=$1 limit=$2
  shift 2
  "$COPTIM" bench cvrp --instances "$DATA/$name" --solvers pyvrp --time-limit "$limit" --workers "$WORKERS" \
    --out "$OUT/$name-ref.csv" "$@"
  "$ROOT/.venv/bin/python" "$ROOT/bench/learned/references.py" "$OUT/$name-ref.csv" --out "$DATA/$name/references.csv"
}

# policy NAME DECODING...: each DECODING is a comma-separated list of solver options
policy() {
  local name=$1 decoding opts
  shift
  for decoding in "$@"; do
    opts=()
    for o in ${decoding//,/ }; do opts+=(-O "$o"); done
    "$COPTIM" bench cvrp --instances "$DATA/$name" --solvers learned-cvrp "${opts[@]}" --time-limit 600 \
      --workers "$WORKERS" --out "$OUT/$name.csv" ${extra[@]+"${extra[@]}"}
  done
}

suite 100 "$COUNT100" cvrp100
suite 1000 "$COUNT1000" cvrp1000
suite 1000 "$COUNT1000" cvrp1000c250 -O capacity=250
case "${1:-}" in
  refs)
    refs cvrp100 30 -O max_iterations=5000
    refs cvrp1000 60
    refs cvrp1000c250 60
    ;;
  policy)
    for name in cvrp100 cvrp1000 cvrp1000c250; do
      [ -f "$DATA/$name/references.csv" ] || { echo "no references for $name: run '$0 refs' first" >&2; exit 2; }
      case "$name" in
        cvrp100) policy "$name" decode=greedy decode=aug8 ;;
        *) policy "$name" decode=greedy decode=aug8,starts=16 ;;  # every start would be 62 times the work
      esac
      "$ROOT/.venv/bin/python" "$ROOT/bench/make_table.py" "$OUT/$name.csv"
    done
    ;;
  *) echo "usage: $0 refs|policy" >&2; exit 2 ;;
esac
