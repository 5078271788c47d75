"""Construction heuristics for the TSP: nearest neighbour, farthest insertion, cheapest insertion.

The library functions work on a square distance matrix and return a tour as an int64 array
(a permutation of ``0..n-1``). Each runs in O(n^2) with vectorised numpy steps. The
registered solvers start from node ``seed % n``.
"""

from __future__ import annotations

import time

import numpy as np

from coptim.errors import InputError
from coptim.problems.tsp import TSPInstance, as_instance
from coptim.result import SolverOutput
from coptim.solvers import register

_BIG = np.iinfo(np.int64).max


def check_matrix(dist: np.ndarray) -> np.ndarray:
    """``dist`` as a square 2-D numpy array of at least 2 rows.

    Raises
    ------
    InputError
        If it is not square, has fewer than 2 rows or holds non-finite values.
    """
    d = np.asarray(dist)
    if d.ndim != 2 or d.shape[0] != d.shape[1] or d.shape[0] < 2:
        raise InputError(f"distance matrix must be square with at least 2 rows, got shape {d.shape}")
    if not np.issubdtype(d.dtype, np.number) or np.issubdtype(d.dtype, np.complexfloating):
        raise InputError(f"distance matrix must be real-valued, got dtype {d.dtype}")
    if np.issubdtype(d.dtype, np.floating) and not np.all(np.isfinite(d)):
        raise InputError("distance matrix has a NaN or infinite entry")
    return d


def _check_start(start: int, n: int) -> int:
    if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or not 0 <= start < n:
        raise InputError(f"start node must be an integer in 0..{n - 1}, got {start!r}")
    return int(start)


def _masked_max(dist: np.ndarray) -> float | int:
    return _BIG if np.issubdtype(dist.dtype, np.integer) else np.inf


def _finish(tour: list[int] | np.ndarray, done: np.ndarray) -> np.ndarray:
    """Append the nodes not in ``tour`` in index order (used when the deadline passes)."""
    return np.concatenate([np.asarray(tour, dtype=np.int64), np.flatnonzero(~done)]).astype(np.int64)


def _nearest_neighbour(dist: np.ndarray, start: int, deadline: float | None) -> tuple[np.ndarray, bool]:
    n = dist.shape[0]
    visited = np.zeros(n, dtype=bool)
    tour = np.empty(n, dtype=np.int64)
    big = _masked_max(dist)
    current = start
    for k in range(n - 1):
        visited[current] = True
        tour[k] = current
        if deadline is not None and time.perf_counter() > deadline:
            return _finish(tour[: k + 1], visited), False
        current = int(np.argmin(np.where(visited, big, dist[current])))
    tour[n - 1] = current
    return tour, True


def nearest_neighbour(dist: np.ndarray, start: int = 0) -> np.ndarray:
    """Nearest-neighbour tour: from ``start`` always go to the closest unvisited node.

    Parameters
    ----------
    dist
        ``(n, n)`` distance matrix.
    start
        First node of the tour.

    Returns
    -------
    numpy.ndarray
        The tour (ties broken towards the smaller index).

    Raises
    ------
    InputError
        On a bad matrix or start node.
    """
    d = check_matrix(dist)
    return _nearest_neighbour(d, _check_start(start, d.shape[0]), None)[0]


def _farthest_insertion(dist: np.ndarray, start: int, deadline: float | None) -> tuple[np.ndarray, bool]:
    n = dist.shape[0]
    in_tour = np.zeros(n, dtype=bool)
    second = int(np.argmax(np.where(np.arange(n) == start, -1, dist[start])))
    tour = np.array([start, second], dtype=np.int64)
    in_tour[[start, second]] = True
    # Distance of every node to the nearest tour node; -1 marks tour nodes for argmax.
    near = np.minimum(dist[start], dist[second]).astype(np.float64)
    for _ in range(n - 2):
        if deadline is not None and time.perf_counter() > deadline:
            return _finish(tour, in_tour), False
        node = int(np.argmax(np.where(in_tour, -1.0, near)))
        nxt = np.roll(tour, -1)
        cost = dist[tour, node] + dist[node, nxt] - dist[tour, nxt]
        at = int(np.argmin(cost))
        tour = np.insert(tour, at + 1, node)
        in_tour[node] = True
        near = np.minimum(near, dist[node])
    return tour, True


def farthest_insertion(dist: np.ndarray, start: int = 0) -> np.ndarray:
    """Farthest-insertion tour.

    Starts with ``start`` and the node farthest from it; then repeatedly takes the node
    farthest from the tour and inserts it where it lengthens the tour least.

    Parameters
    ----------
    dist
        ``(n, n)`` distance matrix.
    start
        First node.

    Returns
    -------
    numpy.ndarray
        The tour.

    Raises
    ------
    InputError
        On a bad matrix or start node.
    """
    d = check_matrix(dist)
    return _farthest_insertion(d, _check_start(start, d.shape[0]), None)[0]


