"""One solver registry for every problem, and :func:`solve`, the one way to run a solver.

A solver is a function ``fn(instance, *, time_limit, seed, **options) -> SolverOutput``
registered with :func:`register`. Heavy libraries (OR-Tools, SCIP, torch) are imported
inside the solver functions, so listing solvers stays cheap. A solver function may carry a
``prepare(**options)`` attribute: one-off set-up for those options (importing torch, loading
weights) that :func:`solve` runs before it starts the clock, so ``time_s`` measures the solve.
"""

from __future__ import annotations

import importlib
import inspect
import math
import time
from dataclasses import dataclass
from typing import Any, Callable

from coptim import problems
from coptim.errors import InputError
from coptim.result import Result, SolverOutput

SolverFn = Callable[..., SolverOutput]


@dataclass(frozen=True)
class SolverSpec:
    """A registered solver.

    Parameters
    ----------
    problem
        The problem it solves (``"tsp"``).
    name
        Its name on the command line (``"2opt"``).
    fn
        The solver function.
    description
        One line shown by ``coptim solvers``.
    exact
        True when it proves optimality (given enough time).
    """

    problem: str
    name: str
    fn: SolverFn
    description: str
    exact: bool = False

    @property
    def options(self) -> tuple[str, ...]:
        """Keyword options the solver accepts besides ``time_limit`` and ``seed``."""
        params = inspect.signature(self.fn).parameters
        return tuple(
            p for p, v in params.items()
            if v.kind is inspect.Parameter.KEYWORD_ONLY and p not in ("time_limit", "seed")
        )


_REGISTRY: dict[tuple[str, str], SolverSpec] = {}
_MODULES = (
    "coptim.solvers.tsp_construction",
    "coptim.solvers.tsp_local_search",
    "coptim.solvers.tsp_ortools",
    "coptim.solvers.tsp_lkh",
    "coptim.solvers.tsp_exact",
    "coptim.solvers.cvrp_heuristics",
    "coptim.solvers.cvrp_ortools",
    "coptim.solvers.cvrp_pyvrp",
    "coptim.solvers.knapsack",
    "coptim.solvers.milp_scip",
    "coptim.solvers.learned",
    "coptim.solvers.learned_seeded",
    "coptim.solvers.learned_bq",
)
_loaded = False


def register(problem: str, name: str, description: str, exact: bool = False) -> Callable[[SolverFn], SolverFn]:
    """Decorator that registers ``fn`` as solver ``name`` for ``problem``."""

    def deco(fn: SolverFn) -> SolverFn:
        key = (problem, name)
        if key in _REGISTRY and _REGISTRY[key].fn is not fn:
            raise ValueError(f"solver {name!r} is already registered for {problem!r}")
        _REGISTRY[key] = SolverSpec(problem, name, fn, description, exact)
        return fn

    return deco


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for mod in _MODULES:
            try:
                importlib.import_module(mod)
            except ModuleNotFoundError as exc:  # a solver module not written yet
                if exc.name != mod:
                    raise


def available(problem: str | None = None) -> list[SolverSpec]:
    """Registered solvers, for one problem or all, sorted by problem then name."""
    _load()
    specs = [s for s in _REGISTRY.values() if problem is None or s.problem == problem]
    order = {p: i for i, p in enumerate(problems.names())}
    return sorted(specs, key=lambda s: (order.get(s.problem, 99), s.name))


def get(problem: str, name: str) -> SolverSpec:
    """The solver ``name`` for ``problem``.

    Raises
    ------
    InputError
        If no such solver is registered.
    """
    _load()
    problems.get(problem)
    try:
        return _REGISTRY[(problem, name)]
    except KeyError:
        names = ", ".join(s.name for s in available(problem)) or "none"
        raise InputError(f"unknown solver {name!r} for {problem}; available: {names}") from None


def solve(
    problem: str,
    instance: Any,
    solver: str,
    *,
    time_limit: float | None = None,
    seed: int = 0,
    instance_name: str | None = None,
    **options: Any,
) -> Result:
    """Solve ``instance`` with the registered solver and check the answer.

    Parameters
    ----------
    problem
        Problem name (``"tsp"``, ``"cvrp"``, ``"knapsack"``, ``"milp"``).
    instance
        An instance of that problem, e.g. from ``problems.get(problem).read(path)``.
    solver
        Registered solver name.
    time_limit
        Seconds; None lets the solver use its own default. Must be positive.
    seed
        Random seed passed to the solver.
    instance_name
        Name reported in the result; defaults to ``instance.name``.
    **options
        Solver-specific options (see ``SolverSpec.options``).

    Returns
    -------
    Result
        With the objective recomputed by the problem's checker.

    Raises
    ------
    InputError
        On an unknown solver, an unknown option or a non-positive time limit.
    """
    spec = get(problem, solver)
    prob = problems.get(problem)
    if time_limit is not None and not (isinstance(time_limit, (int, float)) and math.isfinite(time_limit) and time_limit > 0):
        raise InputError(f"time limit must be a positive number of seconds, got {time_limit!r}")
    unknown = set(options) - set(spec.options)
    if unknown:
        allowed = ", ".join(spec.options) or "none"
        raise InputError(f"solver {solver!r} has no option {', '.join(sorted(unknown))}; its options: {allowed}")
    prepare = getattr(spec.fn, "prepare", None)
    if prepare is not None:
        prepare(**options)  # one-off set-up (imports, weights), outside the measured time
    start = time.perf_counter()
    out = spec.fn(instance, time_limit=time_limit, seed=seed, **options)
    elapsed = time.perf_counter() - start
    name = instance_name or getattr(instance, "name", "instance")
    stats = dict(out.stats)
    if out.solution is None:
        return Result(problem, name, solver, None, False, elapsed, None, out.status, seed,
                      dual_bound=out.dual_bound, nodes=stats.pop("nodes", None), stats=stats)
    check = prob.check(instance, out.solution)
    status = out.status if check.feasible else "infeasible_solution"
    gap = None
    if out.dual_bound is not None and check.objective is not None:
        denom = max(abs(check.objective), 1e-10)
        gap = abs(check.objective - out.dual_bound) / denom
    return Result(
        problem, name, solver, check.objective, check.feasible, elapsed, out.solution, status, seed,
        dual_bound=out.dual_bound, gap=gap, nodes=stats.pop("nodes", None),
        violations=check.violations, stats=stats,
    )
