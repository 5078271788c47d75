#!/usr/bin/env bash
# TSPLIB: every classical TSP solver on the coordinate instances (14 to 1,002 nodes), the
# explicit-matrix ones, and the exact solver on the small ones.
#
# Runtime: at most (instances x solvers x seeds x limit) / WORKERS, if every run used its whole
# limit: 62 x 7 x 10 s + 16 x 4 x 10 s + 35 x 60 s = 7,080 s, i.e. about 1 h with WORKERS=2
# and SEEDS=1. The construction heuristics finish far below their limit, so a run is shorter.
source "$(dirname "$0")/common.sh"

run tsp tsplib nn,farthest-insertion,cheapest-insertion,2opt,2opt-oropt 10
run tsp tsplib ortools,lkh 10 --plot "$RESULTS/plots/tsplib"
run tsp tsplib-explicit nn,2opt-oropt,ortools,lkh 10
run tsp tsplib-small exact 60
