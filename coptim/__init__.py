"""coptim: combinatorial optimisation where learning meets classical solvers.

The public names a user needs::

    import coptim
    inst = coptim.read("tsp", "instances/tsp/tsplib/kroA100.tsp")
    result = coptim.solve("tsp", inst, "lkh", time_limit=5, seed=0)

Problem modules (and the solvers' heavy dependencies) are imported on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from coptim.errors import InputError as InputError
from coptim.result import Check as Check
from coptim.result import Result as Result
from coptim.result import SolverOutput as SolverOutput
from coptim.solvers import available as available
from coptim.solvers import register as register
from coptim.solvers import solve as solve

__version__ = "0.1.0"


def read(problem: str, path: str | Path) -> Any:
    """Read an instance file of ``problem`` (``"tsp"``, ``"cvrp"``, ``"knapsack"``, ``"milp"``).

    Raises
    ------
    InputError
        If the problem is unknown or the file is malformed.
    """
    from coptim import problems

    return problems.get(problem).read(path)


__all__ = ["Check", "InputError", "Result", "SolverOutput", "available", "read", "register", "solve"]
