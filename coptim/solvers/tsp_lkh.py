"""LKH-3 (Helsgaun's Lin-Kernighan heuristic) for the TSP, through the ``elkai`` package.

Notes on elkai 2.0 that shape this module:

* LKH is always given the integer TSPLIB distance matrix (never coordinates, which elkai
  would round to integers), so it optimises exactly the instance's objective.
* LKH multiplies weights by its PRECISION (100) in 32-bit integers: weights above about
  2e7 overflow and make LKH abort the whole process. Matrices whose largest weight exceeds
  :data:`MAX_LKH_WEIGHT` are therefore scaled down (and rounded) before solving; the tour is
  still measured on the true distances, and ``stats["scaled_by"]`` records the factor.
* elkai's public ``DistanceMatrix.solve_tsp`` offers neither a seed nor a time limit, so the
  problem and LKH's parameter file are handed to its extension function
  ``elkai._elkai.solve_problem(params, problem)`` directly, with LKH-3's own ``SEED``,
  ``RUNS`` and ``TOTAL_TIME_LIMIT``. LKH checks the time limit between trials, after its
  preprocessing (the subgradient ascent, a few seconds at 1000 nodes), so a run can exceed
  a very short limit by that much. (The pin ``elkai>=2,<3`` in pyproject keeps this API.)
"""

from __future__ import annotations

import numpy as np

from coptim.errors import InputError
from coptim.problems.tsp import TSPInstance, as_instance
from coptim.result import SolverOutput
from coptim.solvers import register

#: Largest weight handed to LKH unscaled (LKH works in int32 with PRECISION 100).
MAX_LKH_WEIGHT = 10_000_000
DEFAULT_RUNS = 10


def _lkh_call(work: np.ndarray, *, runs: int, seed: int, time_limit: float | None) -> np.ndarray:
    """One LKH-3 call on the symmetric integer matrix ``work``; returns the tour (0-based)."""
    from elkai import _elkai

    n = work.shape[0]
    params = f"RUNS = {runs}\nSEED = {seed}\n"
    if time_limit is not None:
        params += f"TOTAL_TIME_LIMIT = {max(time_limit, 0.01):.3f}\n"
    params += "PROBLEM_FILE = :stdin:\n"
    body = "\n".join(" ".join(map(str, row)) for row in work.tolist())
    problem = (f"TYPE : TSP\nDIMENSION : {n}\nEDGE_WEIGHT_TYPE : EXPLICIT\n"
               f"EDGE_WEIGHT_FORMAT : FULL_MATRIX\nEDGE_WEIGHT_SECTION\n{body}\n")
    order = np.asarray(_elkai.solve_problem(params, problem), dtype=np.int64) - 1
    if order.size == n + 1 and order[0] == order[-1]:
        order = order[:-1]
    if order.size != n or not np.array_equal(np.sort(order), np.arange(n)):
        raise RuntimeError(f"LKH returned {order.size} nodes that are not a tour of {n} nodes")
    return order


@register("tsp", "lkh", "LKH-3 through elkai on the TSPLIB distance matrix (seeded, time-limited)")
def solve(instance: TSPInstance, *, time_limit: float | None, seed: int, runs: int = DEFAULT_RUNS) -> SolverOutput:
    """LKH-3 on the instance's integer distance matrix.

    Parameters
    ----------
    instance
        The TSP instance.
    time_limit
        Seconds for the whole LKH call (LKH's ``TOTAL_TIME_LIMIT``); None: all ``runs``.
    seed
        LKH's ``SEED``.
    runs
        Number of LKH runs (each a Lin-Kernighan search with ``n`` trials); the best tour
        is kept. The time limit may end the search earlier.

    Returns
    -------
    SolverOutput
        Status ``"feasible"``; ``stats`` has ``runs`` and ``scaled_by``.

    Raises
    ------
    InputError
        If ``runs`` is not a positive integer.
    """
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise InputError(f"runs must be a positive integer, got {runs!r}")
    inst = as_instance(instance)
    dist = inst.distance_matrix()
    n = inst.n
    if n <= 3:
        return SolverOutput(list(range(n)), "feasible", stats={"runs": 0, "scaled_by": 1.0})
    largest = int(dist.max())
    factor = 1.0
    work = dist
    if largest > MAX_LKH_WEIGHT:
        factor = MAX_LKH_WEIGHT / largest
        work = np.rint(dist * factor).astype(np.int64)
    # LKH's SEED is an unsigned int; 0 would mean "take the clock".
    tour = _lkh_call(work, runs=runs, seed=int(seed) % (2**31 - 1) + 1, time_limit=time_limit)
    tour = np.roll(tour, -int(np.flatnonzero(tour == 0)[0]))  # start at node 0
    return SolverOutput([int(i) for i in tour], "feasible", stats={"runs": runs, "scaled_by": factor})
