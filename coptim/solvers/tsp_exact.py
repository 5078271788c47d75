"""Exact TSP for small instances.

* ``n <= HELD_KARP_MAX_NODES`` (16): Held-Karp dynamic programming over subsets, vectorised
  with numpy (``O(2^n n^2)`` work, a few MB of memory, about 0.02 s for 16 nodes; it does not
  check the time limit).
* up to ``EXACT_MAX_NODES`` (200): OR-Tools CP-SAT with an ``AddCircuit`` constraint, started
  from a 2-opt + Or-opt tour as hint, with ``linearization_level = 2`` so that the circuit's LP
  relaxation and cuts are used (a random 40-node instance: well under a second instead of about
  40 s at the default level). Status ``"optimal"`` only when CP-SAT proves it; otherwise
  ``"time_limit"`` with CP-SAT's proven lower bound as ``dual_bound``.

Larger instances are refused: the circuit model has ``n(n-1)`` arc variables.
"""

from __future__ import annotations

import time

import numpy as np

from coptim.errors import InputError
from coptim.problems.tsp import TSPInstance, as_instance
from coptim.result import SolverOutput
from coptim.solvers import register
from coptim.solvers.tsp_construction import check_matrix, nearest_neighbour
from coptim.solvers.tsp_local_search import local_search

HELD_KARP_MAX_NODES = 16
EXACT_MAX_NODES = 200
DEFAULT_TIME_LIMIT = 60.0
_INF = np.int64(2) ** 62


def held_karp(dist: np.ndarray) -> tuple[np.ndarray, int]:
    """An optimal tour by Held-Karp dynamic programming.

    Parameters
    ----------
    dist
        ``(n, n)`` symmetric non-negative integer matrix, ``2 <= n <= HELD_KARP_MAX_NODES``.

    Returns
    -------
    tuple[numpy.ndarray, int]
        An optimal tour starting at node 0, and its length.

    Raises
    ------
    InputError
        If the matrix is not integer or ``n`` is outside ``2..HELD_KARP_MAX_NODES``.
    """
    d = check_matrix(dist)
    n = d.shape[0]
    if n > HELD_KARP_MAX_NODES:
        raise InputError(f"Held-Karp is limited to {HELD_KARP_MAX_NODES} nodes, got {n}")
    if not np.issubdtype(d.dtype, np.integer):
        raise InputError("Held-Karp needs an integer distance matrix")
    d = d.astype(np.int64)
    if n <= 3:
        tour = np.arange(n)
        return tour, int(d[tour, np.roll(tour, -1)].sum())
    m = n - 1  # nodes 1..n-1 are bits 0..m-1; the tour starts and ends at node 0
    size = 1 << m
    masks = np.arange(size, dtype=np.int64)
    popcount = np.bitwise_count(masks)
    # best[S, j]: shortest path from node 0 through exactly the nodes of S, ending at node j+1.
    best = np.full((size, m), _INF, dtype=np.int64)
    parent = np.full((size, m), -1, dtype=np.int8)
    singles = 1 << np.arange(m)
    best[singles, np.arange(m)] = d[0, 1:]
    inner = d[1:, 1:]
    for count in range(2, m + 1):
        layer = masks[popcount == count]
        for j in range(m):
            with_j = layer[(layer >> j) & 1 == 1]
            prev = with_j ^ (1 << j)
            cand = best[prev] + inner[:, j]  # via every i; i not in prev stays >= _INF
            arg = np.argmin(cand, axis=1)
            best[with_j, j] = cand[np.arange(with_j.size), arg]
            parent[with_j, j] = arg
    full = size - 1
    closing = best[full] + d[1:, 0]
    last = int(np.argmin(closing))
    length = int(closing[last])
    order = []
    mask, j = full, last
    while j >= 0:
        order.append(j + 1)
        prev_j = int(parent[mask, j])
        mask ^= 1 << j
        j = prev_j
    tour = np.array([0] + order[::-1], dtype=np.int64)
    return tour, length


