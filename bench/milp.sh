#!/usr/bin/env bash
# MILP: SCIP (default branching) on the MIPLIB instances whose optimum HiGHS proved in 120 s,
# at 60 s per run.
#
# Runtime: at most 29 x 60 s = 1,740 s of runs, i.e. about 15 min with WORKERS=2 and SEEDS=1.
source "$(dirname "$0")/common.sh"

run milp miplib-easy scip 60
