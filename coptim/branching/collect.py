"""Strong-branching expert samples for imitation learning ("explore then strong-branch").

The scheme of Gasse et al. (2019): SCIP solves an instance branching with pseudocosts
(``pscost``, the exploration policy); at each branching node, with probability
``expert_probability``, a Python branching rule records the node's :class:`Observation`,
computes SCIP's full strong-branching scores of every candidate (the expert), saves the pair
and branches on the expert's choice. Cuts are separated at the root only, there are no
restarts, and each instance has a time limit.

Strong branching is SCIP's own ``vanillafullstrong`` logic, driven from Python (PySCIPOpt 6
does not expose that rule's scores): ``SCIPstartStrongbranch``, then for each candidate
``SCIPgetVarStrongbranchFrac`` with no iteration limit and ``idempotent=True`` (no side
effects on SCIP's state), gains ``max(child bound, LP bound) - LP bound`` and SCIP's branching
score of the two gains (``SCIPgetBranchScoreMultiple``; with the default ``branching/scorefunc``
``p`` it is the product ``max(down gain, eps) * max(up gain, eps)``).

Files. Sample ``k`` of instance ``I`` in episode seed ``s`` is ``<samples>/<I>-s<s>-<k>.npz``
(``np.savez_compressed``), with the arrays of the observation plus ``candidate_scores``,
``action`` (index into ``candidates`` of the expert's best), ``instance``, ``seed`` and
``feature_layout``. Every file is written under a temporary name and renamed, so a killed run
leaves only complete files. When an episode ends, a marker ``<samples>/.done/<I>-s<s>.json``
records it; a rerun skips marked episodes and redoes an unmarked one from its start (SCIP is
deterministic for a given seed, so the same samples are written again under the same names).
At an episode's first branching call its root observation is saved as ``<samples>/../roots/<I>-s<s>.npz``
for the hybrid policy (:mod:`coptim.branching.roots`).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from coptim.bench import write_atomic, write_text_atomic
from coptim.errors import InputError

#: Probability of querying the expert at a node (Gasse et al.: 0.05).
EXPERT_PROBABILITY = 0.05
#: Default time limit per instance (seconds).
TIME_LIMIT = 600.0
DONE_DIR = ".done"
_INT_MAX = 2**31 - 1


# ----------------------------------------------------------------------------- SCIP set-up


def gasse_settings(model: Any, seed: int) -> None:
    """Gasse et al.'s solver settings (on a model from ``build_model``).

    Cuts at the root only (``separating/maxrounds = 0``), no restarts of any kind, and the
    variables permuted with the seed, which also shifts SCIP's random seeds.
    """
    seed = int(seed) % 2**31
    model.setParam("separating/maxrounds", 0)
    model.setParam("presolving/maxrestarts", 0)
    model.setParam("estimation/restarts/restartpolicy", "n")
    model.setParam("randomization/permutevars", True)
    model.setParam("randomization/permutationseed", seed)
    model.setParam("randomization/randomseedshift", seed)


def strong_branching_scores(model: Any, variables: Sequence[Any]) -> np.ndarray | None:
    """SCIP's full strong-branching scores of ``variables`` at the current node.

    Call from ``branchexeclp`` (the node's LP must be solved). The node is left as it was
    (idempotent strong branching: no bound changes, no pseudocost updates).

    Returns
    -------
    numpy.ndarray or None
        One score per variable (float64), or None if an LP error stopped strong branching.
    """
    lp_bound = model.getLPObjVal()
    scores = np.full(len(variables), -np.inf)
    model.startStrongbranch()
    try:
        for i, var in enumerate(variables):
            down, up, _, _, _, _, _, _, lperror = model.getVarStrongbranch(var, _INT_MAX, idempotent=True)
            if lperror:
                return None
            down_gain = max(down, lp_bound) - lp_bound
            up_gain = max(up, lp_bound) - lp_bound
            scores[i] = model.getBranchScoreMultiple(var, [down_gain, up_gain])
    finally:
        model.endStrongbranch()
    return scores


# ----------------------------------------------------------------------------- files


def save_npz_atomic(path: Path, arrays: dict[str, Any]) -> None:
    """``np.savez_compressed`` to ``path`` atomically (a killed run leaves no partial file)."""
    write_atomic(Path(path), lambda f: np.savez_compressed(f, **arrays), binary=True)


def instance_stem(path: str | Path) -> str:
    """The instance name used in sample file names (file name without its MPS/LP suffix)."""
    from coptim.problems.milp import _instance_name

    return _instance_name(Path(path))


def marker_path(samples_dir: str | Path, instance: str | Path, seed: int) -> Path:
    """The done-marker of one episode."""
    return Path(samples_dir) / DONE_DIR / f"{instance_stem(instance)}-s{seed}.json"


def sample_files(folder: str | Path) -> list[Path]:
    """All complete sample files under ``folder`` (recursively), sorted by path.

    Root observations (``roots`` folders beside the sample folders, see :mod:`coptim.branching.roots`)
    are not samples and are left out.
    """
    folder = Path(folder)
    return sorted(p for p in folder.rglob("*.npz") if not p.name.startswith(".")
                  and "roots" not in p.relative_to(folder).parts[:-1])


# ----------------------------------------------------------------------------- one episode


@dataclass(frozen=True)
class CollectJob:
    """One episode: solve ``instance`` once with seed ``seed`` and save expert samples.

    Parameters
    ----------
    instance
        MPS/LP file.
    samples_dir
        Where the sample files and the done marker go.
    seed
        Episode seed (SCIP's seeds and the expert-query coin).
    expert_probability
        Probability of querying the expert at a branching node.
    time_limit
        Seconds for the solve.
    max_samples
        Stop the solve once this many samples are written (None: no cap).
    node_limit
        Node limit of the solve (None: none).
    scip_params
        Further SCIP parameters as ``(name, value)`` pairs, set after Gasse et al.'s settings.
    """

    instance: str
    samples_dir: str
    seed: int = 0
    expert_probability: float = EXPERT_PROBABILITY
    time_limit: float = TIME_LIMIT
    max_samples: int | None = None
    node_limit: int | None = None
    scip_params: tuple[tuple[str, Any], ...] = ()


@dataclass
class CollectResult:
    """What one episode did (also the content of its done marker)."""

    instance: str
    seed: int
    samples: int
    status: str
    nodes: int
    time_s: float
    skipped: bool = False
    expert_time_s: float = 0.0
    new_files: int = 0  # sample files that did not exist before (a redone episode overwrites its own)


def _sampling_rule_class():
    import pyscipopt
    from pyscipopt import SCIP_RESULT

    from coptim.branching.features import FEATURE_LAYOUT, FeatureExtractor

    class SamplingRule(pyscipopt.Branchrule):
        """Records (observation, strong-branching scores) at random nodes and follows the expert there."""

        def __init__(self, job: CollectJob, write: Callable[[dict[str, Any]], None]):
            self.job = job
            self.write = write
            self.rng = np.random.default_rng([int(job.seed), 0x5B])
            self.extractor: FeatureExtractor | None = None
            self.samples = 0
            self.error: BaseException | None = None
            self.expert_time = 0.0
            self.root_done = False

        def branchexeclp(self, allowaddcons):
            try:
                return {"result": self._branch()}
            except BaseException as exc:  # SCIP would swallow it: keep it and stop the solve
                self.error = exc
                self.model.interruptSolve()
                return {"result": SCIP_RESULT.DIDNOTRUN}

        def _branch(self):
            job = self.job
            if not self.root_done:  # the episode's first branching: save its root for the hybrid policy
                self.root_done = True
                from coptim.branching.roots import root_path, save_root

                path = root_path(job.samples_dir, instance_stem(job.instance), job.seed)
                if not path.exists():
                    if self.extractor is None:
                        self.extractor = FeatureExtractor(self.model)
                    save_root(path, self.extractor.observe(self.model), job.instance, job.seed,
                              self.model.getCurrentNode().getNumber())
            if self.rng.random() >= job.expert_probability:
                return SCIP_RESULT.DIDNOTRUN
            if job.max_samples is not None and self.samples >= job.max_samples:
                return SCIP_RESULT.DIDNOTRUN
            model = self.model
            start = time.perf_counter()
            if self.extractor is None:
                self.extractor = FeatureExtractor(model)
            obs = self.extractor.observe(model)
            if obs.candidates.size == 0:
                return SCIP_RESULT.DIDNOTRUN
            variables = self.extractor.variables()
            chosen = [variables[c] for c in obs.candidates.tolist()]
            scores = strong_branching_scores(model, chosen)
            if scores is None:
                return SCIP_RESULT.DIDNOTRUN
            action = int(np.argmax(scores))
            self.write({
                **obs.arrays(),
                "candidate_scores": scores,
                "action": np.int64(action),
                "instance": np.str_(instance_stem(job.instance)),
                "seed": np.int64(job.seed),
                "feature_layout": np.str_(FEATURE_LAYOUT),
            })
            self.samples += 1
            self.expert_time += time.perf_counter() - start
            model.branchVar(chosen[action])
            if job.max_samples is not None and self.samples >= job.max_samples:
                model.interruptSolve()
            return SCIP_RESULT.BRANCHED

    return SamplingRule


def episode_model(instance: str | Path, seed: int, time_limit: float, node_limit: int | None = None,
                  scip_params: Sequence[tuple[str, Any]] = ()) -> Any:
    """The SCIP model of one collection episode, before its sampling rule is included.

    Pseudocost branching (priority just below a rule included at ``TOP_PRIORITY``), Gasse et al.'s
    settings with ``seed``, then ``scip_params``. :mod:`coptim.branching.roots` builds the same
    model, so that an episode's root node is reproduced exactly.
    """
    from coptim.solvers.milp_scip import TOP_PRIORITY, build_model

    model = build_model(instance, branching="pscost", time_limit=time_limit, seed=seed, node_limit=node_limit)
    gasse_settings(model, seed)
    model.setParam("branching/pscost/priority", TOP_PRIORITY - 1)  # explores wherever our rule passes
    for key, value in scip_params:
        model.setParam(key, value)
    return model


def collect_episode(job: CollectJob) -> CollectResult:
    """Run one episode (see :class:`CollectJob`); skip it if its done marker exists.

    Returns
    -------
    CollectResult
        The number of samples written, SCIP's status, nodes and time.

    Raises
    ------
    InputError
        If the instance file is missing or malformed.
    """
    from coptim.solvers.milp_scip import TOP_PRIORITY

    marker = marker_path(job.samples_dir, job.instance, job.seed)
    if marker.exists():
        try:
            return CollectResult(**{**json.loads(marker.read_text(encoding="utf-8")), "skipped": True})
        except (ValueError, TypeError):
            pass  # a damaged marker: redo the episode
    samples_dir = Path(job.samples_dir)
    samples_dir.mkdir(parents=True, exist_ok=True)
    stem = instance_stem(job.instance)
    start = time.perf_counter()
    model = episode_model(job.instance, job.seed, job.time_limit, job.node_limit, job.scip_params)
    counter = iter(range(10**9))
    new_files = 0

    def write(arrays: dict[str, Any]) -> None:
        nonlocal new_files
        path = samples_dir / f"{stem}-s{job.seed}-{next(counter):05d}.npz"
        new_files += not path.exists()
        save_npz_atomic(path, arrays)

    rule = _sampling_rule_class()(job, write)
    model.includeBranchrule(rule, "coptim_sampler", "strong-branching expert samples", TOP_PRIORITY, -1, 1.0)
    model.optimize()
    if rule.error is not None:
        raise rule.error
    from coptim.solvers.milp_scip import _STATUS

    raw = model.getStatus()
    capped = job.max_samples is not None and rule.samples >= job.max_samples
    if raw == "userinterrupt" and not capped:  # SCIP caught Ctrl-C: the episode is not done
        raise KeyboardInterrupt(f"interrupted while collecting from {job.instance}")
    status = "sample_limit" if capped else _STATUS.get(raw, raw)
    result = CollectResult(instance=str(job.instance), seed=int(job.seed), samples=rule.samples, status=status,
                           nodes=int(model.getNTotalNodes()), time_s=time.perf_counter() - start,
                           expert_time_s=rule.expert_time, new_files=new_files)
    rule.extractor = None
    model.freeProb()  # release SCIP's memory now (the model and its Python rule form a reference cycle)
    write_text_atomic(marker, json.dumps(asdict(result)) + "\n")
    return result


# ----------------------------------------------------------------------------- many episodes


def check_scip_params(params: dict[str, Any]) -> None:
    """Refuse unknown SCIP parameters and bad values before any episode runs.

    Raises
    ------
    InputError
        Naming the parameter.
    """
    if not params:
        return
    import pyscipopt

    model = pyscipopt.Model()
    model.hideOutput()
    for key, value in params.items():
        try:
            model.setParam(key, value)
        except KeyError:
            raise InputError(f"SCIP has no parameter {key!r}") from None
        except Exception as exc:
            raise InputError(f"SCIP refuses {key} = {value!r} ({exc})") from None


@dataclass
class CollectSummary:
    """The outcome of :func:`collect`."""

    samples: int  # complete sample files in the folder at the end
    new_samples: int
    episodes: int  # episodes run now
    skipped: int  # episodes already done
    errors: list[str]
    time_s: float

    @property
    def samples_per_minute(self) -> float:
        return 60.0 * self.new_samples / self.time_s if self.time_s > 0 else math.nan


def _check(samples: int, expert_probability: float, time_limit: float, max_passes: int) -> None:
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise InputError(f"the number of samples must be a positive integer, got {samples!r}")
    if not isinstance(expert_probability, (int, float)) or not 0 < expert_probability <= 1:
        raise InputError(f"the expert probability must be in (0, 1], got {expert_probability!r}")
    if not isinstance(time_limit, (int, float)) or not math.isfinite(time_limit) or time_limit <= 0:
        raise InputError(f"the time limit must be a positive number of seconds, got {time_limit!r}")
    if isinstance(max_passes, bool) or not isinstance(max_passes, int) or max_passes < 1:
        raise InputError(f"max_passes must be a positive integer, got {max_passes!r}")


def collect(
    instances: Sequence[str | Path],
    out: str | Path,
    *,
    samples: int,
    seed: int = 0,
    workers: int = 1,
    backend: str = "local",
    address: str | None = None,
    expert_probability: float = EXPERT_PROBABILITY,
    time_limit: float = TIME_LIMIT,
    max_samples_per_episode: int | None = None,
    max_passes: int = 100,
    scip_params: dict[str, Any] | None = None,
    progress: Callable[[CollectResult, int], None] | None = None,
) -> CollectSummary:
    """Collect expert samples into ``out`` until it holds ``samples`` files.

    Episodes go over the instances in order (pass 0 with episode seed ``seed``); if every
    instance has been used and samples are still missing, another pass starts with episode
    seed ``seed + 1`` (new random nodes, permutations and seeds), up to ``max_passes`` passes.
    Runs in parallel with :func:`coptim.parallel.run`; resumable (see the module docstring).

    Parameters
    ----------
    instances
        MPS/LP files.
    out
        Folder for the samples (created).
    samples
        Target number of sample files in ``out``; the last episodes may overshoot it.
    seed
        Episode seed of the first pass.
    workers, backend, address
        See :func:`coptim.parallel.run`.
    expert_probability, time_limit, max_samples_per_episode
        See :class:`CollectJob`.
    max_passes
        At most this many passes over the instances.
    scip_params
        Further SCIP parameters for every episode.
    progress
        Called as ``progress(result, total_samples)`` after each episode.

    Returns
    -------
    CollectSummary

    Raises
    ------
    InputError
        On bad arguments or a missing instance file (checked before any episode runs).
    """
    from coptim import parallel

    _check(samples, expert_probability, time_limit, max_passes)
    parallel.check_args(workers, backend, address)
    check_scip_params(scip_params or {})
    paths = [str(Path(p).resolve()) for p in instances]
    if not paths:
        raise InputError("no instances to collect samples from")
    for p in paths:
        if not Path(p).is_file():
            raise InputError("instance file not found", p)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("the sample folder is a file", out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    before = total = len(sample_files(out))
    episodes = skipped = 0
    errors: list[str] = []
    for p in range(max_passes):
        if total >= samples:
            break
        jobs = [CollectJob(path, str(out), seed + p, float(expert_probability), float(time_limit),
                           max_samples_per_episode, None, tuple(sorted((scip_params or {}).items())))
                for path in paths]
        todo = [job for job in jobs if not marker_path(out, job.instance, job.seed).exists()]
        skipped += len(jobs) - len(todo)
        produced = 0
        for job, result in parallel.run(collect_episode, todo, workers=workers, backend=backend, address=address):
            if isinstance(result, BaseException):
                errors.append(f"{Path(job.instance).name} (seed {job.seed}): {type(result).__name__}: {result}")
                result = CollectResult(job.instance, job.seed, 0, "error", 0, 0.0)
            else:
                episodes += 1
            produced += result.samples
            total += result.new_files
            if progress is not None:
                progress(result, total)
            if total >= samples:
                break
        if todo and produced == 0:
            break  # a whole pass gave nothing (solved at the root, or failing): more passes will not help
    total = len(sample_files(out))
    return CollectSummary(samples=total, new_samples=total - before, episodes=episodes, skipped=skipped,
                          errors=errors, time_s=time.perf_counter() - start)
