"""LKH-3 (Helsgaun's Lin-Kernighan heuristic) for the TSP, through the ``elkai`` package.

Notes on elkai 2.0 that shape this module:

* It is always given the integer TSPLIB distance matrix (never coordinates, which it would
  round to integers), so LKH optimises exactly the instance's objective.
* LKH multiplies weights by its PRECISION (100) in 32-bit integers: weights above about
  2e7 overflow and make LKH abort the whole process. Matrices whose largest weight exceeds
  :data:`MAX_LKH_WEIGHT` are therefore scaled down (and rounded) before solving; the tour is
  still measured on the true distances, and ``stats["scaled_by"]`` records the factor.
* elkai has no time limit and no seed. A single LKH run cannot be interrupted (about 8 s for
  1000 nodes on our machine). The time limit is respected approximately by the number of runs:
  one run is always made; further runs are made only while the time left allows, estimated
  from the first. The seed permutes the node order given to LKH, so different seeds (and the
  second batch of runs) explore differently.
* It needs at least 3 nodes and returns a closed tour (the start repeated at the end), which
  is converted to a permutation.
"""

from __future__ import annotations

import time

import numpy as np

from coptim.errors import InputError
from coptim.problems.tsp import TSPInstance, as_instance
from coptim.result import SolverOutput
from coptim.solvers import register

#: Largest weight handed to LKH unscaled (LKH works in int32 with PRECISION 100).
MAX_LKH_WEIGHT = 10_000_000
DEFAULT_RUNS = 1


def _lkh_call(work: np.ndarray, perm: np.ndarray, runs: int) -> np.ndarray:
    """One elkai call on ``work`` with node order ``perm``; returns the tour in original indices."""
    import elkai

    sub = work[np.ix_(perm, perm)]
    closed = elkai.DistanceMatrix(sub.tolist()).solve_tsp(runs=runs)
    n = perm.size
    order = np.asarray(closed[:-1] if len(closed) == n + 1 and closed[0] == closed[-1] else closed, dtype=np.int64)
    if order.size != n or not np.array_equal(np.sort(order), np.arange(n)):
        raise RuntimeError(f"elkai returned {len(closed)} nodes that are not a tour of {n} nodes")
    return perm[order]


@register("tsp", "lkh", "LKH-3 through elkai on the TSPLIB distance matrix (runs bounded by the time limit)")
def solve(instance: TSPInstance, *, time_limit: float | None, seed: int, runs: int = DEFAULT_RUNS) -> SolverOutput:
    """LKH-3 on the instance's integer distance matrix.

    Parameters
    ----------
    instance
        The TSP instance.
    time_limit
        Seconds; None: all ``runs`` are made. Respected approximately (see module notes):
        the first run always completes.
    seed
        Permutes the node order given to LKH.
    runs
        Number of LKH runs (each a full Lin-Kernighan search with ``n`` trials); the best
        tour is kept.

    Returns
    -------
    SolverOutput
        Status ``"feasible"``, or ``"time_limit"`` when fewer runs than asked fitted into
        the time limit; ``stats`` has ``runs_done`` and ``scaled_by``.

    Raises
    ------
    InputError
        If ``runs`` is not a positive integer.
    """
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise InputError(f"runs must be a positive integer, got {runs!r}")
    inst = as_instance(instance)
    start = time.perf_counter()
    dist = inst.distance_matrix()
    n = inst.n
    if n <= 3:
        return SolverOutput(list(range(n)), "feasible", stats={"runs_done": 0, "scaled_by": 1.0})
    largest = int(dist.max())
    factor = 1.0
    work = dist
    if largest > MAX_LKH_WEIGHT:
        factor = MAX_LKH_WEIGHT / largest
        work = np.rint(dist * factor).astype(np.int64)
    rng = np.random.default_rng(seed)
    best, best_length = None, None
    done = 0
    first_call = None
    while done < runs:
        if first_call is None:
            batch = 1
        else:
            batch = runs - done
            if time_limit is not None:
                left = time_limit - (time.perf_counter() - start)
                batch = min(batch, int(left // first_call))
            if batch < 1:
                break
        call_start = time.perf_counter()
        tour = _lkh_call(work, rng.permutation(n), batch)
        if first_call is None:
            first_call = time.perf_counter() - call_start
        done += batch
        length = int(dist[tour, np.roll(tour, -1)].sum())
        if best_length is None or length < best_length:
            best, best_length = tour, length
    # Start the tour at node 0 for a stable presentation.
    best = np.roll(best, -int(np.flatnonzero(best == 0)[0]))
    status = "feasible" if done >= runs and (time_limit is None or time.perf_counter() - start <= time_limit) \
        else "time_limit"
    return SolverOutput([int(i) for i in best], status, stats={"runs_done": done, "scaled_by": factor})
