"""Problems: instance types, readers and writers, generators and checkers.

Each problem module (``tsp``, ``cvrp``, ``knapsack``, ``milp``) defines a module-level
``PROBLEM`` of type :class:`Problem`. Modules are imported on first use so that
``coptim --help`` stays fast.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from coptim.errors import InputError
from coptim.result import Check


@dataclass(frozen=True)
class Problem:
    """Everything the CLI, the solver registry and the benchmark need to know about a problem.

    Parameters
    ----------
    name
        Short name used on the command line (``"tsp"``).
    suffixes
        File suffixes of the instance format, first one used when writing (``(".tsp",)``).
    read
        ``read(path) -> instance``; raises :class:`~coptim.errors.InputError` on bad input.
    write
        ``write(instance, path)``.
    check
        ``check(instance, solution) -> Check``; needs no solver.
    generators
        Name -> ``generate(size, rng, *, name=None, **options) -> instance``.
    write_solution
        ``write_solution(instance, solution, path, objective)`` in the standard solution format.
    solution_to_json
        Converts a solution to plain lists/dicts for JSON output.
    sense
        ``"min"`` or ``"max"``; the gap to a reference value follows it.
    """

    name: str
    suffixes: tuple[str, ...]
    read: Callable[[str | Path], Any]
    write: Callable[[Any, str | Path], None]
    check: Callable[[Any, Any], Check]
    generators: dict[str, Callable[..., Any]] = field(default_factory=dict)
    write_solution: Callable[..., None] | None = None
    solution_to_json: Callable[[Any], Any] = lambda s: s
    sense: str = "min"

    def sense_of(self, instance: Any) -> str:
        """``"min"`` or ``"max"`` for this instance (MILP instances carry their own sense)."""
        own = str(getattr(instance, "sense", "")).lower()
        if own.startswith("max"):
            return "max"
        if own.startswith("min"):
            return "min"
        return self.sense


_MODULES = {
    "tsp": "coptim.problems.tsp",
    "cvrp": "coptim.problems.cvrp",
    "knapsack": "coptim.problems.knapsack",
    "milp": "coptim.problems.milp",
}


def names() -> list[str]:
    """Names of all problems, in a fixed order."""
    return list(_MODULES)


def get(name: str) -> Problem:
    """The :class:`Problem` called ``name``.

    Raises
    ------
    InputError
        If there is no such problem.
    """
    if name not in _MODULES:
        raise InputError(f"unknown problem {name!r}; choose one of {', '.join(_MODULES)}")
    return importlib.import_module(_MODULES[name]).PROBLEM


def gap_percent(objective: float | None, reference: float | None, sense: str = "min") -> float | None:
    """Relative gap in percent of ``objective`` to ``reference`` (positive means worse)."""
    if objective is None or reference is None or not np.isfinite(reference):
        return None
    denom = abs(reference) if reference != 0 else 1.0
    diff = objective - reference if sense == "min" else reference - objective
    return 100.0 * diff / denom
