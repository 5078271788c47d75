"""A PySCIPOpt branching rule that branches where a trained policy says, with SCIP's rules as a safety net.

At every node whose LP is solved (``branchexeclp``) the rule extracts the bipartite observation
(:class:`coptim.branching.features.FeatureExtractor`), runs the policy (``torch.inference_mode``) and
branches on the candidate with the highest logit. If anything goes wrong -- the extraction raises,
the observation is malformed, a candidate is not one of SCIP's LP branching candidates, the logits
are not finite, branching raises -- the rule hands the node back to SCIP (``DIDNOTRUN``: the next
rule by priority, ``relpscost`` by default, branches), warns once with a
:class:`LearnedBranchingWarning`, and after ``max_failures`` failures (default 1) stays out of the
way for good. The solve itself never fails because of the policy.

Usage with any ``pyscipopt.Model``::

    from coptim.branching import attach
    rule = attach(model, "setcover-easy")       # a shipped policy name, or a path to a .pt file
    model.optimize()
    rule.stats()                                # calls, branched, fallbacks, ms per call

Threads: the policy runs with the process's torch thread count unless ``threads`` is given, in
which case that count is set around each forward pass and restored after it.
"""

from __future__ import annotations

import contextlib
import functools
import re
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pyscipopt
from pyscipopt import SCIP_RESULT

from coptim.errors import InputError
from coptim.solvers.milp_scip import TOP_PRIORITY

#: Folder of the shipped branching policies: ``learned:NAME`` is ``WEIGHTS_DIR / "NAME.pt"``.
WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "solvers" / "branching"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class LearnedBranchingWarning(RuntimeWarning):
    """The learned rule failed at a node and SCIP's own rules took over."""


class PolicyFailure(RuntimeError):
    """Something in the learned rule went wrong at a node (the node goes back to SCIP)."""


# ----------------------------------------------------------------------------- loading


def shipped_policies() -> list[str]:
    """Names of the policies under :data:`WEIGHTS_DIR`."""
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.pt")) if WEIGHTS_DIR.is_dir() else []


def resolve_policy(name_or_path: str | Path) -> Path:
    """The file of a policy: an existing path, a path-like string (``.pt``, a ``/``), or a shipped NAME.

    Raises
    ------
    InputError
        If the file does not exist or the name is not a shipped policy.
    """
    text = str(name_or_path).strip()
    if not text:
        raise InputError("give a policy name or a .pt file, e.g. learned:setcover-easy")
    path = Path(text).expanduser()
    if isinstance(name_or_path, Path) or path.suffix == ".pt" or "/" in text or path.exists():
        if not path.is_file():
            raise InputError(f"policy file not found: {path}")
        return path
    if not _NAME.match(text):
        raise InputError(f"{text!r} is neither a policy file nor a policy name")
    path = WEIGHTS_DIR / f"{text}.pt"
    if not path.is_file():
        names = ", ".join(shipped_policies()) or "none yet"
        raise InputError(f"no shipped branching policy named {text!r} ({path} is missing); shipped: {names}; "
                         "or give a .pt file from 'coptim branching train'")
    return path


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int, size: int) -> Any:
    from coptim.branching.model import load_file, policy_from_payload

    return policy_from_payload(load_file(path), path)


def load_policy(path_or_name: Any) -> Any:
    """A trained policy (in eval mode) from a shipped name, a ``.pt`` file, or a module (returned as is).

    Loaded with ``torch.load(weights_only=True)`` and checked (format, architecture, finite
    weights); cached per file, so treat the returned module as read-only (``copy.deepcopy`` it to
    train further).

    Raises
    ------
    InputError
        If the file is missing, corrupted or truncated, not a branching policy, or its weights do
        not match its architecture.
    """
    import torch

    if isinstance(path_or_name, torch.nn.Module):
        return path_or_name
    if not isinstance(path_or_name, (str, Path)):
        raise InputError(f"a policy must be a name, a .pt file or a torch module, got {type(path_or_name).__name__}")
    path = resolve_policy(path_or_name).resolve()
    st = path.stat()
    return _load(str(path), st.st_mtime_ns, st.st_size)


