#!/usr/bin/env bash
# CVRP: the X instances with at most 401 nodes (savings and sweep, then OR-Tools and PyVRP at
# 10 s and 30 s) and the A/B/E/P sets at 10 s.
#
# Runtime: at most 59 x (2 x 10 + 2 x 10 + 2 x 30) s + 87 x 4 x 10 s = 9,380 s of runs, i.e.
# about 80 min with WORKERS=2 and SEEDS=1; savings and sweep take well under their limit.
source "$(dirname "$0")/common.sh"

run cvrp x savings,sweep 10
run cvrp x ortools,pyvrp 10 --plot "$RESULTS/plots/x"
run cvrp x ortools,pyvrp 30
run cvrp cvrp-abep savings,sweep,ortools,pyvrp 10
