#!/usr/bin/env bash
# Strong-branching expert samples for one instance class and size (Gasse et al. 2019 protocol):
# train (instances seed 0), validation (seed 1) and test (seed 2) sets under runs/branching/KIND-SIZE/.
#
# Usage:
#   bash bench/branching/collect.sh KIND [SIZE]      # KIND: setcover cauctions facility indset; SIZE: easy (default)
#
# Environment (all optional):
#   TRAIN_SECONDS, VALID_SECONDS, TEST_SECONDS  wall-clock budget of each set (default 2700, 600, 600);
#                                               0 skips the set
#   TRAIN_INSTANCES  instances generated for training (default 1000; validation and test use 100 each)
#   WORKERS          worker processes, one SCIP and one thread each (default 1)
#   MAX_PER_EPISODE  stop an episode after this many samples (default: no cap), so that instances
#                    with large trees do not fill a set alone
#   OUT              output root (default runs/branching)
#
# Resumable: every sample is written atomically and finished episodes are marked, so rerunning
# the same command continues where a budget or a kill stopped it. Targets are 100,000 training
# samples (Gasse et al.), 1,000 validation and 1,500 test samples; budgets usually stop it first.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
KIND="${1:?usage: bash bench/branching/collect.sh KIND [SIZE]}"
SIZE="${2:-easy}"
OUT="${OUT:-runs/branching}"
WORKERS="${WORKERS:-1}"
DIR="$OUT/$KIND-$SIZE"
cap=""
if [ -n "${MAX_PER_EPISODE:-}" ]; then cap="--max-per-episode $MAX_PER_EPISODE"; fi
mkdir -p "$DIR"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

run() {  # run SET SECONDS SEED INSTANCES SAMPLES
  local set="$1" seconds="$2" seed="$3" instances="$4" samples="$5"
  if [ "$seconds" -le 0 ]; then return 0; fi
  date +"$set start %F %T" >> "$DIR/collect.times"
  timeout "$seconds" "$ROOT/.venv/bin/python" -m coptim --threads 1 branching collect --kind "$KIND" --size "$SIZE" \
    --instances "$instances" --samples "$samples" --seed "$seed" --time-limit 300 --workers "$WORKERS" $cap \
    --out "$DIR/$set" >> "$DIR/$set.log" 2>&1 || true   # a budget stop (124) is expected; rerun to resume
  date +"$set stop %F %T ($(find "$DIR/$set/samples" -name '*.npz' 2>/dev/null | wc -l) samples)" >> "$DIR/collect.times"
}
run valid "${VALID_SECONDS:-600}" 1 100 1000
run test "${TEST_SECONDS:-600}" 2 100 1500
run train "${TRAIN_SECONDS:-2700}" 0 "${TRAIN_INSTANCES:-1000}" 100000