# ----------------------------------------------------------------------------- the rule


def _default_extractor(model: Any) -> Any:
    from coptim.branching.features import FeatureExtractor

    return FeatureExtractor(model)


@contextlib.contextmanager
def _torch_threads(threads: int | None):
    import torch

    if threads is None or torch.get_num_threads() == threads:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class LearnedBranching(pyscipopt.Branchrule):
    """The branching rule; make it with :func:`attach`.

    Parameters
    ----------
    policy
        A policy module (``forward(constraint_features, edge_index, edge_attr, variable_features)``
        returning one logit per variable, and a ``cfg`` with the input widths).
    threads
        Torch threads for the forward pass (None: the process's setting).
    max_failures
        Failures after which the rule stops trying (every node then goes to SCIP's rules).
    extractor_factory
        ``factory(model) -> extractor`` (default: :class:`coptim.branching.features.FeatureExtractor`).
    """

    def __init__(self, policy: Any, *, threads: int | None = None, max_failures: int = 1,
                 extractor_factory: Callable[[Any], Any] | None = None):
        self.policy = policy
        self.device = next((p.device for p in policy.parameters()), "cpu") if hasattr(policy, "parameters") else "cpu"
        self.threads = threads
        self.max_failures = max_failures
        self.extractor_factory = extractor_factory or _default_extractor
        self.extractor: Any = None
        self._root: Any = None
        self._run = -1
        self.disabled = False
        self.calls = self.branched = self.fallbacks = self.failures = 0
        self.extract_s = self.inference_s = 0.0
        self.first_error: str | None = None

    # SCIP callbacks ----------------------------------------------------------

    def branchinitsol(self) -> None:
        self.extractor = self._root = None  # a new solve (or a restart): the LP columns are new

    def branchexitsol(self) -> None:
        self.extractor = self._root = None

    def branchexeclp(self, allowaddcons: bool) -> dict[str, Any]:
        if self.disabled:
            self.fallbacks += 1
            return {"result": SCIP_RESULT.DIDNOTRUN}
        self.calls += 1
        try:
            var = self._choose()
            self.model.branchVar(var)
        except Exception as exc:  # anything at all: the node goes back to SCIP
            return self._fail(exc)
        self.branched += 1
        return {"result": SCIP_RESULT.BRANCHED}

    def branchexecps(self, allowaddcons: bool) -> dict[str, Any]:
        return {"result": SCIP_RESULT.DIDNOTRUN}

    def branchexecext(self, allowaddcons: bool) -> dict[str, Any]:
        return {"result": SCIP_RESULT.DIDNOTRUN}

    # the decision -----------------------------------------------------------

    def _choose(self) -> Any:
        import torch

        model = self.model
        t0 = time.perf_counter()
        run = model.getNRuns()
        if self.extractor is None or run != self._run:
            self.extractor, self._run = self.extractor_factory(model), run
            self._root = None  # new LP columns: the hybrid's root embeddings are recomputed
        hybrid = getattr(self.policy, "uses_root", False)  # the GNN at the first node only, then node features
        if hybrid and self._root is not None:
            var, cands = _variable_arrays(self.extractor.observe(model, constraints=False), self.policy.cfg)
            if var.shape[0] != self._root.shape[0]:
                self._root = None  # other LP columns: the root embeddings no longer apply
        if not hybrid or self._root is None:
            cons, edge_index, edge, var, cands = _arrays(self.extractor.observe(model), self.policy.cfg)
        variables = self.extractor.variables()
        if len(variables) != var.shape[0]:
            raise PolicyFailure(f"the extractor gives {len(variables)} variables for {var.shape[0]} feature rows")
        lp_cands, _, _, _, nprio, _ = model.getLPBranchCands()
        allowed = {v.getIndex() for v in lp_cands[:nprio]}
        chosen = [variables[int(i)] for i in cands]
        stray = [v.name for v in chosen if v.getIndex() not in allowed]
        if stray:
            raise PolicyFailure(f"candidate {stray[0]} is not one of SCIP's {nprio} LP branching candidates")
        t1 = time.perf_counter()
        dev = self.device
        with _torch_threads(self.threads), torch.inference_mode():
            if hybrid:
                if self._root is None:
                    self._root = self.policy.root_embeddings(
                        torch.from_numpy(cons).to(dev), torch.from_numpy(edge_index).to(dev),
                        torch.from_numpy(edge).to(dev), torch.from_numpy(var).to(dev))
                index = torch.from_numpy(cands).to(dev)
                scores = self.policy.node_logits(self._root[index], torch.from_numpy(var).to(dev)[index]).cpu()
            else:
                logits = self.policy(torch.from_numpy(cons).to(dev), torch.from_numpy(edge_index).to(dev),
                                     torch.from_numpy(edge).to(dev), torch.from_numpy(var).to(dev))
                scores = logits.reshape(-1)[torch.from_numpy(cands).to(dev)].cpu()
            if scores.numel() != len(cands) or not bool(torch.isfinite(scores).all()):
                raise PolicyFailure("the policy's logits are not finite")
            best = int(torch.argmax(scores))
        t2 = time.perf_counter()
        self.extract_s += t1 - t0
        self.inference_s += t2 - t1
        return chosen[best]

    def _fail(self, exc: BaseException) -> dict[str, Any]:
        self.failures += 1
        self.fallbacks += 1
        self.disabled = self.failures >= self.max_failures
        if self.first_error is None:
            self.first_error = " ".join(f"{type(exc).__name__}: {exc}".split())
            try:
                where = f"at node {self.model.getCurrentNode().getNumber()}"
            except Exception:
                where = "at a node"
            rest = "for the rest of this solve" if self.disabled else "at this node"
            warnings.warn(f"learned branching failed {where} ({self.first_error}); SCIP's own branching rule "
                          f"takes over {rest}", LearnedBranchingWarning, stacklevel=2)
        return {"result": SCIP_RESULT.DIDNOTRUN}

    # reporting --------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counts and mean times of this rule (JSON-ready)."""
        done = max(self.branched, 1)
        return {"learned_calls": self.calls, "learned_branched": self.branched, "learned_fallbacks": self.fallbacks,
                "learned_failures": self.failures,
                "extract_ms_per_node": round(1e3 * self.extract_s / done, 3) if self.branched else None,
                "inference_ms_per_node": round(1e3 * self.inference_s / done, 3) if self.branched else None,
                "learned_error": self.first_error}


