"""Classical 0/1 knapsack solvers: greedy, dynamic programming, OR-Tools and CP-SAT.

Every solver returns the chosen items as a sorted list of 0-based indices. Items heavier
than the capacity are never chosen; items of weight 0 and positive value are always chosen.
"""

from __future__ import annotations

import time

import numpy as np

from coptim.errors import InputError
from coptim.problems.knapsack import KnapsackInstance
from coptim.result import SolverOutput
from coptim.solvers import register

#: Seconds a solver may run when the caller gives no time limit.
DEFAULT_TIME_LIMIT = 60.0
#: Largest DP table (items times capacity + 1) the ``dp`` solver accepts; one bit per cell.
MAX_DP_CELLS = 2_000_000_000
#: Largest capacity + 1 the ``dp`` solver accepts; it keeps a few int64 arrays this long.
MAX_DP_CAPACITY = 25_000_000


def _limit(time_limit: float | None) -> float:
    return DEFAULT_TIME_LIMIT if time_limit is None else float(time_limit)


def _split_items(instance: KnapsackInstance) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the items that are always taken (weight 0, value > 0) and of those worth deciding.

    Items heavier than the capacity and items of value 0 are in neither set.
    """
    w, v, c = instance.weights, instance.values, instance.capacity
    free = np.flatnonzero((w == 0) & (v > 0))
    open_ = np.flatnonzero((w > 0) & (w <= c) & (v > 0))
    return free, open_


def _ratio_order(instance: KnapsackInstance, items: np.ndarray) -> np.ndarray:
    """``items`` sorted by value/weight ratio, best first; ties keep index order."""
    ratio = instance.values[items] / instance.weights[items]
    return items[np.lexsort((items, -ratio))]


def _value(instance: KnapsackInstance, items: list[int] | np.ndarray) -> int:
    return int(instance.values[np.asarray(items, dtype=np.int64)].sum()) if len(items) else 0


def dantzig_bound(instance: KnapsackInstance) -> int:
    """Dantzig's upper bound: the LP relaxation's value rounded down.

    Parameters
    ----------
    instance
        The instance.

    Returns
    -------
    int
        An upper bound on the optimum.
    """
    free, open_ = _split_items(instance)
    bound = _value(instance, free)
    room = instance.capacity
    for j in _ratio_order(instance, open_).tolist():
        w, v = int(instance.weights[j]), int(instance.values[j])
        if w <= room:
            room -= w
            bound += v
        else:
            return bound + (v * room) // w
    return bound


def greedy_solution(instance: KnapsackInstance) -> list[int]:
    """The better of the greedy fill by value/weight ratio and the best single item.

    The greedy fill takes items in ratio order whenever they still fit. Taking the better
    of it and the most valuable item that fits alone is the classic 1/2-approximation.

    Parameters
    ----------
    instance
        The instance.

    Returns
    -------
    list of int
        Sorted chosen item indices.
    """
    free, open_ = _split_items(instance)
    room = instance.capacity
    chosen = free.tolist()
    for j in _ratio_order(instance, open_).tolist():
        w = int(instance.weights[j])
        if w <= room:
            room -= w
            chosen.append(j)
    if open_.size:
        best = int(open_[np.argmax(instance.values[open_])])
        single = free.tolist() + [best]
        if _value(instance, single) > _value(instance, chosen):
            chosen = single
    return sorted(chosen)


@register("knapsack", "greedy", "Greedy by value/weight ratio, or the best single item if better (1/2-approx.)")
def greedy(instance: KnapsackInstance, *, time_limit: float | None = None, seed: int = 0) -> SolverOutput:
    """Greedy 1/2-approximation; also reports Dantzig's bound as dual bound.

    Parameters
    ----------
    instance
        The instance.
    time_limit
        Unused: the method runs in O(n log n).
    seed
        Unused: the method is deterministic.

    Returns
    -------
    SolverOutput
        Status ``"optimal"`` when the greedy value reaches the bound, else ``"feasible"``.
    """
    solution = greedy_solution(instance)
    bound = dantzig_bound(instance)
    status = "optimal" if _value(instance, solution) == bound else "feasible"
    return SolverOutput(solution, status, dual_bound=float(bound))


def _get_bit(packed_row: np.ndarray, c: int) -> bool:
    return bool((packed_row[c >> 3] >> (7 - (c & 7))) & 1)


@register("knapsack", "dp", "Exact dynamic programming over the capacity (O(nC) time, n*C bits of memory)",
          exact=True)
def dp(instance: KnapsackInstance, *, time_limit: float | None = None, seed: int = 0) -> SolverOutput:
    """Exact dynamic programming over capacities, vectorised with numpy.

    ``best[c]`` is the best value of the items seen so far within weight ``c``; for each item
    a bit-packed row records at which capacities taking it improved ``best``, and the
    solution is read back from these rows. The capacity used is the smaller of the
    instance's capacity and the total weight of the items that fit.

    Parameters
    ----------
    instance
        The instance.
    time_limit
        Seconds (default :data:`DEFAULT_TIME_LIMIT`). When the limit is hit before the table
        is complete, the greedy solution is returned with status ``"time_limit"``.
    seed
        Unused: the method is deterministic.

    Returns
    -------
    SolverOutput
        Status ``"optimal"`` with the optimum as dual bound, or ``"time_limit"``.

    Raises
    ------
    InputError
        If the table would exceed :data:`MAX_DP_CELLS` cells or the capacity exceeds
        :data:`MAX_DP_CAPACITY`.
    """
    start = time.perf_counter()
    limit = _limit(time_limit)
    free, open_ = _split_items(instance)
    weights = instance.weights
    cap = min(instance.capacity, int(weights[open_].sum()))
    cells = open_.size * (cap + 1)
    if cap + 1 > MAX_DP_CAPACITY or cells > MAX_DP_CELLS:
        raise InputError(
            f"instance {instance.name} is too large for the dp solver ({open_.size} items x capacity {cap}); "
            f"use cpsat or ortools"
        )
    best = np.zeros(cap + 1, dtype=np.int64)
    keep = np.zeros((open_.size, (cap + 8) // 8), dtype=np.uint8)
    flags = np.zeros(cap + 1, dtype=bool)
    for row, j in enumerate(open_.tolist()):
        if time.perf_counter() - start > limit:
            return SolverOutput(greedy_solution(instance), "time_limit",
                                stats={"items_done": row, "items": int(open_.size)})
        w, v = int(weights[j]), int(instance.values[j])
        take = best[: cap + 1 - w] + v
        better = take > best[w:]
        flags[:w] = False
        flags[w:] = better
        keep[row] = np.packbits(flags)
        np.maximum(best[w:], take, out=best[w:])
    chosen = free.tolist()
    c = cap
    for row in range(open_.size - 1, -1, -1):
        if _get_bit(keep[row], c):
            j = int(open_[row])
            chosen.append(j)
            c -= int(weights[j])
    optimum = int(best[cap]) + _value(instance, free)
    return SolverOutput(sorted(chosen), "optimal", dual_bound=float(optimum),
                        stats={"cells": int(cells), "capacity_used": cap})


@register("knapsack", "ortools", "OR-Tools KnapsackSolver (branch and bound, exact)", exact=True)
def ortools(instance: KnapsackInstance, *, time_limit: float | None = None, seed: int = 0) -> SolverOutput:
    """OR-Tools' ``KnapsackSolver`` with its branch-and-bound algorithm.

    Parameters
    ----------
    instance
        The instance.
    time_limit
        Seconds (default :data:`DEFAULT_TIME_LIMIT`).
    seed
        Unused: the method is deterministic.

    Returns
    -------
    SolverOutput
        Status ``"optimal"`` (with the optimum as dual bound) when OR-Tools proves it, else
        ``"feasible"``.
    """
    from ortools.algorithms.python import knapsack_solver

    free, open_ = _split_items(instance)
    chosen = free.tolist()
    optimal = True
    if open_.size:
        solver = knapsack_solver.KnapsackSolver(
            knapsack_solver.SolverType.KNAPSACK_MULTIDIMENSION_BRANCH_AND_BOUND_SOLVER, instance.name
        )
        solver.set_time_limit(_limit(time_limit))
        solver.init(instance.values[open_].tolist(), [instance.weights[open_].tolist()], [instance.capacity])
        solver.solve()
        chosen += [int(j) for k, j in enumerate(open_.tolist()) if solver.best_solution_contains(k)]
        optimal = solver.is_solution_optimal()
    value = _value(instance, chosen)
    return SolverOutput(sorted(chosen), "optimal" if optimal else "feasible",
                        dual_bound=float(value) if optimal else None)


@register("knapsack", "cpsat", "OR-Tools CP-SAT model (exact given time; seeded)", exact=True)
def cpsat(instance: KnapsackInstance, *, time_limit: float | None = None, seed: int = 0,
          workers: int = 1) -> SolverOutput:
    """A CP-SAT model: one Boolean per item, one capacity constraint, maximise the value.

    The greedy solution is given to CP-SAT as a hint.

    Parameters
    ----------
    instance
        The instance.
    time_limit
        Seconds (default :data:`DEFAULT_TIME_LIMIT`).
    seed
        CP-SAT's random seed.
    workers
        CP-SAT search workers (default 1).

    Returns
    -------
    SolverOutput
        Status ``"optimal"`` or ``"feasible"``, with CP-SAT's best bound as dual bound and
        ``wall_time``, ``branches`` and ``conflicts`` in the stats.

    Raises
    ------
    InputError
        If ``workers`` is not a positive integer or CP-SAT rejects the model
        (coefficients too large).
    """
    from ortools.sat.python import cp_model

    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise InputError(f"workers must be a positive integer, got {workers!r}")
    free, open_ = _split_items(instance)
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{j}") for j in open_.tolist()]
    weights = instance.weights[open_].tolist()
    values = instance.values[open_].tolist()
    model.add(cp_model.LinearExpr.weighted_sum(x, weights) <= instance.capacity)
    model.maximize(cp_model.LinearExpr.weighted_sum(x, values))
    hint = set(greedy_solution(instance))
    for var, j in zip(x, open_.tolist()):
        model.add_hint(var, j in hint)
    problem = model.validate()
    if problem:
        raise InputError(f"CP-SAT cannot take instance {instance.name}: {problem}")
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = _limit(time_limit)
    solver.parameters.random_seed = int(seed) % 2**31
    solver.parameters.num_workers = int(workers)
    status = solver.solve(model)
    stats = {"wall_time": solver.wall_time, "branches": solver.num_branches, "conflicts": solver.num_conflicts}
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return SolverOutput(None, "no_solution" if status == cp_model.UNKNOWN else "error",
                            stats={**stats, "cpsat_status": solver.status_name(status)})
    chosen = free.tolist() + [j for var, j in zip(x, open_.tolist()) if solver.boolean_value(var)]
    bound = float(np.floor(solver.best_objective_bound + 1e-6)) + _value(instance, free)
    return SolverOutput(sorted(chosen), "optimal" if status == cp_model.OPTIMAL else "feasible",
                        dual_bound=bound, stats=stats)
