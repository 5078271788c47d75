"""CVRP with PyVRP's hybrid genetic search (HGS), on our integer distance matrix."""

from __future__ import annotations

import time

import numpy as np

from coptim.errors import InputError
from coptim.problems.cvrp import CVRPInstance
from coptim.result import SolverOutput
from coptim.solvers import register

#: Default time limit in seconds.
DEFAULT_TIME = 10.0
#: Largest typical depot distance per unit of demand left unscaled (see :func:`load_scale`).
MAX_DISTANCE_PER_LOAD = 1000.0
#: Largest scaled capacity, so that PyVRP's load penalties cannot overflow int64.
MAX_SCALED_CAPACITY = 10**12


def load_scale(instance: CVRPInstance) -> int:
    """Integer factor by which demands and capacity are multiplied for PyVRP.

    PyVRP penalises excess load per unit, with a bounded penalty. When distances are
    very large against demands (coordinates at a large scale), no allowed penalty makes
    an overload costly and HGS finds no feasible solution. Scaling demands and capacity
    by the same integer changes no route's feasibility, so it is exact. The factor brings
    the mean depot distance per mean positive demand down to :data:`MAX_DISTANCE_PER_LOAD`,
    within :data:`MAX_SCALED_CAPACITY`.
    """
    demands = instance.demands[1:]
    positive = demands[demands > 0]
    if positive.size == 0:
        return 1
    ratio = float(instance.distance_matrix()[0, 1:].mean()) / float(positive.mean())
    factor = int(np.ceil(ratio / MAX_DISTANCE_PER_LOAD))
    return max(1, min(factor, MAX_SCALED_CAPACITY // instance.capacity))


def problem_data(instance: CVRPInstance):
    """The instance as a ``pyvrp.ProblemData``: location 0 is the depot, client ``c - 1``
    is our customer ``c``, one vehicle type with the instance's fleet (or one vehicle per
    customer) and our distance matrix; durations are zero. Demands and capacity are
    multiplied by :func:`load_scale`.

    Parameters
    ----------
    instance
        The instance.

    Returns
    -------
    pyvrp.ProblemData
    """
    import pyvrp

    size = instance.n + 1
    points = instance.coords if instance.coords is not None else np.zeros((size, 2))
    locations = [pyvrp.Location(x=float(x), y=float(y)) for x, y in points]
    scale = load_scale(instance)
    clients = [pyvrp.Client(location=c, delivery=[int(instance.demands[c]) * scale]) for c in range(1, size)]
    fleet = instance.num_vehicles if instance.num_vehicles is not None else instance.n
    vehicle = pyvrp.VehicleType(num_available=fleet, capacity=[instance.capacity * scale])
    distances = np.ascontiguousarray(instance.distance_matrix(), dtype=np.int64)
    durations = np.zeros_like(distances)
    return pyvrp.ProblemData(
        locations=locations, clients=clients, depots=[pyvrp.Depot(location=0)], vehicle_types=[vehicle],
        distance_matrices=[distances], duration_matrices=[durations],
    )


class _Deadline:
    """PyVRP stopping criterion: stop at a ``time.perf_counter()`` value.

    Unlike ``pyvrp.stop.MaxRuntime``, whose clock starts at its first call, this also
    counts PyVRP's set-up (neighbourhoods, initial population) against the time limit.
    """

    def __init__(self, deadline: float):
        self.deadline = deadline

    def __call__(self, best_cost: float) -> bool:
        return time.perf_counter() >= self.deadline


@register("cvrp", "pyvrp", "PyVRP hybrid genetic search (HGS)")
def pyvrp_hgs(instance: CVRPInstance, *, time_limit: float | None = None, seed: int = 0,
              max_iterations: int | None = None) -> SolverOutput:
    """Solve ``instance`` with PyVRP's HGS until the time limit (or an iteration limit, whichever comes first).

    Parameters
    ----------
    instance
        The instance.
    time_limit
        Seconds for everything including building the data (default :data:`DEFAULT_TIME`).
    seed
        PyVRP's random seed (taken modulo 2**32).
    max_iterations
        Stop after this many HGS iterations (reproducible on any machine when the time limit is not
        reached; used for expert data).

    Returns
    -------
    SolverOutput
        The best feasible routes with status ``"time_limit"``, or no solution with status
        ``"no_solution"`` if HGS found no feasible one. ``stats`` has PyVRP's cost and
        iteration count.
    """
    import pyvrp

    if max_iterations is not None and (isinstance(max_iterations, bool) or not isinstance(max_iterations, int)
                                       or max_iterations < 1):
        raise InputError(f"max_iterations must be a positive integer, got {max_iterations!r}")
    begin = time.perf_counter()
    limit = DEFAULT_TIME if time_limit is None else float(time_limit)
    data = problem_data(instance)
    stop = _Deadline(begin + limit)
    if max_iterations is not None:
        from pyvrp.stop import MaxIterations, MultipleCriteria

        stop = MultipleCriteria([stop, MaxIterations(max_iterations)])
    result = pyvrp.solve(data, stop=stop, seed=int(seed) % 2**32,
                         collect_stats=False, display=False)
    stats = {"iterations": int(result.num_iterations), "pyvrp_cost": float(result.cost()),
             "load_scale": load_scale(instance)}
    best = result.best
    if not best.is_feasible():
        return SolverOutput(None, "no_solution", stats=stats)
    routes = []
    for route in best.routes():
        customers = [act.idx + 1 for act in route.schedule() if act.is_client()]
        if customers:
            routes.append(customers)
    return SolverOutput(routes, "time_limit", stats=stats)