def _variable_arrays(obs: Any, cfg: Any) -> tuple[np.ndarray, np.ndarray]:
    """The observation's variable features and candidates in the dtypes the policy takes, checked."""
    var = np.ascontiguousarray(obs.variable_features, dtype=np.float32)
    cands = np.ascontiguousarray(obs.candidates, dtype=np.int64).reshape(-1)
    n = var.shape[0]
    if var.ndim != 2 or var.shape[1] != cfg.n_variable_features:
        raise PolicyFailure(f"variable features have shape {var.shape}, expected (n, {cfg.n_variable_features})")
    if cands.size == 0 or cands.min() < 0 or cands.max() >= n:
        raise PolicyFailure(f"{cands.size} candidates, or a candidate index out of range 0..{n - 1}")
    return var, cands


def _arrays(obs: Any, cfg: Any) -> tuple[np.ndarray, ...]:
    """The observation's arrays in the dtypes and shapes the policy takes, checked."""
    var, cands = _variable_arrays(obs, cfg)
    cons = np.ascontiguousarray(obs.constraint_features, dtype=np.float32)
    edge_index = np.ascontiguousarray(obs.edge_index, dtype=np.int64)
    edge = np.ascontiguousarray(obs.edge_features, dtype=np.float32)
    m, n = cons.shape[0], var.shape[0]
    if cons.ndim != 2 or cons.shape[1] != cfg.n_constraint_features:
        raise PolicyFailure(f"constraint features have shape {cons.shape}, expected (m, {cfg.n_constraint_features})")
    if edge_index.ndim != 2 or edge_index.shape[0] != 2 or edge.shape != (edge_index.shape[1], cfg.n_edge_features):
        raise PolicyFailure(f"edges have shapes {edge_index.shape} and {edge.shape}")
    if edge_index.size and (edge_index.min() < 0 or edge_index[0].max() >= m or edge_index[1].max() >= n):
        raise PolicyFailure("an edge index is out of range")
    return cons, edge_index, edge, var, cands


