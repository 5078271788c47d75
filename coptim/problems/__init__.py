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
    named_sizes
        Generator name -> ``{"easy": size, ...}``: sizes that may be given by name.
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
    named_sizes: dict[str, dict[str, int]] = field(default_factory=dict)

    def size_of(self, kind: str, size: int | str) -> int:
        """The numeric size of generator ``kind`` for an integer or a size name (``"easy"``).

        Raises
        ------
        InputError
            If the name is not one of the generator's named sizes, or the number is below 1.
        """
        if isinstance(size, str):
            text = size.strip()
            try:
                size = int(text)
            except ValueError:
                names = self.named_sizes.get(kind, {})
                if text.lower() not in names:
                    choices = f"one of {', '.join(names)} or a number" if names else "a number"
                    raise InputError(f"unknown size {text!r} for {self.name} {kind}; use {choices}") from None
                return names[text.lower()]
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise InputError(f"--size must be at least 1, got {size}")
        return int(size)

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


def generate_files(prob: Problem, kind: str, size: int, count: int, seed: int, out: str | Path, *,
                   options: dict[str, Any] | None = None, progress: bool = False,
                   console: Any = None) -> tuple[list[Path], int]:
    """Write instances ``0..count-1`` of a generator into ``out`` (resumable).

    Instance ``i`` is ``<problem>-<kind>-<size>-s<seed>-<i><suffix>``, generated with
    ``numpy.random.default_rng([seed, i])``, so it does not depend on ``count``; files already
    there are kept. Each file is written under a temporary name and renamed.

    Returns
    -------
    (paths, written)
        All ``count`` paths, and how many were written now.
    """
    import os

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = prob.suffixes[0]
    generator = prob.generators[kind]
    paths: list[Path] = []
    written = 0
    indices: Any = range(count)
    if progress:
        from rich.progress import track

        indices = track(indices, description=f"generating {prob.name} {kind}", console=console)
    for i in indices:
        name = f"{prob.name}-{kind}-{size}-s{seed}-{i}"
        path = out / f"{name}{suffix}"
        paths.append(path)
        if path.exists():
            continue  # resumable: instance i with this seed is always the same
        instance = generator(size, np.random.default_rng([seed, i]), name=name, **(options or {}))
        tmp = path.with_name(f".{path.name}.tmp{suffix}")
        prob.write(instance, tmp)
        os.replace(tmp, path)
        written += 1
    return paths, written


def gap_percent(objective: float | None, reference: float | None, sense: str = "min") -> float | None:
    """Relative gap in percent of ``objective`` to ``reference`` (positive means worse)."""
    if objective is None or reference is None or not np.isfinite(reference):
        return None
    denom = abs(reference) if reference != 0 else 1.0
    diff = objective - reference if sense == "min" else reference - objective
    return 100.0 * diff / denom
