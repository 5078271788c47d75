# Shared settings of the benchmark scripts: source it from them, do not run it.
#
# Environment (all optional):
#   COPTIM   the coptim command           (default: .venv/bin/coptim of this checkout)
#   WORKERS  runs at the same time, one core each (default 2); timings are only comparable
#            when every worker has a core of its own, so use the number of idle cores
#   SEEDS    seeds per instance and solver (default 1)
#   RESULTS  where the CSVs go             (default: bench/results, ignored by git)
#
# Every run is appended to $RESULTS/<suite>.csv as it finishes. Running a script again skips
# the runs already there, so an interrupted benchmark resumes where it stopped; delete the CSV
# to start over.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COPTIM="${COPTIM:-$ROOT/.venv/bin/coptim}"
WORKERS="${WORKERS:-2}"
SEEDS="${SEEDS:-1}"
RESULTS="${RESULTS:-$ROOT/bench/results}"
mkdir -p "$RESULTS"

# run PROBLEM SUITE SOLVERS SECONDS [more "coptim bench" options]
run() {
  local problem=$1 suite=$2 solvers=$3 limit=$4
  shift 4
  echo "== $problem / $suite: $solvers, ${limit} s per run" >&2
  "$COPTIM" bench "$problem" --instances "$suite" --solvers "$solvers" --time-limit "$limit" \
    --seeds "$SEEDS" --workers "$WORKERS" --out "$RESULTS/$suite.csv" "$@"
}