def attach(model: Any, policy_or_path: Any, *, threads: int | None = None, priority: int = TOP_PRIORITY,
           max_failures: int = 1, extractor_factory: Callable[[Any], Any] | None = None,
           name: str = "coptim-learned") -> LearnedBranching:
    """Include a learned branching rule in an unsolved ``pyscipopt.Model``.

    Parameters
    ----------
    model
        The model, before ``optimize()``.
    policy_or_path
        A shipped policy name (``solvers/branching/NAME.pt``), a ``.pt`` file, or a policy module.
    threads
        Torch threads for each forward pass (None: the process's setting, untouched).
    priority
        Branching priority; the default, SCIP's highest, puts the rule before SCIP's own, which
        stay included and take the nodes the rule hands back.
    max_failures
        Failures after which the rule stops trying (default 1).
    extractor_factory
        Another observation extractor (tests); default :class:`coptim.branching.features.FeatureExtractor`.
    name
        The plugin's name in SCIP.

    Returns
    -------
    LearnedBranching
        The rule (its :meth:`~LearnedBranching.stats` after the solve).

    Raises
    ------
    InputError
        On a bad policy file or name, a policy for another feature layout or feature widths than
        the extractor's, a model already being solved, or bad options.
    """
    policy = load_policy(policy_or_path)
    cfg = getattr(policy, "cfg", None)
    if cfg is None:
        raise InputError("the policy has no configuration (cfg); build it with coptim.branching.model")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise InputError(f"threads must be a positive integer, got {threads!r}")
    if isinstance(max_failures, bool) or not isinstance(max_failures, int) or max_failures < 1:
        raise InputError(f"max_failures must be a positive integer, got {max_failures!r}")
    if extractor_factory is None:
        _check_layout(cfg)
    stage = model.getStage()
    if stage not in (pyscipopt.SCIP_STAGE.INIT, pyscipopt.SCIP_STAGE.PROBLEM):
        raise InputError("attach the learned branching rule before solving the model")
    policy.eval()
    rule = LearnedBranching(policy, threads=threads, max_failures=max_failures, extractor_factory=extractor_factory)
    model.includeBranchrule(rule, name, "branching by a learned policy (coptim)", priority=int(priority),
                            maxdepth=-1, maxbounddist=1.0)
    return rule


def _check_layout(cfg: Any) -> None:
    from coptim.branching import features

    if cfg.feature_layout != features.FEATURE_LAYOUT:
        raise InputError(f"the policy was trained on feature layout {cfg.feature_layout!r} but this coptim "
                         f"extracts {features.FEATURE_LAYOUT!r}; retrain it on samples collected with this version")
    widths = (cfg.n_constraint_features, cfg.n_edge_features, cfg.n_variable_features)
    expected = (features.N_CONSTRAINT_FEATURES, features.N_EDGE_FEATURES, features.N_VARIABLE_FEATURES)
    if widths != expected:
        raise InputError(f"the policy takes feature widths {widths}, the extractor gives {expected}")
