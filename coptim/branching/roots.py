"""Root-node observations of collection episodes, for the hybrid policy (Gupta et al. 2020).

The hybrid policy (:class:`coptim.branching.model.HybridPolicy`) runs its GNN once, on the root
node's bipartite graph, and a small MLP at every node. To train it, each expert sample needs the
root observation of its episode. The collection saves it at each episode's first branching call;
for samples collected without it, SCIP's determinism for a given seed and settings lets
:func:`write_roots` reproduce it exactly, by building the episode's model again
(:func:`coptim.branching.collect.episode_model`) and stopping at its first branching call.

Files: the root of episode ``(instance I, seed s)`` of a sample folder ``.../samples`` is
``.../roots/I-s<s>.npz`` (the observation's arrays plus ``instance``, ``seed``, ``node`` and
``feature_layout``), written atomically. :func:`write_roots` goes over the done markers of the
sample folder and computes only the missing roots, so it is resumable and can follow a
collection that is still running.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from coptim.errors import InputError


def roots_dir(samples_dir: str | Path) -> Path:
    """The root-observation folder of a sample folder: its sibling ``roots``."""
    return Path(samples_dir).resolve().parent / "roots"


def root_path(samples_dir: str | Path, instance_stem: str, seed: int) -> Path:
    """The root-observation file of episode ``(instance_stem, seed)`` of a sample folder."""
    return roots_dir(samples_dir) / f"{instance_stem}-s{int(seed)}.npz"


@dataclass(frozen=True)
class RootJob:
    """Reproduce the root of one episode: ``instance`` solved with ``seed`` until its first branching."""

    instance: str
    seed: int
    out: str
    time_limit: float = 600.0
    scip_params: tuple[tuple[str, Any], ...] = ()


def root_observation(instance: str | Path, seed: int, time_limit: float = 600.0,
                     scip_params: Sequence[tuple[str, Any]] = ()) -> Any:
    """The observation at the first branching node of a collection episode, or None if it never branches.

    Raises
    ------
    InputError
        If the instance file is missing or malformed.
    """
    import pyscipopt
    from pyscipopt import SCIP_RESULT

    from coptim.branching.collect import episode_model
    from coptim.branching.features import FeatureExtractor
    from coptim.solvers.milp_scip import TOP_PRIORITY

    found: dict[str, Any] = {}

    class FirstNode(pyscipopt.Branchrule):
        def branchexeclp(self, allowaddcons):
            try:
                found["obs"] = FeatureExtractor(self.model).observe(self.model)
                found["node"] = self.model.getCurrentNode().getNumber()
            except BaseException as exc:  # SCIP would swallow it
                found["error"] = exc
            self.model.interruptSolve()
            return {"result": SCIP_RESULT.DIDNOTRUN}

    model = episode_model(instance, seed, time_limit, None, scip_params)
    model.includeBranchrule(FirstNode(), "coptim_root", "root observation", TOP_PRIORITY, -1, 1.0)
    model.optimize()
    model.freeProb()
    if "error" in found:
        raise found["error"]
    if "obs" not in found:
        return None
    found["obs"].node = found["node"]
    return found["obs"]


def save_root(path: str | Path, obs: Any, instance: str | Path, seed: int, node: int) -> None:
    """Write a root observation file atomically (also called by the collection at an episode's first branching)."""
    from coptim.branching.collect import instance_stem, save_npz_atomic
    from coptim.branching.features import FEATURE_LAYOUT

    save_npz_atomic(Path(path), {**obs.arrays(), "instance": np.str_(instance_stem(instance)),
                                 "seed": np.int64(seed), "node": np.int64(node),
                                 "feature_layout": np.str_(FEATURE_LAYOUT)})


def compute_root(job: RootJob) -> str:
    """Write the root file of one episode (skipped if it exists); returns ``written``, ``exists`` or ``no_branching``."""
    from coptim.branching.collect import instance_stem

    path = Path(job.out) / f"{instance_stem(job.instance)}-s{job.seed}.npz"
    if path.exists():
        return "exists"
    obs = root_observation(job.instance, job.seed, job.time_limit, job.scip_params)
    if obs is None:
        return "no_branching"
    save_root(path, obs, job.instance, job.seed, obs.node)
    return "written"


def episodes_with_samples(samples_dir: str | Path) -> list[tuple[str, int]]:
    """``(instance file, seed)`` of every finished episode of a sample folder that wrote samples."""
    from coptim.branching.collect import DONE_DIR

    done = Path(samples_dir) / DONE_DIR
    out = []
    for marker in sorted(done.glob("*.json")) if done.is_dir() else []:
        try:
            info = json.loads(marker.read_text(encoding="utf-8"))
            if int(info.get("samples", 0)) > 0:
                out.append((str(info["instance"]), int(info["seed"])))
        except (ValueError, KeyError, TypeError):
            continue  # a damaged marker: its episode will be redone by the collection
    return out


def write_roots(samples_dir: str | Path, *, workers: int = 1, time_limit: float = 600.0,
                scip_params: dict[str, Any] | None = None,
                progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Compute the missing root observations of the episodes of a sample folder.

    Parameters
    ----------
    samples_dir
        A folder written by :func:`coptim.branching.collect.collect`.
    workers
        Parallel processes (:func:`coptim.parallel.run`).
    scip_params
        The extra SCIP parameters the samples were collected with (None: none).
    progress
        ``progress(done, total)`` after each episode.

    Returns
    -------
    dict
        ``episodes``, ``written``, ``existing``, ``no_branching`` and ``errors`` (messages).
    """
    from coptim import parallel
    from coptim.branching.collect import instance_stem

    samples_dir = Path(samples_dir)
    if not samples_dir.is_dir():
        raise InputError("sample folder not found", samples_dir)
    episodes = episodes_with_samples(samples_dir)
    if not episodes:
        raise InputError("no finished collection episodes with samples in this folder", samples_dir)
    out = roots_dir(samples_dir)
    params = tuple(sorted((scip_params or {}).items()))
    jobs = [RootJob(inst, seed, str(out), float(time_limit), params) for inst, seed in episodes]
    counts = {"written": 0, "exists": 0, "no_branching": 0}
    errors: list[str] = []
    todo = [job for job in jobs if not (out / f"{instance_stem(job.instance)}-s{job.seed}.npz").exists()]
    counts["exists"] = len(jobs) - len(todo)
    for i, (job, result) in enumerate(parallel.run(compute_root, todo, workers=workers), start=1):
        if isinstance(result, BaseException):
            errors.append(f"{Path(job.instance).name} (seed {job.seed}): {type(result).__name__}: {result}")
        else:
            counts[result] += 1
        if progress is not None:
            progress(i, len(todo))
    return {"episodes": len(jobs), "written": counts["written"], "existing": counts["exists"],
            "no_branching": counts["no_branching"], "errors": errors, "roots": str(out)}


def load_root(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of a root file (checked for the current feature layout).

    Raises
    ------
    InputError
        If the file cannot be read or has another feature layout.
    """
    from coptim.branching.features import FEATURE_LAYOUT

    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {key: f[key] for key in f.files}
    except Exception as exc:
        raise InputError(f"cannot read this root observation ({type(exc).__name__}: {exc})", path) from None
    layout = str(arrays.get("feature_layout", "unknown"))
    if layout != FEATURE_LAYOUT:
        raise InputError(f"the root observation has feature layout {layout!r}, not {FEATURE_LAYOUT!r}", path)
    return arrays
