"""Classical CVRP construction heuristics: Clarke-Wright savings and the Gillett-Miller sweep.

Both assume symmetric distances (every :class:`~coptim.problems.cvrp.CVRPInstance` has them)
and return routes of customer indices ``1..n``.
"""

from __future__ import annotations

import math
import time

import numpy as np

from coptim.errors import InputError
from coptim.problems.cvrp import CVRPInstance
from coptim.result import SolverOutput
from coptim.solvers import register

#: Default time budget of :func:`sweep` in seconds when none is given.
SWEEP_DEFAULT_TIME = 2.0
_CLOCK_EVERY = 4096


# ============================================================================= savings


def savings_routes(instance: CVRPInstance, *, lam: float = 1.0,
                   deadline: float | None = None) -> tuple[list[list[int]], bool]:
    """Clarke-Wright parallel savings.

    Every customer starts on its own route. Pairs ``(i, j)`` are taken in decreasing order
    of the saving ``d(0, i) + d(0, j) - lam * d(i, j)`` (ties by ``i`` then ``j``); two routes
    are merged when ``i`` and ``j`` are ends of different routes and the joint load fits.
    Only positive savings are used, unless the instance has a hard fleet limit that is
    not yet met; then merging goes on through the other pairs until it is.

    Parameters
    ----------
    instance
        The instance.
    lam
        The route-shape parameter lambda (1 is the classical savings), finite and >= 0.
    deadline
        A ``time.perf_counter()`` value after which merging stops (the routes stay feasible).

    Returns
    -------
    routes, stopped
        The routes, and whether the deadline cut the merging short.

    Raises
    ------
    InputError
        If ``lam`` is not a finite non-negative number.
    """
    if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not math.isfinite(lam) or lam < 0:
        raise InputError(f"savings: lam must be a finite number >= 0, got {lam!r}")
    n = instance.n
    if n == 1:
        return [[1]], False
    dist = instance.distance_matrix()
    fleet = instance.num_vehicles
    iu, ju = np.triu_indices(n, 1)
    iu += 1
    ju += 1
    depot = dist[0]
    saving = (depot[iu] + depot[ju]).astype(np.float64) - float(lam) * dist[iu, ju]
    if fleet is None:
        keep = saving > 0
        iu, ju, saving = iu[keep], ju[keep], saving[keep]
    order = np.lexsort((ju, iu, -saving))
    iu, ju, positive = iu[order].tolist(), ju[order].tolist(), (saving[order] > 0).tolist()

    demands = instance.demands.tolist()
    capacity = instance.capacity
    route_of = list(range(n + 1))
    members: dict[int, list[int]] = {c: [c] for c in range(1, n + 1)}
    load = {c: demands[c] for c in range(1, n + 1)}
    interior = [False] * (n + 1)
    count = n
    stopped = False
    for k in range(len(iu)):
        if deadline is not None and k % _CLOCK_EVERY == 0 and time.perf_counter() > deadline:
            stopped = True
            break
        if not positive[k] and (fleet is None or count <= fleet):
            break
        i, j = iu[k], ju[k]
        if interior[i] or interior[j]:
            continue
        ri, rj = route_of[i], route_of[j]
        if ri == rj or load[ri] + load[rj] > capacity:
            continue
        a, b = members[ri], members[rj]
        # Orient so that a ends with i and b starts with j (reversing keeps the length).
        if a[-1] != i:
            a.reverse()
        if b[0] != j:
            b.reverse()
        if len(a) < len(b):
            a, b, ri, rj = b[::-1], a[::-1], rj, ri
            members[ri] = a
        for c in (i, j):
            if len(members[route_of[c]]) > 1:
                interior[c] = True
        a.extend(b)
        for c in b:
            route_of[c] = ri
        load[ri] += load.pop(rj)
        del members[rj]
        count -= 1
    return [members[r] for r in sorted(members, key=lambda r: members[r][0])], stopped


@register("cvrp", "savings", "Clarke-Wright parallel savings (lambda parameter lam)")
def savings(instance: CVRPInstance, *, time_limit: float | None = None, seed: int = 0,
            lam: float = 1.0) -> SolverOutput:
    """Clarke-Wright parallel savings; see :func:`savings_routes`.

    Parameters
    ----------
    instance
        The instance.
    time_limit
        Seconds; None means no limit (the method is O(n^2 log n)). When the limit is hit the
        routes merged so far are returned.
    seed
        Unused (the method is deterministic).
    lam
        The savings parameter lambda.

    Returns
    -------
    SolverOutput
        Routes, status ``"feasible"`` (``"time_limit"`` if cut short).

    Raises
    ------
    InputError
        On a bad ``lam``.
    """
    deadline = None if time_limit is None else time.perf_counter() + float(time_limit)
    routes, stopped = savings_routes(instance, lam=lam, deadline=deadline)
    return SolverOutput(routes, "time_limit" if stopped else "feasible", stats={"routes": len(routes), "lam": lam})


# ============================================================================= sweep


