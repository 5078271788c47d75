#!/usr/bin/env bash
# Knapsack: Pisinger's hard instances, the large knapPI instances (up to 10,000 items) and the
# small f-instances, each with every knapsack solver at 10 s.
#
# Runtime: at most (50 + 21 + 9) x 4 x 10 s = 3,200 s of runs, i.e. about 27 min with
# WORKERS=2 and SEEDS=1; most runs end far sooner.
source "$(dirname "$0")/common.sh"

for suite in knapsack-pisinger knapsack-large knapsack-lowdim; do
  run knapsack "$suite" greedy,dp,ortools,cpsat 10
done
