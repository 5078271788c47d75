"""CVRP with OR-Tools' routing library: a capacity dimension, a first solution and a metaheuristic.

:func:`solve_ortools` is reusable: it can start from given routes (for instance a learned
policy's) through ``ReadAssignmentFromRoutes``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np

from coptim.errors import InputError
from coptim.problems import cvrp
from coptim.problems.cvrp import CVRPInstance
from coptim.result import SolverOutput
from coptim.solvers import register

#: Default time limit in seconds.
DEFAULT_TIME = 10.0
FIRST_SOLUTIONS = ("path_cheapest_arc", "savings", "parallel_cheapest_insertion", "christofides", "sweep")
METAHEURISTICS = ("guided_local_search", "simulated_annealing", "tabu_search", "greedy_descent")


def fleet_size(instance: CVRPInstance, extra_routes: int = 0) -> int:
    """Number of vehicles to give the routing model.

    The instance's hard fleet limit if it has one. Otherwise a first-fit-decreasing bin
    packing of the demands gives a number of routes that is surely enough; the fleet is
    that plus 20 % (at least 3) slack so that the search can trade routes for length,
    at most one vehicle per customer, and at least ``extra_routes``.

    Parameters
    ----------
    instance
        The instance.
    extra_routes
        A lower bound from elsewhere (the number of routes of a start solution).

    Returns
    -------
    int
    """
    if instance.num_vehicles is not None:
        return instance.num_vehicles
    bins = first_fit_decreasing(instance.demands[1:], instance.capacity)
    return max(min(instance.n, bins + max(3, math.ceil(0.2 * bins))), extra_routes)


def first_fit_decreasing(demands: np.ndarray, capacity: int) -> int:
    """Number of bins first-fit decreasing packs ``demands`` into, each bin ``capacity``."""
    free = np.empty(0, dtype=np.int64)
    for d in np.sort(np.asarray(demands, dtype=np.int64))[::-1]:
        fits = np.flatnonzero(free >= d)
        if fits.size:
            free[fits[0]] -= d
        else:
            free = np.append(free, capacity - d)
    return int(free.size)


def solve_ortools(instance: CVRPInstance, *, time_limit: float | None = None, seed: int = 0,
                  initial_routes: Sequence[Sequence[int]] | None = None,
                  first_solution: str = "path_cheapest_arc",
                  metaheuristic: str = "guided_local_search",
                  num_vehicles: int | None = None, log: bool = False) -> SolverOutput:
    """Solve ``instance`` with OR-Tools routing (distance objective, no vehicle fixed cost).

    Parameters
    ----------
    instance
        The instance.
    time_limit
        Seconds for everything including building the model (default :data:`DEFAULT_TIME`).
    seed
        Recorded only: OR-Tools' routing search has no random seed and is deterministic for
        a given model (a time-limited run still depends on machine speed).
    initial_routes
        Routes (customer indices ``1..n``) to start the search from instead of the first
        solution strategy; they must form a feasible solution.
    first_solution
        One of :data:`FIRST_SOLUTIONS` (used when no ``initial_routes`` are given).
    metaheuristic
        One of :data:`METAHEURISTICS`.
    num_vehicles
        Fleet size of the model; default :func:`fleet_size`. Must not exceed a hard fleet
        limit of the instance.
    log
        Print OR-Tools' search log.

    Returns
    -------
    SolverOutput
        Routes and status ``"time_limit"`` (the metaheuristic ran until the limit),
        ``"feasible"`` or ``"no_solution"``. ``stats`` has the fleet size, the routing
        status and the strategies.

    Raises
    ------
    InputError
        On an unknown strategy, a bad fleet size or infeasible ``initial_routes``.
    """
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    begin = time.perf_counter()
    limit = DEFAULT_TIME if time_limit is None else float(time_limit)
    if first_solution not in FIRST_SOLUTIONS:
        raise InputError(
            f"ortools: unknown first_solution {first_solution!r}; choose one of {', '.join(FIRST_SOLUTIONS)}"
        )
    if metaheuristic not in METAHEURISTICS:
        raise InputError(f"ortools: unknown metaheuristic {metaheuristic!r}; choose one of {', '.join(METAHEURISTICS)}")
    start_routes = None
    if initial_routes is not None:
        verdict = cvrp.check(instance, initial_routes)
        if not verdict.feasible:
            raise InputError("ortools: initial_routes are not a feasible solution: " + "; ".join(verdict.violations))
        start_routes = [[int(c) for c in r] for r in initial_routes if len(r)]
    vehicles = fleet_size(instance, len(start_routes) if start_routes else 0)
    if num_vehicles is not None:
        if isinstance(num_vehicles, bool) or not isinstance(num_vehicles, int) or num_vehicles < 1:
            raise InputError(f"ortools: num_vehicles must be a positive integer, got {num_vehicles!r}")
        if instance.num_vehicles is not None and num_vehicles > instance.num_vehicles:
            raise InputError(
                f"ortools: num_vehicles {num_vehicles} exceeds the instance's fleet of {instance.num_vehicles}"
            )
        if start_routes and num_vehicles < len(start_routes):
            raise InputError(
                f"ortools: num_vehicles {num_vehicles} is fewer than the {len(start_routes)} initial routes"
            )
        vehicles = num_vehicles

    manager = pywrapcp.RoutingIndexManager(instance.n + 1, vehicles, 0)
    routing = pywrapcp.RoutingModel(manager)
    arc = routing.RegisterTransitMatrix(instance.distance_matrix().tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(arc)
    load = routing.RegisterUnaryTransitVector(instance.demands.tolist())
    routing.AddDimensionWithVehicleCapacity(load, 0, [instance.capacity] * vehicles, True, "load")

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, first_solution.upper())
    params.local_search_metaheuristic = getattr(routing_enums_pb2.LocalSearchMetaheuristic, metaheuristic.upper())
    params.log_search = bool(log)
    remaining = max(0.05, limit - (time.perf_counter() - begin))
    params.time_limit.FromMilliseconds(int(remaining * 1000))

    if start_routes:
        routes_idx = [[manager.NodeToIndex(c) for c in r] for r in start_routes]
        assignment = routing.ReadAssignmentFromRoutes(routes_idx, True)
        if assignment is None:
            raise InputError("ortools: OR-Tools rejected initial_routes")
        solution = routing.SolveFromAssignmentWithParameters(assignment, params)
    else:
        solution = routing.SolveWithParameters(params)
    status_code = routing.status()
    status_name = routing_enums_pb2.RoutingSearchStatus.Value.Name(status_code)
    stats = {
        "vehicles": vehicles, "routing_status": status_name, "metaheuristic": metaheuristic,
        "first_solution": "initial_routes" if start_routes else first_solution,
    }
    if solution is None:
        return SolverOutput(None, "no_solution", stats=stats)
    routes = []
    for v in range(vehicles):
        index = solution.Value(routing.NextVar(routing.Start(v)))
        route = []
        while not routing.IsEnd(index):
            route.append(manager.IndexToNode(index))
            index = solution.Value(routing.NextVar(index))
        if route:
            routes.append(route)
    stats["objective"] = solution.ObjectiveValue()
    timed_out = time.perf_counter() - begin >= 0.95 * limit
    return SolverOutput(routes, "time_limit" if timed_out else "feasible", stats=stats)


@register("cvrp", "ortools", "OR-Tools routing: capacity dimension, first solution + guided local search")
def ortools(instance: CVRPInstance, *, time_limit: float | None = None, seed: int = 0,
            first_solution: str = "path_cheapest_arc", metaheuristic: str = "guided_local_search") -> SolverOutput:
    """OR-Tools routing; see :func:`solve_ortools` (default 10 s).

    Parameters
    ----------
    instance
        The instance.
    time_limit
        Seconds (default :data:`DEFAULT_TIME`).
    seed
        Recorded only (OR-Tools routing has no seed).
    first_solution
        One of :data:`FIRST_SOLUTIONS`.
    metaheuristic
        One of :data:`METAHEURISTICS`.

    Returns
    -------
    SolverOutput

    Raises
    ------
    InputError
        On an unknown strategy.
    """
    return solve_ortools(instance, time_limit=time_limit, seed=seed,
                         first_solution=first_solution, metaheuristic=metaheuristic)