def two_opt_route(route: list[int], dist: np.ndarray) -> list[int]:
    """Best-improvement 2-opt on one route, the depot (0) fixed at both ends.

    Parameters
    ----------
    route
        Customer indices.
    dist
        The symmetric distance matrix.

    Returns
    -------
    list[int]
        The improved route, no longer than ``route``.
    """
    if len(route) < 3:
        return list(route)
    tour = np.array([0, *route, 0], dtype=np.int64)
    m = len(tour) - 1  # number of edges
    a_idx, b_idx = np.triu_indices(m, 2)
    while True:
        edge = dist[tour[:-1], tour[1:]]
        ta, tb = tour[a_idx], tour[b_idx]
        delta = dist[ta, tb] + dist[tour[a_idx + 1], tour[b_idx + 1]] - edge[a_idx] - edge[b_idx]
        best = int(np.argmin(delta))
        if delta[best] >= 0:
            break
        a, b = a_idx[best], b_idx[best]
        tour[a + 1:b + 1] = tour[a + 1:b + 1][::-1].copy()
    return tour[1:-1].tolist()


def planar_points(instance: CVRPInstance) -> np.ndarray:
    """Points for the sweep: the coordinates, or for an EXPLICIT instance without any a
    classical multidimensional-scaling embedding of its distance matrix in the plane."""
    if instance.coords is not None:
        return np.asarray(instance.coords, dtype=np.float64)
    d2 = instance.distance_matrix().astype(np.float64) ** 2
    size = d2.shape[0]
    centre = np.eye(size) - 1.0 / size
    gram = -0.5 * centre @ d2 @ centre
    values, vectors = np.linalg.eigh(gram)
    top = np.argsort(values)[::-1][:2]
    return vectors[:, top] * np.sqrt(np.maximum(values[top], 0.0))


def sweep_orders(instance: CVRPInstance) -> list[np.ndarray]:
    """Customer orders to sweep, the most promising first.

    Customers are sorted by polar angle around the depot; each angular gap between two
    consecutive customers gives two orders, counter-clockwise from the customer after the
    gap and clockwise from the one before it. Larger gaps come first.
    """
    pts = planar_points(instance)
    rel = pts[1:] - pts[0]
    angle = np.arctan2(rel[:, 1], rel[:, 0])
    ccw = np.argsort(angle, kind="stable") + 1
    sorted_angle = angle[ccw - 1]
    gap = np.diff(np.concatenate([sorted_angle[-1:] - 2 * np.pi, sorted_angle]))
    starts = np.argsort(-gap, kind="stable")
    orders = []
    for s in starts:
        forward = np.roll(ccw, -s)
        orders.append(forward)
        orders.append(forward[::-1])  # clockwise, ending at the same gap
    return orders


def sweep_routes(instance: CVRPInstance, order: np.ndarray) -> list[list[int]]:
    """Cut ``order`` into routes, closing a route when the next customer does not fit."""
    demands = instance.demands
    capacity = instance.capacity
    routes: list[list[int]] = []
    current: list[int] = []
    load = 0
    for c in order.tolist():
        d = int(demands[c])
        if current and load + d > capacity:
            routes.append(current)
            current, load = [], 0
        current.append(c)
        load += d
    routes.append(current)
    return routes


@register("cvrp", "sweep", "Gillett-Miller sweep by polar angle, routes improved by 2-opt, several starts")
def sweep(instance: CVRPInstance, *, time_limit: float | None = None, seed: int = 0,
          starts: int | None = None) -> SolverOutput:
    """Gillett-Miller sweep with 2-opt per route, over several start angles and both directions.

    Parameters
    ----------
    instance
        The instance; EXPLICIT instances without coordinates are swept in a planar
        embedding of their matrix (:func:`planar_points`).
    time_limit
        Seconds (default :data:`SWEEP_DEFAULT_TIME`); no new start is begun after it. At
        least one start is always completed.
    seed
        Unused (the order of starts is deterministic).
    starts
        Largest number of sweeps (start position and direction); None tries all ``2 n``.

    Returns
    -------
    SolverOutput
        The best routes found; status ``"time_limit"`` if not all starts were tried.

    Raises
    ------
    InputError
        If ``starts`` is not a positive integer.
    """
    if starts is not None and (isinstance(starts, bool) or not isinstance(starts, int) or starts < 1):
        raise InputError(f"sweep: starts must be a positive integer, got {starts!r}")
    begin = time.perf_counter()
    limit = SWEEP_DEFAULT_TIME if time_limit is None else float(time_limit)
    dist = instance.distance_matrix()
    orders = sweep_orders(instance)
    if starts is not None:
        orders = orders[:starts]
    best: list[list[int]] | None = None
    best_cost = math.inf
    tried = 0
    for order in orders:
        if tried and time.perf_counter() - begin >= limit:
            break
        routes = [two_opt_route(r, dist) for r in sweep_routes(instance, order)]
        cost = _length(routes, dist)
        tried += 1
        if cost < best_cost:
            best, best_cost = routes, cost
    status = "feasible" if tried == len(orders) else "time_limit"
    return SolverOutput(best, status, stats={"sweeps": tried, "routes": len(best)})


def _length(routes: list[list[int]], dist: np.ndarray) -> int:
    total = 0
    for r in routes:
        idx = np.array([0, *r, 0])
        total += int(dist[idx[:-1], idx[1:]].sum())
    return total
