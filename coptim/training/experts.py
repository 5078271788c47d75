"""Expert solutions for imitation learning, made once and cached on disk.

Instance ``i`` of an expert set is drawn from the problem's training generator
(:data:`coptim.training.pomo.VAL_GENERATOR`) with seed ``(seed, i)`` and solved by the problem's
expert (:data:`EXPERTS`: LKH-3 for the TSP, PyVRP's HGS with an iteration limit for the CVRP, exact
dynamic programming for the knapsack) through :func:`coptim.solvers.solve`, so every expert solution
has passed the problem's checker. Instances are solved in shards of :data:`SHARD` by
:func:`coptim.parallel.run` (local processes); each shard is an ``.npz`` file named by its instance
range and written atomically, so a rerun skips the shards that exist. The directory's
``experts.json`` records what the shards hold, and a directory made for other settings is refused.

Arrays per problem (one row per instance):

* ``tsp``: ``coords`` (n, 2) normalised, ``tours`` (n,) node order.
* ``cvrp``: ``coords`` (n+1, 2) normalised, ``demand`` (n+1,), ``capacity``, ``routes`` (2n,): the
  customers of each route in order, a 0 after each route, padded with -1.
* ``knapsack``: ``weight`` (n,), ``value`` (n,), ``capacity``, ``chosen`` (n,) bool.

Every shard also holds the expert ``objectives``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from coptim.errors import InputError

#: Instances per shard.
SHARD = 250
#: The expert solver and its options for each problem (time limit: the solver's default).
EXPERTS: dict[str, tuple[str, dict[str, Any]]] = {
    "tsp": ("lkh", {"runs": 1}),
    "cvrp": ("pyvrp", {"max_iterations": 5000}),
    "knapsack": ("dp", {}),
}
#: Array names of each problem's shards.
KEYS = {"tsp": ("coords", "tours"), "cvrp": ("coords", "demand", "capacity", "routes"),
        "knapsack": ("weight", "value", "capacity", "chosen")}


def _generator(problem: str):
    from coptim import problems
    from coptim.training.pomo import VAL_GENERATOR

    return VAL_GENERATOR[problem], problems.get(problem).generators[VAL_GENERATOR[problem]]


def instance(problem: str, size: int, seed: int, i: int) -> Any:
    """Instance ``i`` of the expert set of ``problem`` and ``size`` with seed ``seed``."""
    _, gen = _generator(problem)
    return gen(size, np.random.default_rng([seed, i]), name=f"expert-{problem}{size}-s{seed}-{i}")


def arrays(problem: str, inst: Any, solution: Any) -> dict[str, np.ndarray]:
    """One instance and its expert solution as the shard arrays of ``problem``."""
    from coptim.envs.routing import normalise_coords

    if problem == "tsp":
        return {"coords": normalise_coords(inst.coords).astype(np.float32),
                "tours": np.asarray(solution, dtype=np.int16)}
    if problem == "cvrp":
        flat = [c for route in solution for c in (*route, 0)]
        routes = np.full(2 * inst.n, -1, dtype=np.int16)
        routes[:len(flat)] = flat
        return {"coords": normalise_coords(inst.coords).astype(np.float32),
                "demand": np.asarray(inst.demands, dtype=np.int32), "capacity": np.int64(inst.capacity),
                "routes": routes}
    chosen = np.zeros(inst.n, dtype=bool)
    chosen[np.asarray(solution, dtype=np.int64)] = True
    return {"weight": np.asarray(inst.weights, dtype=np.int64), "value": np.asarray(inst.values, dtype=np.float64),
            "capacity": np.int64(inst.capacity), "chosen": chosen}


def solve_shard(job: tuple[str, int, int, int, int, str]) -> str:
    """Solve instances ``lo..hi-1`` with the expert and write shard ``path`` (a worker job)."""
    from coptim import solvers

    problem, size, seed, lo, hi, path = job
    solver, options = EXPERTS[problem]
    rows: list[dict[str, np.ndarray]] = []
    objectives = []
    for i in range(lo, hi):
        inst = instance(problem, size, seed, i)
        res = solvers.solve(problem, inst, solver, time_limit=None, seed=0, **options)
        if not res.feasible or res.solution is None:
            raise RuntimeError(f"expert {solver} found no solution for {inst.name}")
        rows.append(arrays(problem, inst, res.solution))
        objectives.append(float(res.objective))
    out = Path(path)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp.npz")
    stacked = {k: np.stack([r[k] for r in rows]) for k in KEYS[problem]}
    np.savez_compressed(tmp, objectives=np.asarray(objectives), **stacked)
    os.replace(tmp, out)
    return str(out)


def shard_path(directory: Path, lo: int, hi: int) -> Path:
    return directory / f"shard-{lo:07d}-{hi:07d}.npz"


def shard_ranges(count: int) -> list[tuple[int, int]]:
    """Instances ``[lo, hi)`` of each shard for ``count`` instances (the last one may be short)."""
    return [(lo, min(lo + SHARD, count)) for lo in range(0, count, SHARD)]


def expert_data(problem: str, size: int, count: int, seed: int, directory: str | Path, *, workers: int = 1,
                on_shard: Callable[[int, int], None] | None = None) -> dict[str, np.ndarray]:
    """Make (or complete) and load ``count`` expert solutions: the arrays of :data:`KEYS` plus ``objectives``.

    ``on_shard(done, total)`` is called as shards finish (progress bars).
    """
    from coptim import parallel

    if problem not in EXPERTS:
        raise InputError(f"no expert for {problem!r}; imitation data exists for {', '.join(EXPERTS)}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    solver, options = EXPERTS[problem]
    meta = {"problem": problem, "size": size, "seed": seed, "solver": solver, "options": options,
            "generator": _generator(problem)[0]}
    meta_path = directory / "experts.json"
    if meta_path.is_file():
        try:
            stored = json.loads(meta_path.read_text())
        except json.JSONDecodeError:
            raise InputError(f"{meta_path} is not valid JSON; remove the directory or choose another") from None
        if stored != meta:
            raise InputError(f"{directory} holds expert data for other settings ({stored}); choose another directory")
    else:
        tmp = meta_path.with_name(".experts.json.tmp")
        tmp.write_text(json.dumps(meta))
        tmp.replace(meta_path)
    ranges = shard_ranges(count)
    jobs = [(problem, size, seed, lo, hi, str(shard_path(directory, lo, hi)))
            for lo, hi in ranges if not shard_path(directory, lo, hi).is_file()]
    done = len(ranges) - len(jobs)
    if on_shard is not None:
        on_shard(done, len(ranges))
    for job, result in parallel.run(solve_shard, jobs, workers=workers):
        if isinstance(result, BaseException):
            raise RuntimeError(f"expert shard {job[-1]} failed: {result}") from result
        done += 1
        if on_shard is not None:
            on_shard(done, len(ranges))
    parts: dict[str, list[np.ndarray]] = {k: [] for k in (*KEYS[problem], "objectives")}
    for lo, hi in ranges:
        path = shard_path(directory, lo, hi)
        try:
            with np.load(path) as z:
                for k in parts:
                    parts[k].append(z[k])
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise InputError(f"expert shard {path} is unreadable ({type(exc).__name__}); "
                             "delete it to solve it again") from None
    data = {k: np.concatenate(v) for k, v in parts.items()}
    n = size + 1 if problem == "cvrp" else size
    first = data[KEYS[problem][0]]
    if first.shape[0] != count or first.shape[1] != n:
        raise InputError(f"expert shards in {directory} do not hold {count} {problem}{size} instances")
    return data
