#!/usr/bin/env bash
# Train the branching policies of one instance class from the samples of bench/branching/collect.sh:
# the GCNN (Gasse et al. 2019) by imitation, then the hybrid (Gupta et al. 2020) on top of it, and
# report both on the held-out test samples.
#
# Usage:
#   bash bench/branching/train.sh KIND [SIZE]        # data in runs/branching/KIND-SIZE/{train,valid,test}
#
# Environment (all optional):
#   GCNN_SECONDS  training-time budget of the GCNN (default 3600; the run stops after the epoch that passes it)
#   INIT          a policy file to fine-tune from instead of random weights (e.g. an earlier best.pt)
#   LR, EPOCH_SIZE, PATIENCE   the GCNN's learning rate, batches per epoch and lr-decay patience
#                 (defaults of 'coptim branching train': 1e-3, one pass over the samples, 10)
#   PRECISION     bf16 (default; about 3x faster than fp32 on this CPU for these graphs) or fp32
#   OUT           data root (default runs/branching)
#
# Writes runs/branching/KIND-SIZE/{gcnn,hybrid}/ (best.pt, log.csv, checkpoint.pt) and the JSON summaries
# gcnn.json, hybrid.json (validation and test accuracy). Resumable: rerun after a kill.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
KIND="${1:?usage: bash bench/branching/train.sh KIND [SIZE]}"
SIZE="${2:-easy}"
DIR="${OUT:-runs/branching}/$KIND-$SIZE"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
COPTIM=("$ROOT/.venv/bin/python" -m coptim --threads 1)
extra=()
if [ -n "${INIT:-}" ]; then extra=(--init "$INIT"); fi
if [ -n "${LR:-}" ]; then extra+=(--lr "$LR"); fi
if [ -n "${EPOCH_SIZE:-}" ]; then extra+=(--epoch-size "$EPOCH_SIZE"); fi
if [ -n "${PATIENCE:-}" ]; then extra+=(--patience "$PATIENCE"); fi

for set in train valid test; do  # root observations of episodes collected before the collection saved them
  "${COPTIM[@]}" branching roots --samples "$DIR/$set/samples"
done
"${COPTIM[@]}" branching train --train "$DIR/train/samples" --valid "$DIR/valid/samples" --test "$DIR/test/samples" \
  --out "$DIR/gcnn" --precision "${PRECISION:-bf16}" --time-budget "${GCNN_SECONDS:-3600}" ${extra[@]+"${extra[@]}"} \
  --json > "$DIR/gcnn.json"
"${COPTIM[@]}" branching train-hybrid --gnn "$DIR/gcnn/best.pt" --train "$DIR/train/samples" \
  --valid "$DIR/valid/samples" --test "$DIR/test/samples" --out "$DIR/hybrid" --json > "$DIR/hybrid.json"
cat "$DIR/gcnn.json" "$DIR/hybrid.json"
