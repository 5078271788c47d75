#!/usr/bin/env bash
# Learned vs classical branching in SCIP (Gasse et al. 2019 style): every rule in $RULES on every
# instance of each folder given, $SEEDS seeds, one time limit; then the comparison table.
#
# Usage:
#   bash bench/branching/bench.sh DIR [DIR ...]
# Each DIR is one instance class and size (its name labels the table rows), e.g. made with
#   .venv/bin/coptim generate milp --kind setcover --size 500 --count 20 --seed 100 --out runs/branching-test/setcover-500
#
# Environment (all optional; see also bench/common.sh):
#   RULES       branching rules (default "relpscost pscost learned:setcover-easy"); any of
#               relpscost pscost fullstrong mostinf random learned:NAME learned:/path/to/best.pt
#   TIME_LIMIT  seconds per run (default 600)
#   SCIP_PARAMS JSON object of SCIP parameters for every rule (default: Gasse et al.'s evaluation and
#               collection settings, cuts at the root only and no restarts; "" for SCIP's defaults)
#   SEEDS       seeds per instance and rule (default 3)
#   WORKERS     runs at the same time, one core each (default 1 here: give it idle cores only)
#   RESULTS     results folder (default bench/results); CSVs go to $RESULTS/branching/<DIR name>.csv
#
# Resumable like every coptim bench run: runs already in a CSV are skipped. Each rule is one
# "coptim bench" call with "-O branching=RULE", so the rule is in the CSV's options column.
# The first learned run of each worker process also pays the torch import and the policy load
# (about a second); the others do not.
# Runtime: at most (instances x rules x seeds x TIME_LIMIT) / WORKERS.
WORKERS="${WORKERS:-1}"
SEEDS="${SEEDS:-3}"
source "$(dirname "$0")/../common.sh"

RULES="${RULES:-relpscost pscost learned:setcover-easy}"
TIME_LIMIT="${TIME_LIMIT:-600}"
GASSE_PARAMS='{"separating/maxrounds":0,"presolving/maxrestarts":0,"estimation/restarts/restartpolicy":"n"}'
SCIP_PARAMS="${SCIP_PARAMS-$GASSE_PARAMS}"
params=()
if [ -n "$SCIP_PARAMS" ]; then
  params=(-O "params=$SCIP_PARAMS")
fi
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"

if [ "$#" -eq 0 ]; then
  echo "usage: bash bench/branching/bench.sh DIR [DIR ...]" >&2
  exit 2
fi
mkdir -p "$RESULTS/branching"
csvs=()
for dir in "$@"; do
  name="$(basename "$dir")"
  out="$RESULTS/branching/$name.csv"
  csvs+=("$out")
  for rule in $RULES; do
    echo "== $name: scip branching=$rule, ${TIME_LIMIT} s per run, $SEEDS seed(s)" >&2
    "$COPTIM" bench milp --instances "$dir" --solvers scip -O "branching=$rule" ${params[@]+"${params[@]}"} \
      --time-limit "$TIME_LIMIT" --seeds "$SEEDS" --workers "$WORKERS" --out "$out"
  done
done
"$PYTHON" "$ROOT/bench/branching/table.py" "${csvs[@]}" --out "$RESULTS/branching/table.md"
