"""The one result type shared by every solver and problem."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass
class SolverOutput:
    """What a solver function returns before the problem's checker has seen it.

    Parameters
    ----------
    solution
        The problem's solution object (tour, routes, item list, variable values), or None.
    status
        ``"optimal"``, ``"feasible"``, ``"infeasible"``, ``"unbounded"``, ``"time_limit"``
        (limit hit, solution may exist), ``"no_solution"`` or ``"error"``.
    dual_bound
        A proven bound on the optimum, for exact methods.
    stats
        Solver-specific figures (nodes, iterations, ...), JSON-serialisable.
    """

    solution: Any
    status: str = "feasible"
    dual_bound: float | None = None
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    """The verdict of a problem's checker on one solution."""

    feasible: bool
    objective: float | None
    violations: tuple[str, ...] = ()


@dataclass(frozen=True)
class Result:
    """One solve of one instance by one solver, checked by the problem's checker.

    ``objective`` is always the checker's recomputed value, never the solver's claim.
    """

    problem: str
    instance: str
    solver: str
    objective: float | None
    feasible: bool
    time_s: float
    solution: Any
    status: str
    seed: int
    dual_bound: float | None = None
    gap: float | None = None
    nodes: int | None = None
    violations: tuple[str, ...] = ()
    stats: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (numpy values converted, NaN/inf as None)."""
        return _jsonable(asdict(self))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