def _cheapest_insertion(dist: np.ndarray, start: int, deadline: float | None) -> tuple[np.ndarray, bool]:
    n = dist.shape[0]
    big = _masked_max(dist)
    second = int(np.argmin(np.where(np.arange(n) == start, big, dist[start])))
    succ = np.full(n, -1, dtype=np.int64)
    succ[start], succ[second] = second, start
    members = [start, second]
    in_tour = np.zeros(n, dtype=bool)
    in_tour[[start, second]] = True
    # For every node outside the tour: cheapest insertion cost and the tail of that tour edge.
    cost = (dist[start] + dist[second] - dist[start, second]).astype(np.float64)
    tail = np.full(n, start, dtype=np.int64)
    for _ in range(n - 2):
        if deadline is not None and time.perf_counter() > deadline:
            return _tour_from_successors(succ, start, len(members), in_tour), False
        node = int(np.argmin(np.where(in_tour, np.inf, cost)))
        i = int(tail[node])
        j = int(succ[i])
        succ[i], succ[node] = node, j
        members.append(node)
        in_tour[node] = True
        out = ~in_tour
        # Nodes whose best edge (i, j) just disappeared need a full recomputation.
        stale = np.flatnonzero(out & (tail == i))
        via_i = dist[:, i] + dist[:, node] - dist[i, node]
        via_j = dist[:, node] + dist[:, j] - dist[node, j]
        better_i = out & (via_i < cost)
        cost[better_i], tail[better_i] = via_i[better_i], i
        better_j = out & (via_j < cost)
        cost[better_j], tail[better_j] = via_j[better_j], node
        if stale.size:
            tails = np.asarray(members, dtype=np.int64)
            heads = succ[tails]
            full = dist[np.ix_(stale, tails)] + dist[np.ix_(stale, heads)] - dist[tails, heads]
            best = np.argmin(full, axis=1)
            cost[stale] = full[np.arange(stale.size), best]
            tail[stale] = tails[best]
    return _tour_from_successors(succ, start, n, in_tour), True


def _tour_from_successors(succ: np.ndarray, start: int, size: int, in_tour: np.ndarray) -> np.ndarray:
    order = np.empty(size, dtype=np.int64)
    node = start
    for k in range(size):
        order[k] = node
        node = succ[node]
    return _finish(order, in_tour) if size < len(succ) else order


def cheapest_insertion(dist: np.ndarray, start: int = 0) -> np.ndarray:
    """Cheapest-insertion tour.

    Starts with ``start`` and its nearest node; then repeatedly inserts, over all nodes
    outside the tour and all tour edges, the node and position that lengthen the tour least.

    Parameters
    ----------
    dist
        ``(n, n)`` distance matrix.
    start
        First node.

    Returns
    -------
    numpy.ndarray
        The tour.

    Raises
    ------
    InputError
        On a bad matrix or start node.
    """
    d = check_matrix(dist)
    return _cheapest_insertion(d, _check_start(start, d.shape[0]), None)[0]


def _deadline(time_limit: float | None) -> float | None:
    return None if time_limit is None else time.perf_counter() + time_limit


def _run(instance: TSPInstance, seed: int, time_limit: float | None, build) -> SolverOutput:
    inst = as_instance(instance)
    dist = inst.distance_matrix()
    tour, complete = build(dist, int(seed) % inst.n, _deadline(time_limit))
    return SolverOutput([int(i) for i in tour], "feasible" if complete else "time_limit",
                        stats={"start": int(seed) % inst.n})


@register("tsp", "nn", "nearest neighbour tour from node seed % n")
def solve_nearest_neighbour(instance: TSPInstance, *, time_limit: float | None, seed: int) -> SolverOutput:
    """Nearest neighbour from node ``seed % n``; O(n^2).

    If the time limit passes first, the unvisited nodes are appended in index order and the
    status is ``"time_limit"``. No limit by default.
    """
    return _run(instance, seed, time_limit, _nearest_neighbour)


@register("tsp", "farthest-insertion", "farthest insertion starting from node seed % n")
def solve_farthest_insertion(instance: TSPInstance, *, time_limit: float | None, seed: int) -> SolverOutput:
    """Farthest insertion from node ``seed % n``; O(n^2). Time limit handled as for ``nn``."""
    return _run(instance, seed, time_limit, _farthest_insertion)


@register("tsp", "cheapest-insertion", "cheapest insertion starting from node seed % n")
def solve_cheapest_insertion(instance: TSPInstance, *, time_limit: float | None, seed: int) -> SolverOutput:
    """Cheapest insertion from node ``seed % n``; about O(n^2). Time limit handled as for ``nn``."""
    return _run(instance, seed, time_limit, _cheapest_insertion)
