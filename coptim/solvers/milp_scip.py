"""SCIP for MILP instances, with a choice of branching rule.

:func:`build_model` makes a configured but unsolved ``pyscipopt.Model`` so that other code
(a learned branching rule, for instance) can include its own plugins before solving;
:func:`scip` is the registered solver that builds, solves and reports.

Branching: one of SCIP's rules (:data:`BRANCHING_RULES`, given SCIP's highest priority), or
``learned:NAME`` / ``learned:PATH`` for a trained policy (:mod:`coptim.branching.rule`; NAME is a
shipped policy ``solvers/branching/NAME.pt``, PATH a ``.pt`` file). The learned rule gets the highest
priority and SCIP's own rules keep their default priorities, so any node it hands back is branched
by SCIP's default rule (``relpscost``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from coptim.errors import InputError
from coptim.problems.milp import MILPInstance, read_scip_model, to_scip_model
from coptim.result import SolverOutput
from coptim.solvers import register

#: SCIP's branching rules the ``branching`` option accepts (SCIP plugin names).
BRANCHING_RULES = ("relpscost", "pscost", "mostinf", "fullstrong", "random")
#: Prefix of a learned branching rule: ``learned:NAME`` or ``learned:PATH``.
LEARNED_PREFIX = "learned:"
#: SCIP's largest branching priority (INT_MAX / 4); the chosen rule gets it.
TOP_PRIORITY = 536_870_911
#: Gasse et al.'s evaluation settings (also those of sample collection): cuts at the root node only and
#: no restarts, so that every rule, learned or not, branches on the same kind of LP it was built for.
GASSE_PARAMS = {"separating/maxrounds": 0, "presolving/maxrestarts": 0, "estimation/restarts/restartpolicy": "n"}
#: Seconds SCIP may run when the caller gives no time limit.
DEFAULT_TIME_LIMIT = 300.0

_STATUS = {
    "optimal": "optimal",
    "infeasible": "infeasible",
    "unbounded": "unbounded",
    "inforunbd": "inforunbd",
    "timelimit": "time_limit",
    "nodelimit": "node_limit",
    "totalnodelimit": "node_limit",
    "stallnodelimit": "node_limit",
    "gaplimit": "gap_limit",
}


def _options(branching: str, time_limit: float | None, seed: int, node_limit: int | None,
             gap_limit: float | None) -> Any:
    """Check the options; return the learned policy when ``branching`` names one, else None."""
    policy = None
    if isinstance(branching, str) and branching.startswith(LEARNED_PREFIX):
        from coptim.branching.rule import load_policy

        policy = load_policy(branching[len(LEARNED_PREFIX):])
    elif branching not in BRANCHING_RULES:
        raise InputError(f"unknown branching rule {branching!r}; choose one of {', '.join(BRANCHING_RULES)} "
                         f"or learned:NAME|PATH")
    if time_limit is not None and (isinstance(time_limit, bool) or not isinstance(time_limit, (int, float))
                                   or not math.isfinite(time_limit) or time_limit <= 0):
        raise InputError(f"time limit must be a positive number of seconds, got {time_limit!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InputError(f"the seed must be an integer, got {seed!r}")
    if node_limit is not None and (isinstance(node_limit, bool) or not isinstance(node_limit, (int, np.integer))
                                   or node_limit < 1):
        raise InputError(f"node_limit must be a positive integer, got {node_limit!r}")
    if gap_limit is not None and (isinstance(gap_limit, bool) or not isinstance(gap_limit, (int, float))
                                  or not math.isfinite(gap_limit) or gap_limit < 0):
        raise InputError(f"gap_limit must be a non-negative number, got {gap_limit!r}")
    return policy


def _set_params(model: Any, params: dict[str, Any] | None) -> None:
    """Set SCIP parameters by name, checking names, types and ranges (one clear InputError each)."""
    if params is None:
        return
    if not isinstance(params, dict):
        raise InputError("params must map SCIP parameter names to values, e.g. "
                         "-O 'params={\"separating/maxrounds\": 0}'")
    from coptim.problems.milp import captured_output

    for name, value in params.items():
        try:
            current = model.getParam(name)
        except (KeyError, TypeError):
            raise InputError(f"unknown SCIP parameter {name!r}") from None
        kind = type(current)
        ok = (isinstance(value, bool) if kind is bool
              else isinstance(value, int) and not isinstance(value, bool) if kind is int
              else isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float
              else isinstance(value, str))
        if not ok:
            wanted = {bool: "true or false", int: "an integer", float: "a number"}.get(kind, "a string")
            raise InputError(f"SCIP parameter {name} takes {wanted}, got {value!r}")
        with captured_output():
            try:
                model.setParam(name, value)
            except (ValueError, TypeError, OverflowError, LookupError):
                raise InputError(f"SCIP refuses {name} = {value!r} (out of range or not an allowed value)") from None


def build_model(source: MILPInstance | str | Path, *, branching: str = "relpscost",
                time_limit: float | None = None, seed: int = 0, node_limit: int | None = None,
                gap_limit: float | None = None, params: dict[str, Any] | None = None, verbose: bool = False):
    """A configured, unsolved SCIP model for an instance or an MPS/LP file.

    Parameters
    ----------
    source
        A :class:`MILPInstance` (the model is built from its arrays, so it always matches
        the instance) or the path of an MPS/LP file (read by SCIP directly).
    branching
        One of :data:`BRANCHING_RULES` (it gets the highest branching priority), or
        ``learned:NAME`` / ``learned:PATH`` to include a learned rule (see the module docstring).
    time_limit
        Seconds (``limits/time``); None means :data:`DEFAULT_TIME_LIMIT`.
    seed
        Shift of SCIP's random seeds (``randomization/randomseedshift``).
    node_limit
        Maximum number of nodes (``limits/nodes``), or None for no limit.
    gap_limit
        Relative gap at which to stop (``limits/gap``), or None for SCIP's default (0).
    params
        More SCIP parameters by name, set last, e.g. Gasse et al.'s evaluation settings
        :data:`GASSE_PARAMS`.
    verbose
        Show SCIP's log.

    Returns
    -------
    pyscipopt.Model

    Raises
    ------
    InputError
        On an invalid option, an unreadable file, or a bad learned policy.
    """
    return _build(source, branching=branching, time_limit=time_limit, seed=seed, node_limit=node_limit,
                  gap_limit=gap_limit, params=params, verbose=verbose)[0]


def _build(source: MILPInstance | str | Path, *, branching: str, time_limit: float | None, seed: int,
           node_limit: int | None, gap_limit: float | None, params: dict[str, Any] | None,
           verbose: bool) -> tuple[Any, Any]:
    """:func:`build_model`, and the learned rule it included (None for SCIP's rules)."""
    policy = _options(branching, time_limit, seed, node_limit, gap_limit)
    if isinstance(source, MILPInstance):
        model = to_scip_model(source, verbose=verbose)
    else:
        model = read_scip_model(source, verbose=verbose)
    model.setParam("limits/time", float(DEFAULT_TIME_LIMIT if time_limit is None else time_limit))
    model.setParam("randomization/randomseedshift", int(seed) % 2**31)
    rule = None
    if policy is not None:
        from coptim.branching.rule import attach

        rule = attach(model, policy, priority=TOP_PRIORITY)
    else:
        model.setParam(f"branching/{branching}/priority", TOP_PRIORITY)
    if node_limit is not None:
        model.setParam("limits/nodes", int(node_limit))
    if gap_limit is not None:
        model.setParam("limits/gap", float(gap_limit))
    _set_params(model, params)
    return model, rule


def _finite(value: float, infinity: float) -> float | None:
    return None if abs(value) >= infinity or not math.isfinite(value) else float(value)


def solve_model(model) -> SolverOutput:
    """Solve a model from :func:`build_model` and turn SCIP's answer into a :class:`SolverOutput`.

    Parameters
    ----------
    model
        A configured, unsolved ``pyscipopt.Model``.

    Returns
    -------
    SolverOutput
        Status ``optimal``, ``infeasible``, ``unbounded``, ``inforunbd``, ``time_limit``,
        ``node_limit`` or ``gap_limit`` (``error`` for anything else, with SCIP's own word in
        ``stats["scip_status"]``); the best solution as a dict of variable values, if any;
        SCIP's dual bound; and ``nodes``, ``lp_iterations``, ``primal_bound`` and
        ``solving_time`` in the stats.
    """
    model.optimize()
    raw = model.getStatus()
    infinity = model.infinity()
    solution: dict[str, Any] | None = None
    if model.getNSols() > 0:
        best = model.getBestSol()
        solution = {v.name: float(model.getSolVal(best, v)) for v in model.getVars()}
    stats = {
        "nodes": int(model.getNTotalNodes()),
        "lp_iterations": int(model.getNLPIterations()),
        "primal_bound": _finite(model.getPrimalbound(), infinity),
        "solving_time": float(model.getSolvingTime()),
        "scip_status": raw,
    }
    return SolverOutput(solution, _STATUS.get(raw, "error"),
                        dual_bound=_finite(model.getDualbound(), infinity), stats=stats)


@register("milp", "scip", "SCIP branch-and-cut with a selectable branching rule", exact=True)
def scip(instance: MILPInstance, *, time_limit: float | None = None, seed: int = 0,
         branching: str = "relpscost", node_limit: int | None = None, gap_limit: float | None = None,
         params: dict[str, Any] | None = None, verbose: bool = False) -> SolverOutput:
    """Solve a MILP with SCIP.

    Parameters
    ----------
    instance
        The instance.
    time_limit
        Seconds (default :data:`DEFAULT_TIME_LIMIT`).
    seed
        Shift of SCIP's random seeds.
    branching
        One of :data:`BRANCHING_RULES` (default ``"relpscost"``, SCIP's default rule), or
        ``learned:NAME`` / ``learned:PATH`` (a trained policy, see :mod:`coptim.branching.rule`).
    node_limit
        Maximum number of nodes, or None.
    gap_limit
        Relative gap at which to stop, or None.
    params
        More SCIP parameters by name (``-O 'params={"separating/maxrounds": 0}'``).
    verbose
        Show SCIP's log (silenced by default).

    Returns
    -------
    SolverOutput
        See :func:`solve_model`; ``stats["branching"]`` names the rule used. With a learned
        rule the stats also hold its counts (``learned_branched``: nodes it branched,
        ``learned_fallbacks``: nodes handed back to SCIP) and mean milliseconds per node for
        the feature extraction and the policy.

    Raises
    ------
    InputError
        On an invalid option or a bad learned policy (missing, corrupted, another feature layout).
    """
    model, rule = _build(instance, branching=branching, time_limit=time_limit, seed=seed,
                         node_limit=node_limit, gap_limit=gap_limit, params=params, verbose=verbose)
    out = solve_model(model)
    out.stats["branching"] = branching
    if rule is not None:
        out.stats.update(rule.stats())
    return out


def _prepare(*, branching: str = "relpscost", **_: Any) -> None:
    """Load a learned policy (and import torch) before :func:`coptim.solvers.solve` starts its clock."""
    if isinstance(branching, str) and branching.startswith(LEARNED_PREFIX):
        from coptim.branching import features  # noqa: F401  (imported by the rule at the first node)
        from coptim.branching.rule import load_policy

        load_policy(branching[len(LEARNED_PREFIX):])


scip.prepare = _prepare
