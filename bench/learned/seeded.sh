#!/usr/bin/env bash
# OR-Tools alone against OR-Tools seeded by a learned policy, at equal time budgets (1 s and 5 s,
# decoding included), on uniform TSP200 instances; gaps to LKH.
#
# Usage:
#   bash bench/learned/seeded.sh
#
# Environment (all optional; see also bench/common.sh; WORKERS defaults to 1 here):
#   COUNT    instances (default 100), generated with "coptim generate tsp --size 200 --seed 200"
#   LIMITS   time limits in seconds (default "1 5")
#   SOLVERS  (default "ortools,learned-ortools,learned-ls")
#   OPTIONS  extra "coptim bench" options, e.g. "-O checkpoint=runs/x/best.pt"
#   DATA     instance folder (default runs/seeded/tsp200)
#
# Writes $RESULTS/seeded-tsp200-lkh.csv (the LKH references, 30 s each), the sidecar
# DATA/references.csv, and $RESULTS/seeded-tsp200.csv (one row per instance, solver and limit).
# The learned solvers use the shipped TSP weights unless OPTIONS names a checkpoint.
# Runtime (WORKERS=1): COUNT x (LKH ~ 1 s + 3 solvers x sum(LIMITS)) = about 30 min for the defaults.
WORKERS="${WORKERS:-1}"
source "$(dirname "$0")/../common.sh"
COUNT="${COUNT:-100}"
LIMITS="${LIMITS:-1 5}"
SOLVERS="${SOLVERS:-ortools,learned-ortools,learned-ls}"
DATA="${DATA:-$ROOT/runs/seeded/tsp200}"
read -r -a extra <<< "${OPTIONS:-}"

"$COPTIM" generate tsp --size 200 --count "$COUNT" --seed 200 --out "$DATA"
"$COPTIM" bench tsp --instances "$DATA" --solvers lkh --time-limit 30 --workers "$WORKERS" \
  --out "$RESULTS/seeded-tsp200-lkh.csv"
"$ROOT/.venv/bin/python" "$ROOT/bench/learned/references.py" "$RESULTS/seeded-tsp200-lkh.csv" \
  --out "$DATA/references.csv"
# the seeds on their own: the policy's greedy tours (what learned-ortools and learned-ls start from)
"$COPTIM" bench tsp --instances "$DATA" --solvers learned-tsp -O decode=greedy --time-limit 1 --workers "$WORKERS" \
  --out "$RESULTS/seeded-tsp200.csv" ${extra[@]+"${extra[@]}"}
for limit in $LIMITS; do
  "$COPTIM" bench tsp --instances "$DATA" --solvers "$SOLVERS" --time-limit "$limit" --workers "$WORKERS" \
    --out "$RESULTS/seeded-tsp200.csv" ${extra[@]+"${extra[@]}"}
done
"$ROOT/.venv/bin/python" "$ROOT/bench/make_table.py" "$RESULTS/seeded-tsp200.csv"
