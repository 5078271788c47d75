#!/usr/bin/env bash
# All classical benchmarks, then the README table (bench/results/table.md) and one gap-vs-time
# figure per suite.
#
# Runtime: the sum of the four scripts' bounds, at most about 3 h with WORKERS=2 and SEEDS=1.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
for script in tsp cvrp knapsack milp; do
  bash "$here/$script.sh"
done
source "$here/common.sh"
"${PYTHON:-$ROOT/.venv/bin/python}" "$here/make_table.py" "$RESULTS"/*.csv --out "$RESULTS/table.md" --plots "$RESULTS/plots"
