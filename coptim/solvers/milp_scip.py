"""SCIP for MILP instances, with a choice of branching rule.

:func:`build_model` makes a configured but unsolved ``pyscipopt.Model`` so that other code
(a learned branching rule, for instance) can include its own plugins before solving;
:func:`scip` is the registered solver that builds, solves and reports.
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

#: Branching rules the ``branching`` option accepts (SCIP plugin names).
BRANCHING_RULES = ("relpscost", "pscost", "mostinf", "fullstrong", "random")
#: SCIP's largest branching priority (INT_MAX / 4); the chosen rule gets it.
TOP_PRIORITY = 536_870_911
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
             gap_limit: float | None) -> None:
    if branching not in BRANCHING_RULES:
        raise InputError(f"unknown branching rule {branching!r}; choose one of {', '.join(BRANCHING_RULES)}")
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


def build_model(source: MILPInstance | str | Path, *, branching: str = "relpscost",
                time_limit: float | None = None, seed: int = 0, node_limit: int | None = None,
                gap_limit: float | None = None, verbose: bool = False):
    """A configured, unsolved SCIP model for an instance or an MPS/LP file.

    Parameters
    ----------
    source
        A :class:`MILPInstance` (the model is built from its arrays, so it always matches
        the instance) or the path of an MPS/LP file (read by SCIP directly).
    branching
        One of :data:`BRANCHING_RULES`; it gets the highest branching priority.
    time_limit
        Seconds (``limits/time``); None means :data:`DEFAULT_TIME_LIMIT`.
    seed
        Shift of SCIP's random seeds (``randomization/randomseedshift``).
    node_limit
        Maximum number of nodes (``limits/nodes``), or None for no limit.
    gap_limit
        Relative gap at which to stop (``limits/gap``), or None for SCIP's default (0).
    verbose
        Show SCIP's log.

    Returns
    -------
    pyscipopt.Model

    Raises
    ------
    InputError
        On an invalid option or an unreadable file.
    """
    _options(branching, time_limit, seed, node_limit, gap_limit)
    if isinstance(source, MILPInstance):
        model = to_scip_model(source, verbose=verbose)
    else:
        model = read_scip_model(source, verbose=verbose)
    model.setParam("limits/time", float(DEFAULT_TIME_LIMIT if time_limit is None else time_limit))
    model.setParam("randomization/randomseedshift", int(seed) % 2**31)
    model.setParam(f"branching/{branching}/priority", TOP_PRIORITY)
    if node_limit is not None:
        model.setParam("limits/nodes", int(node_limit))
    if gap_limit is not None:
        model.setParam("limits/gap", float(gap_limit))
    return model


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
         verbose: bool = False) -> SolverOutput:
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
        One of :data:`BRANCHING_RULES` (default ``"relpscost"``, SCIP's default rule).
    node_limit
        Maximum number of nodes, or None.
    gap_limit
        Relative gap at which to stop, or None.
    verbose
        Show SCIP's log (silenced by default).

    Returns
    -------
    SolverOutput
        See :func:`solve_model`; ``stats["branching"]`` names the rule used.

    Raises
    ------
    InputError
        On an invalid option.
    """
    model = build_model(instance, branching=branching, time_limit=time_limit, seed=seed,
                        node_limit=node_limit, gap_limit=gap_limit, verbose=verbose)
    out = solve_model(model)
    out.stats["branching"] = branching
    return out
