"""Learned constructive solvers (POMO attention policies) registered like every other solver.

``learned-tsp``, ``learned-cvrp`` and ``learned-knapsack`` load a weights file (by default the
shipped one under ``solvers/learned/`` trained on the size nearest the instance's, see
:data:`DEFAULT_WEIGHTS`; any other with ``checkpoint=PATH``, e.g. a training run's ``best.pt``)
and decode with one of the strategies of :mod:`coptim.policies.decoding`.
The answer is the best decoded solution; :func:`coptim.solvers.solve` checks it on the original
instance, so the objective is in the instance's own metric (TSPLIB rounding included).

Refused with an :class:`~coptim.errors.InputError`: a missing, corrupted or truncated weights file,
weights for another problem or architecture, an instance above the policy's node limit,
instances without coordinates. The time limit is not used (decoding takes milliseconds to
seconds); torch runs with the process's thread settings, which this module never changes.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from pathlib import Path
from typing import Any

from coptim.errors import InputError
from coptim.result import SolverOutput
from coptim.solvers import register

WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "solvers" / "learned"
#: Shipped weights per problem, by training size; an instance gets those of the nearest size (by ratio).
DEFAULT_WEIGHTS = {
    "tsp": {20: WEIGHTS_DIR / "tsp20-pomo.pt"},
    "cvrp": {100: WEIGHTS_DIR / "cvrp100-im-pomo.pt"},
    "knapsack": {100: WEIGHTS_DIR / "knapsack100-pomo.pt", 200: WEIGHTS_DIR / "knapsack200-pomo.pt"},
}


def default_weights(problem: str, size: int | None = None) -> Path:
    """The shipped weights file for ``problem`` trained on the size nearest ``size`` (by ratio; ties and
    ``size=None`` go to the smaller training size)."""
    by_size = DEFAULT_WEIGHTS[problem]
    if size is None or size < 1:
        return by_size[min(by_size)]
    return by_size[min(by_size, key=lambda k: (abs(math.log(size / k)), k))]


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int, size: int, problem: str):
    from coptim.training.checkpoint import load_policy

    return load_policy(path, problem)


def load(problem: str, checkpoint: str | None = None, size: int | None = None):
    """The (model, metadata) of ``checkpoint`` or of the shipped weights of ``problem`` nearest ``size`` (cached)."""
    path = weights_path(checkpoint, default_weights(problem, size), f"learned-{problem}",
                        f"coptim train {problem} --method pomo")
    st = path.stat()
    return _load(str(path.resolve()), st.st_mtime_ns, st.st_size, problem)


def load_for(problem: str, instance: Any, checkpoint: str | None = None):
    """``(model, meta, size)`` for decoding ``instance``: its size in the policy's sense and the weights of
    ``checkpoint`` or the shipped ones nearest that size (cached)."""
    from coptim.envs import make

    size = make(problem).size_of(instance) if hasattr(instance, "n") else None
    if size is None:
        raise InputError(f"expected a {problem} instance, got {type(instance).__name__}")
    return (*load(problem, checkpoint, size), size)


def weights_path(checkpoint: str | None, default: Path, solver: str, train_command: str) -> Path:
    """The weights file to load: ``checkpoint`` if given, else the shipped ``default`` (both must exist)."""
    if checkpoint is None:
        if not default.is_file():
            raise InputError(f"no shipped weights for {solver}: {default} is missing; "
                             f"train a policy with '{train_command}' and pass -O checkpoint=PATH")
        return default
    if not isinstance(checkpoint, str) or not checkpoint:
        raise InputError(f"checkpoint must be a file path, got {checkpoint!r}")
    path = Path(checkpoint)
    if not path.is_file():
        raise InputError(f"checkpoint file not found: {path}")
    return path


def _positive(name: str, value: Any, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name} must be a positive integer, got {value!r}")


PRECISIONS = ("fp32", "bf16")


def run(problem: str, instance: Any, *, seed: int, decode: str, starts: int | None, augment: int | None,
        samples: int, beam_width: int, checkpoint: str | None, precision: str = "fp32") -> SolverOutput:
    """Decode one instance with a learned policy (shared by the three registered solvers)."""
    import torch

    from coptim.envs import make
    from coptim.policies.decoding import STRATEGIES
    from coptim.policies.decoding import decode as run_decode

    if decode not in STRATEGIES:
        raise InputError(f"unknown decode {decode!r}; choose one of {', '.join(STRATEGIES)}")
    _positive("starts", starts, allow_none=True)
    _positive("augment", augment, allow_none=True)
    _positive("samples", samples)
    _positive("beam_width", beam_width)
    if precision not in PRECISIONS:
        raise InputError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    env = make(problem)
    model, meta, size = load_for(problem, instance, checkpoint)
    if size > meta["max_nodes"]:
        raise InputError(f"instance {instance.name} has size {size}, above the learned policy's limit of "
                         f"{meta['max_nodes']} (trained on size {meta['size']})")
    start = time.perf_counter()
    data = env.from_instances([instance])
    gen = torch.Generator().manual_seed(int(seed))
    # bf16: autocast (a context, not a process-wide setting); masks and the env's arithmetic stay exact
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()
    with ctx:
        dec = run_decode(model, env, data, decode, starts=starts, augment=augment, samples=samples,
                         beam_width=beam_width, generator=gen)
    solution = dec.solutions(env)[0]
    stats = {"decode": decode, "precision": precision, "policy_size": meta["size"],
             "rollouts": int(dec.rollout.reward.numel()),
             "inference_s": time.perf_counter() - start,
             "checkpoint": Path(checkpoint).name if checkpoint else default_weights(problem, size).name}
    if problem == "cvrp" and instance.num_vehicles is not None:
        routes = [r for r in solution if r]
        if len(routes) > instance.num_vehicles:
            stats["routes"] = len(routes)
            return SolverOutput(None, "no_solution", stats=stats)
    return SolverOutput(solution, "feasible", stats=stats)


@register("tsp", "learned-tsp", "POMO attention policy (learned); decode=greedy|multistart|aug8|sample|beam")
def solve_tsp(instance: Any, *, time_limit: float | None, seed: int, decode: str = "aug8", starts: int | None = None,
              augment: int | None = None, samples: int = 16, beam_width: int = 4,
              checkpoint: str | None = None, precision: str = "fp32") -> SolverOutput:
    """Learned TSP solver; ``decode`` picks the strategy (default aug8: every start x 8 symmetries);
    ``precision="bf16"`` decodes under bf16 autocast (faster on CPUs with bf16 support)."""
    from coptim.problems.tsp import as_instance

    return run("tsp", as_instance(instance), seed=seed, decode=decode, starts=starts, augment=augment,
               samples=samples, beam_width=beam_width, checkpoint=checkpoint,
               precision=precision)


@register("cvrp", "learned-cvrp", "POMO attention policy (learned; shipped weights trained on CVRP100); "
          "decode=greedy|multistart|aug8|sample|beam")
def solve_cvrp(instance: Any, *, time_limit: float | None, seed: int, decode: str = "aug8", starts: int | None = None,
               augment: int | None = None, samples: int = 16, beam_width: int = 4,
               checkpoint: str | None = None, precision: str = "fp32") -> SolverOutput:
    """Learned CVRP solver; see :func:`solve_tsp`."""
    from coptim.problems.cvrp import CVRPInstance

    if not isinstance(instance, CVRPInstance):
        raise InputError(f"expected a CVRP instance, got {type(instance).__name__}")
    return run("cvrp", instance, seed=seed, decode=decode, starts=starts, augment=augment,
               samples=samples, beam_width=beam_width, checkpoint=checkpoint,
               precision=precision)


@register("knapsack", "learned-knapsack", "POMO attention policy (learned; shipped weights for 100 and 200 items, "
          "capacity half the total weight); decode=greedy|multistart|sample|beam")
def solve_knapsack(instance: Any, *, time_limit: float | None, seed: int, decode: str = "multistart",
                   starts: int | None = None, augment: int | None = None, samples: int = 16, beam_width: int = 4,
                   checkpoint: str | None = None, precision: str = "fp32") -> SolverOutput:
    """Learned knapsack solver; no symmetry augmentation (``aug8`` is refused)."""
    from coptim.problems.knapsack import KnapsackInstance

    if not isinstance(instance, KnapsackInstance):
        raise InputError(f"expected a knapsack instance, got {type(instance).__name__}")
    return run("knapsack", instance, seed=seed, decode=decode, starts=starts, augment=augment,
               samples=samples, beam_width=beam_width, checkpoint=checkpoint,
               precision=precision)
