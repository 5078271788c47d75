#!/usr/bin/env bash
# OR-Tools alone against OR-Tools seeded by a learned policy, at equal time budgets (1 s and 5 s,
# decoding included), on uniform TSP200 (default) or CVRP100 instances; gaps to LKH (TSP) or PyVRP (CVRP).
#
# Usage:
#   bash bench/learned/seeded.sh                                       # TSP200, the shipped TSP weights
#   PROBLEM=cvrp bash bench/learned/seeded.sh                          # CVRP100, the shipped CVRP weights
#   POLICY=bq bash bench/learned/seeded.sh                             # TSP200 seeded by the BQ policy
#
# Environment (all optional; see also bench/common.sh; WORKERS defaults to 1 here):
#   PROBLEM  tsp (default: 200 nodes) or cvrp (100 customers)
#   COUNT    instances (default 100), generated with "coptim generate PROBLEM --size N --seed 200"
#   LIMITS   time limits in seconds (default "1 5")
#   SOLVERS  (default "ortools,learned-ortools,learned-ls")
#   POLICY   pomo (default: learned-PROBLEM's weights) or bq (TSP: learned-tsp-bq seeds, "-O policy=bq")
#   OPTIONS  extra "coptim bench" options for the learned solvers, e.g. "-O checkpoint=runs/x/best.pt"
#   DATA     instance folder (default runs/seeded/PROBLEM-N)
#
# Writes $RESULTS/seeded-SUITE-ref.csv (the references: LKH or PyVRP, 30 s each), the sidecar
# DATA/references.csv, and $RESULTS/seeded-SUITE.csv (one row per instance, solver and limit), SUITE
# being tsp200 or cvrp100. Runtime (WORKERS=1): COUNT x (30 s at most for the reference + 3 solvers
# x sum(LIMITS)), about 40 min for the TSP defaults (LKH takes about 1 s there).
WORKERS="${WORKERS:-1}"
source "$(dirname "$0")/../common.sh"
PROBLEM="${PROBLEM:-tsp}"
case "$PROBLEM" in
  tsp) SIZE=200 REFERENCE=lkh ;;
  cvrp) SIZE=100 REFERENCE=pyvrp ;;
  *) echo "PROBLEM must be tsp or cvrp, got $PROBLEM" >&2; exit 2 ;;
esac
SUITE="$PROBLEM$SIZE"
COUNT="${COUNT:-100}"
LIMITS="${LIMITS:-1 5}"
SOLVERS="${SOLVERS:-ortools,learned-ortools,learned-ls}"
DATA="${DATA:-$ROOT/runs/seeded/$SUITE}"
read -r -a extra <<< "${OPTIONS:-}"
SEEDER="learned-$PROBLEM" seeded=()
case "${POLICY:-pomo}" in
  pomo) ;;
  bq) [ "$PROBLEM" = tsp ] || { echo "POLICY=bq is for PROBLEM=tsp" >&2; exit 2; }
      SEEDER=learned-tsp-bq seeded=(-O policy=bq) ;;
  *) echo "POLICY must be pomo or bq, got $POLICY" >&2; exit 2 ;;
esac

"$COPTIM" generate "$PROBLEM" --size "$SIZE" --count "$COUNT" --seed 200 --out "$DATA"
"$COPTIM" bench "$PROBLEM" --instances "$DATA" --solvers "$REFERENCE" --time-limit 30 --workers "$WORKERS" \
  --out "$RESULTS/seeded-$SUITE-ref.csv"
"$ROOT/.venv/bin/python" "$ROOT/bench/learned/references.py" "$RESULTS/seeded-$SUITE-ref.csv" \
  --out "$DATA/references.csv"
# the seeds on their own: the policy's greedy solutions (what learned-ortools and learned-ls start from)
"$COPTIM" bench "$PROBLEM" --instances "$DATA" --solvers "$SEEDER" -O decode=greedy --time-limit 1 \
  --workers "$WORKERS" --out "$RESULTS/seeded-$SUITE.csv" ${extra[@]+"${extra[@]}"}
for limit in $LIMITS; do
  for solver in ${SOLVERS//,/ }; do
    opts=()
    case "$solver" in learned-*) opts=(${extra[@]+"${extra[@]}"} ${seeded[@]+"${seeded[@]}"}) ;; esac  # OPTIONS are for the learned solvers only
    "$COPTIM" bench "$PROBLEM" --instances "$DATA" --solvers "$solver" --time-limit "$limit" --workers "$WORKERS" \
      --out "$RESULTS/seeded-$SUITE.csv" ${opts[@]+"${opts[@]}"}
  done
done
"$ROOT/.venv/bin/python" "$ROOT/bench/make_table.py" "$RESULTS/seeded-$SUITE.csv"
