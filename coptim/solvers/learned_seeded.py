"""Learned policies as heuristics inside classical search: a decoded solution seeds the search.

- ``learned-ortools`` (TSP, CVRP): the policy's tour or routes become OR-Tools routing's initial
  assignment (``ReadAssignmentFromRoutes``), then guided local search runs for what is left of
  the time limit after decoding.
- ``learned-ls`` (TSP): the policy's tour, then 2-opt and Or-opt alternated with neighbour lists
  (:func:`coptim.solvers.tsp_local_search.local_search`) to a local optimum or the time limit.
- ``learned-ls`` (CVRP): the policy's routes, then 2-opt inside every route.

Decoding counts against the time limit: if it alone uses up the limit, the decoded solution is
returned with status ``"time_limit"``. Loading the policy (once per process, then cached) does
not: the clock starts after it, as a deployed solver loads its model once (``stats["load_s"]``).
Decoding is greedy by default (one rollout, a seed in milliseconds; ``-O decode=multistart``
spends more of the budget on a better seed); the weights and decoding options are those of the
``learned-*`` solvers (:mod:`coptim.solvers.learned`), or with ``-O policy=bq`` (TSP) those of
``learned-tsp-bq`` (:mod:`coptim.solvers.learned_bq`). ``stats`` reports the decoded objective
(``learned_objective``) and the decoding time (``inference_s``) next to the search's own
figures. If a CVRP policy's routes break a hard fleet limit, OR-Tools starts from its own first
solution instead (``stats["seeded"] = False``) and ``learned-ls`` reports no solution.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from coptim import problems
from coptim.errors import InputError
from coptim.result import SolverOutput
from coptim.solvers import learned, register

#: The policies that can seed the search: the POMO attention policies of ``learned-*``, or (TSP) ``learned-tsp-bq``.
POLICIES = ("pomo", "bq")
#: Time limit (seconds) when none is given, as for the unseeded OR-Tools solvers.
DEFAULT_TIME_LIMIT = 10.0


def _decode(problem: str, instance: Any, policy: str = "pomo", **options: Any) -> tuple[SolverOutput, float]:
    """Load the policy (cached), start the clock, decode; returns the output and the clock's start.

    ``policy="bq"`` (TSP only) decodes with ``learned-tsp-bq`` instead of the POMO policy; its options are
    ``decode``, ``starts``, ``beam_width`` and ``checkpoint``."""
    if policy not in POLICIES:
        raise InputError(f"unknown policy {policy!r}; choose one of {', '.join(POLICIES)}")
    begin = time.perf_counter()
    if policy == "bq":
        from coptim.solvers import learned_bq

        learned_bq.load(options["checkpoint"])
        run = functools.partial(learned_bq.solve, time_limit=None,
                                **{k: options[k] for k in ("seed", "decode", "starts", "beam_width", "checkpoint")})
    else:
        learned.load_for(problem, instance, options["checkpoint"])
        run = functools.partial(learned.run, problem, **options)
    load_s = time.perf_counter() - begin
    begin = time.perf_counter()
    first = run(instance)
    first.stats["load_s"] = load_s
    first.stats["policy"] = policy
    if first.solution is not None:  # the seed's objective as the problem's checker reports it
        first.stats["learned_objective"] = problems.get(problem).check(instance, first.solution).objective
    return first, begin


def _remaining(time_limit: float | None, begin: float, default: float | None) -> float | None:
    limit = default if time_limit is None else float(time_limit)
    return None if limit is None else limit - (time.perf_counter() - begin)


def _merge(first: SolverOutput, second: SolverOutput, begin: float) -> SolverOutput:
    stats = {**first.stats, **second.stats}
    stats["total_s"] = time.perf_counter() - begin
    return SolverOutput(second.solution, second.status, stats=stats)


@register("tsp", "learned-ortools", "learned tour (learned-tsp options) as OR-Tools' initial assignment, then "
          "guided local search for the rest of the time limit")
def tsp_ortools(instance: Any, *, time_limit: float | None, seed: int, decode: str = "greedy",
                starts: int | None = None, augment: int | None = None, samples: int = 16, beam_width: int = 4,
                checkpoint: str | None = None, precision: str = "fp32",
                metaheuristic: str = "GUIDED_LOCAL_SEARCH", policy: str = "pomo") -> SolverOutput:
    """Learned TSP tour, then OR-Tools from it (default 10 s in all, decoding included)."""
    from coptim.problems.tsp import as_instance
    from coptim.solvers.tsp_ortools import solve_ortools

    inst = as_instance(instance)
    first, begin = _decode("tsp", inst, policy, seed=seed, decode=decode, starts=starts, augment=augment,
                           samples=samples, beam_width=beam_width, checkpoint=checkpoint, precision=precision)
    left = _remaining(time_limit, begin, DEFAULT_TIME_LIMIT)
    if left <= 0.01:
        return SolverOutput(first.solution, "time_limit", stats=first.stats)
    second = solve_ortools(inst.distance_matrix(), time_limit=left, seed=seed, initial_tour=first.solution,
                           metaheuristic=metaheuristic)
    return _merge(first, second, begin)


@register("tsp", "learned-ls", "learned tour (learned-tsp options), then 2-opt and Or-opt to a local optimum")
def tsp_local_search(instance: Any, *, time_limit: float | None, seed: int, decode: str = "greedy",
                     starts: int | None = None, augment: int | None = None, samples: int = 16,
                     beam_width: int = 4, checkpoint: str | None = None, precision: str = "fp32",
                     neighbours: int = 10, policy: str = "pomo") -> SolverOutput:
    """Learned TSP tour improved by :func:`~coptim.solvers.tsp_local_search.local_search`, to a local
    optimum or until the time limit (no limit by default)."""
    from coptim.problems.tsp import as_instance
    from coptim.solvers.tsp_local_search import local_search

    inst = as_instance(instance)
    first, begin = _decode("tsp", inst, policy, seed=seed, decode=decode, starts=starts, augment=augment,
                           samples=samples, beam_width=beam_width, checkpoint=checkpoint, precision=precision)
    left = _remaining(time_limit, begin, None)
    if left is not None and left <= 0.0:
        return SolverOutput(first.solution, "time_limit", stats=first.stats)
    ls_begin = time.perf_counter()
    tour = local_search(first.solution, inst.distance_matrix(), left, neighbours=neighbours)
    stats = dict(first.stats, ls_s=time.perf_counter() - ls_begin, total_s=time.perf_counter() - begin)
    timed_out = left is not None and time.perf_counter() - begin >= float(time_limit)
    return SolverOutput([int(i) for i in tour], "time_limit" if timed_out else "feasible", stats=stats)


def _cvrp_first(instance: Any, **options: Any) -> tuple[SolverOutput, float]:
    from coptim.problems.cvrp import CVRPInstance

    if not isinstance(instance, CVRPInstance):
        raise InputError(f"expected a CVRP instance, got {type(instance).__name__}")
    return _decode("cvrp", instance, **options)


@register("cvrp", "learned-ortools", "learned routes (learned-cvrp options) as OR-Tools' initial assignment, then "
          "guided local search for the rest of the time limit")
def cvrp_ortools(instance: Any, *, time_limit: float | None, seed: int, decode: str = "greedy",
                 starts: int | None = None, augment: int | None = None, samples: int = 16, beam_width: int = 4,
                 checkpoint: str | None = None, precision: str = "fp32",
                 metaheuristic: str = "guided_local_search") -> SolverOutput:
    """Learned CVRP routes, then OR-Tools from them (default 10 s in all, decoding included)."""
    from coptim.solvers.cvrp_ortools import DEFAULT_TIME, solve_ortools

    first, begin = _cvrp_first(instance, seed=seed, decode=decode, starts=starts, augment=augment,
                               samples=samples, beam_width=beam_width, checkpoint=checkpoint, precision=precision)
    left = _remaining(time_limit, begin, DEFAULT_TIME)
    if left <= 0.01:
        return SolverOutput(first.solution, "time_limit" if first.solution is not None else "no_solution",
                            stats=first.stats)
    seeded = first.solution is not None
    second = solve_ortools(instance, time_limit=left, seed=seed, metaheuristic=metaheuristic,
                           initial_routes=first.solution if seeded else None)
    out = _merge(first, second, begin)
    out.stats["seeded"] = seeded
    return out


@register("cvrp", "learned-ls", "learned routes (learned-cvrp options), then 2-opt inside every route")
def cvrp_local_search(instance: Any, *, time_limit: float | None, seed: int, decode: str = "greedy",
                      starts: int | None = None, augment: int | None = None, samples: int = 16,
                      beam_width: int = 4, checkpoint: str | None = None,
                      precision: str = "fp32") -> SolverOutput:
    """Learned CVRP routes, each improved by :func:`~coptim.solvers.cvrp_heuristics.two_opt_route`
    (fast; the time limit is not used)."""
    from coptim.solvers.cvrp_heuristics import two_opt_route

    first, begin = _cvrp_first(instance, seed=seed, decode=decode, starts=starts, augment=augment,
                               samples=samples, beam_width=beam_width, checkpoint=checkpoint, precision=precision)
    if first.solution is None:
        return first
    dist = instance.distance_matrix()
    routes = [two_opt_route(list(r), dist) for r in first.solution]
    stats = dict(first.stats, total_s=time.perf_counter() - begin)
    return SolverOutput(routes, "feasible", stats=stats)
