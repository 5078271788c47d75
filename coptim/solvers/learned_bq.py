"""``learned-tsp-bq``: the BQ decoder-only policy (:mod:`coptim.policies.bq`) as a TSP solver.

Loads a weights file (the shipped one under ``solvers/learned/`` when there is one, any other with
``checkpoint=PATH``, e.g. an imitation run's ``best.pt``; always ``weights_only=True``) and
decodes: ``decode=greedy`` (one start), ``multistart`` (``starts`` spread starts, default 16),
``aug8`` (``starts`` starts, default 1, on the 8 symmetric copies) or ``beam`` (beam search of
``beam_width`` tours, default 16, from ``starts`` starts, default 1); the shortest tour is kept. ``knn``
restricts each step to the ``knn`` remaining nodes nearest to the current one; by default the
value stored with the policy is used (none: the full sub-problem, refused above 1,000 nodes).
The tour is checked by :func:`coptim.solvers.solve` on the original instance. Loading is done
by ``prepare``, outside the measured time; the time limit is not used. Torch runs with the
process's thread settings, which this module never changes.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

from coptim.errors import InputError
from coptim.result import SolverOutput
from coptim.solvers import register
from coptim.solvers.learned import WEIGHTS_DIR, weights_path

DEFAULT_WEIGHTS = WEIGHTS_DIR / "tsp100-bq.pt"
DECODES = ("greedy", "multistart", "aug8", "beam")


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int, size: int):
    from coptim.policies import bq

    return bq.load(path)


def load(checkpoint: str | None = None):
    """The (model, metadata) of ``checkpoint`` or of the shipped BQ weights (cached)."""
    path = weights_path(checkpoint, DEFAULT_WEIGHTS, "learned-tsp-bq", "coptim train tsp --method imitation")
    st = path.stat()
    return _load(str(path.resolve()), st.st_mtime_ns, st.st_size)


@register("tsp", "learned-tsp-bq", "BQ decoder-only policy (imitation of LKH, kNN for large instances); "
          "decode=greedy|multistart|aug8|beam")
def solve(instance: Any, *, time_limit: float | None, seed: int, decode: str = "greedy", starts: int | None = None,
          beam_width: int = 16, knn: int | None = None, checkpoint: str | None = None) -> SolverOutput:
    """Decode one TSP instance with the BQ policy; see the module docstring."""
    import numpy as np
    import torch

    from coptim.envs.routing import normalise_coords
    from coptim.policies import bq
    from coptim.problems.tsp import as_instance

    if decode not in DECODES:
        raise InputError(f"unknown decode {decode!r}; choose one of {', '.join(DECODES)}")
    instance = as_instance(instance)
    if instance.coords is None:
        raise InputError(f"instance {instance.name} has no coordinates; the BQ policy needs them")
    model, meta = load(checkpoint)
    n = int(instance.n)
    if knn is None:
        knn = meta.get("knn")
    if starts is None:
        starts = 16 if decode == "multistart" else 1
    starts = min(starts, n) if isinstance(starts, int) and not isinstance(starts, bool) and starts >= 1 else starts
    start = time.perf_counter()
    if n <= 3:  # every tour of 3 nodes has the same length
        tour = list(range(n))
    else:
        coords = torch.as_tensor(normalise_coords(instance.coords)[None], dtype=torch.float32)
        tour = bq.decode(model, coords, starts=starts, augment=8 if decode == "aug8" else 1,
                         beam_width=beam_width if decode == "beam" else 1, knn=knn)[0].tolist()
    stats = {"decode": decode, "starts": starts, "beam_width": beam_width if decode == "beam" else 1, "knn": knn,
             "policy_size": meta["size"],
             "inference_s": time.perf_counter() - start,
             "checkpoint": Path(checkpoint).name if checkpoint else DEFAULT_WEIGHTS.name}
    return SolverOutput([int(i) for i in np.asarray(tour)], "feasible", stats=stats)


def _prepare(*, checkpoint: str | None = None, **_: Any) -> None:
    load(checkpoint)


solve.prepare = _prepare  # type: ignore[attr-defined]