def _circuit(dist: np.ndarray, hint: np.ndarray, time_limit: float, seed: int, workers: int) -> tuple:
    """CP-SAT AddCircuit model; returns (tour or None, status name, bound, branches)."""
    from ortools.sat.python import cp_model

    n = dist.shape[0]
    model = cp_model.CpModel()
    arcs = {}
    for i in range(n):
        for j in range(n):
            if i != j:
                arcs[i, j] = model.new_bool_var(f"x{i}_{j}")
    model.add_circuit([(i, j, lit) for (i, j), lit in arcs.items()])
    model.minimize(sum(int(dist[i, j]) * lit for (i, j), lit in arcs.items()))
    succ = dict(zip(hint.tolist(), np.roll(hint, -1).tolist()))
    for (i, j), lit in arcs.items():
        model.add_hint(lit, succ[i] == j)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.01, time_limit)
    solver.parameters.num_workers = workers
    solver.parameters.linearization_level = 2  # see the module docstring
    solver.parameters.random_seed = int(seed) % (2**31)
    code = solver.solve(model)
    name = solver.status_name(code)
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, name, solver.best_objective_bound, solver.num_branches
    nxt = {i: j for (i, j), lit in arcs.items() if solver.boolean_value(lit)}
    tour = [0]
    while len(tour) < n:
        tour.append(nxt[tour[-1]])
    return np.array(tour, dtype=np.int64), name, solver.best_objective_bound, solver.num_branches


@register("tsp", "exact", "Held-Karp up to 16 nodes, CP-SAT circuit model up to 200 nodes", exact=True)
def solve(instance: TSPInstance, *, time_limit: float | None, seed: int, workers: int = 1) -> SolverOutput:
    """Exact TSP: Held-Karp for ``n <= 16``, CP-SAT ``AddCircuit`` for ``n <= 200``.

    Parameters
    ----------
    instance
        The TSP instance.
    time_limit
        Seconds; default :data:`DEFAULT_TIME_LIMIT`. On expiry the best tour found and a
        proven lower bound are returned with status ``"time_limit"``.
    seed
        CP-SAT random seed and start node of the hint tour.
    workers
        CP-SAT search threads (1 keeps it to one core).

    Returns
    -------
    SolverOutput
        Status ``"optimal"`` (with ``dual_bound`` equal to the length) when proven.

    Raises
    ------
    InputError
        If the instance has more than :data:`EXACT_MAX_NODES` nodes or ``workers`` is invalid.
    """
    inst = as_instance(instance)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError(f"workers must be a positive integer, got {workers!r}")
    n = inst.n
    if n > EXACT_MAX_NODES:
        raise InputError(f"the exact solver is limited to {EXACT_MAX_NODES} nodes; {inst.name} has {n}")
    start = time.perf_counter()
    limit = DEFAULT_TIME_LIMIT if time_limit is None else time_limit
    dist = inst.distance_matrix()
    if n <= HELD_KARP_MAX_NODES:
        tour, length = held_karp(dist)
        return SolverOutput([int(i) for i in tour], "optimal", dual_bound=float(length),
                            stats={"method": "held-karp"})
    left = limit - (time.perf_counter() - start)
    hint = local_search(nearest_neighbour(dist, int(seed) % n), dist, max(0.01, 0.1 * left))
    hint_length = int(dist[hint, np.roll(hint, -1)].sum())
    left = limit - (time.perf_counter() - start)
    tour, status, bound, branches = _circuit(dist, hint, left, seed, workers)
    stats = {"method": "cp-sat-circuit", "cp_sat_status": status, "nodes": int(branches),
             "hint_length": hint_length}
    bound = float(bound) if np.isfinite(bound) else None
    if tour is None:  # no solution within the time: fall back on the hint
        return SolverOutput([int(i) for i in hint], "time_limit",
                            dual_bound=bound if bound is not None and bound <= hint_length else None, stats=stats)
    return SolverOutput([int(i) for i in tour], "optimal" if status == "OPTIMAL" else "time_limit",
                        dual_bound=bound, stats=stats)
