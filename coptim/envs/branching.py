"""Variable selection in SCIP's branch-and-bound as a Gymnasium-style environment.

An episode is one SCIP solve. At every branching node SCIP would call a branching rule; here
the rule hands the node's :class:`~coptim.branching.features.Observation` to the agent and
branches on the candidate the agent picks::

    env = BranchingEnv(reward="nodes", time_limit=60)
    obs, info = env.reset("instance.mps", seed=0)
    done = info["terminated"] or info["truncated"]
    while not done:
        action = agent(obs)                       # an index into obs.candidates
        obs, reward, terminated, truncated, info = env.step(action)
        done = terminated or truncated
    env.close()

Design (SCIP calls us, not the other way round). :meth:`BranchingEnv.reset` builds the model
and starts ``model.optimizeNogil()`` in a worker thread. The env's branching rule (top
priority) runs in that thread: it extracts the observation, puts it on a queue to the agent
and blocks on a second queue until :meth:`step` sends the action, then branches on
``variables[candidates[action]]`` and returns to SCIP. When the solve ends the thread puts a
final message with SCIP's status. Only one side runs at a time, so SCIP is never used from
two threads at once; the agent's thread never touches the model while the solve is running.

Abandoning an episode is safe: :meth:`close` (also called by :meth:`reset`, by ``with``, and
when the env is garbage-collected) sends an abort message; the rule then interrupts the solve
(``SCIPinterruptSolve``) and stops handing out observations, SCIP stops at its next check,
the thread ends and is joined, and the model is released. An exception raised inside the
rule (which SCIP would otherwise swallow) also interrupts the solve and is re-raised by the
env call that was waiting.

``terminated`` is True when SCIP solved the instance (optimal, infeasible, unbounded);
``truncated`` when it stopped at a limit (time, nodes, gap) or was interrupted. When the
root node already ends the solve (no integer variables, an infeasible model, an instance
solved by presolve or at the root), :meth:`reset` returns ``None`` as the observation and
``info["terminated"]``/``info["truncated"]`` say so, with ``info["reason"]``.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Any

import numpy as np

from coptim.errors import InputError

#: Reward functions: the reward of a step is minus the increase of this SCIP statistic.
REWARDS = ("nodes", "lp_iterations", "solving_time")
SOLVED = ("optimal", "infeasible", "unbounded", "inforunbd")
_ABORT = object()
_POLL_S = 0.5


def _metrics(model: Any) -> dict[str, float]:
    return {
        "nodes": float(model.getNNodes()),
        "lp_iterations": float(model.getNLPIterations()),
        "solving_time": float(model.getSolvingTime()),
    }


def _final_info(model: Any) -> dict[str, Any]:
    from coptim.solvers.milp_scip import _STATUS, _finite

    raw = model.getStatus()
    infinity = model.infinity()
    info: dict[str, Any] = {"status": _STATUS.get(raw, raw), "scip_status": raw}
    try:
        info["nodes"] = int(model.getNTotalNodes())
        info["lp_iterations"] = int(model.getNLPIterations())
        info["solving_time"] = float(model.getSolvingTime())
        info["primal_bound"] = _finite(model.getPrimalbound(), infinity)
        info["dual_bound"] = _finite(model.getDualbound(), infinity)
    except Exception:  # statistics are not available in every stage
        pass
    return info


class _Episode:
    """The solver thread of one episode and the two queues to it."""

    def __init__(self, model: Any):
        import pyscipopt
        from pyscipopt import SCIP_RESULT

        from coptim.branching.features import FeatureExtractor
        from coptim.solvers.milp_scip import TOP_PRIORITY

        self.to_agent: queue.Queue = queue.Queue()
        self.to_solver: queue.Queue = queue.Queue()
        self.aborted = threading.Event()
        self.finished = False
        self.branchings = 0
        to_agent, to_solver, aborted = self.to_agent, self.to_solver, self.aborted
        episode = self

        class AgentRule(pyscipopt.Branchrule):
            def __init__(self):
                self.extractor: FeatureExtractor | None = None

            def branchexeclp(self, allowaddcons):
                try:
                    return {"result": self._branch()}
                except BaseException as exc:  # SCIP swallows callback errors: report and stop instead
                    to_agent.put(("error", exc))
                    aborted.set()
                    self.model.interruptSolve()
                    return {"result": SCIP_RESULT.DIDNOTRUN}

            def _branch(self):
                model = self.model
                if aborted.is_set():
                    model.interruptSolve()
                    return SCIP_RESULT.DIDNOTRUN
                if self.extractor is None:
                    self.extractor = FeatureExtractor(model)
                obs = self.extractor.observe(model)
                if obs.candidates.size == 0:
                    return SCIP_RESULT.DIDNOTRUN
                to_agent.put(("observation", obs, _metrics(model)))
                action = to_solver.get()
                if action is _ABORT:
                    aborted.set()
                    model.interruptSolve()
                    return SCIP_RESULT.DIDNOTRUN
                var = self.extractor.variables()[int(obs.candidates[action])]
                model.branchVar(var)
                episode.branchings += 1
                return SCIP_RESULT.BRANCHED

        self.rule = AgentRule()
        model.includeBranchrule(self.rule, "coptim_agent", "branching decisions from BranchingEnv.step",
                                TOP_PRIORITY, -1, 1.0)
        self.model = model
        self.thread = threading.Thread(target=self._solve, name="coptim-scip-episode", daemon=True)
        self.thread.start()

    def _solve(self) -> None:
        try:
            self.model.optimizeNogil()
            self.to_agent.put(("done", _final_info(self.model), _metrics(self.model)))
        except BaseException as exc:
            self.to_agent.put(("error", exc))

    def receive(self) -> tuple:
        """The next message of the solver thread (waits; never hangs on a dead thread)."""
        while True:
            try:
                return self.to_agent.get(timeout=_POLL_S)
            except queue.Empty:
                if not self.thread.is_alive():
                    try:
                        return self.to_agent.get_nowait()
                    except queue.Empty:
                        return ("error", RuntimeError("the SCIP thread ended without a result"))

    def close(self, timeout: float = 60.0) -> None:
        if self.thread.is_alive():
            self.aborted.set()
            self.to_solver.put(_ABORT)
            self.thread.join(timeout)
        if not self.thread.is_alive():
            self.rule.extractor = None
            self.model = None
            self.rule = None


class BranchingEnv:
    """Choose the branching variable at each node of a SCIP solve (see the module docstring).

    Parameters
    ----------
    reward
        ``"nodes"``, ``"lp_iterations"`` or ``"solving_time"``: each step's reward is minus the
        increase of that statistic since the previous decision (the last step includes the
        rest of the solve).
    time_limit
        Seconds per episode (default 3600).
    node_limit
        Maximum number of nodes, or None.
    gasse_settings
        Use Gasse et al.'s settings (cuts at the root only, no restarts, seeded variable
        permutation); otherwise SCIP's defaults apart from the limits and seed.
    scip_params
        Further SCIP parameters set on every episode's model.
    """

    def __init__(self, reward: str = "nodes", *, time_limit: float = 3600.0, node_limit: int | None = None,
                 gasse_settings: bool = True, scip_params: dict[str, Any] | None = None):
        if reward not in REWARDS:
            raise InputError(f"unknown reward {reward!r}; choose one of {', '.join(REWARDS)}")
        self.reward = reward
        self.time_limit = time_limit
        self.node_limit = node_limit
        self.gasse_settings = gasse_settings
        self.scip_params = dict(scip_params or {})
        self._episode: _Episode | None = None
        self._observation: Any = None
        self._metrics: dict[str, float] | None = None
        self._done = True

    # ------------------------------------------------------------------ episode

    def reset(self, instance: Any, seed: int = 0) -> tuple[Any, dict[str, Any]]:
        """Start an episode on a :class:`~coptim.problems.milp.MILPInstance` or an MPS/LP file.

        Returns
        -------
        (observation, info)
            The first branching node's :class:`~coptim.branching.features.Observation`, or None
            when the solve ended without branching (then ``info["terminated"]`` or
            ``info["truncated"]`` is True and ``info["reason"]`` says why).

        Raises
        ------
        InputError
            If the file is missing or malformed, or an option is invalid.
        """
        from coptim.problems.milp import MILPInstance
        from coptim.solvers.milp_scip import TOP_PRIORITY, build_model

        self.close()
        if not isinstance(instance, (MILPInstance, str, Path)):
            raise InputError(f"reset needs a MILPInstance or a file path, got {type(instance).__name__}")
        model = build_model(instance, branching="relpscost", time_limit=self.time_limit, seed=seed,
                            node_limit=self.node_limit)
        # SCIP runs equal-priority rules in inclusion order: keep SCIP's own rule just below the env's
        model.setParam("branching/relpscost/priority", TOP_PRIORITY - 1)
        if self.gasse_settings:
            from coptim.branching.collect import gasse_settings

            gasse_settings(model, seed)
        for key, value in self.scip_params.items():
            model.setParam(key, value)
        self._episode = _Episode(model)
        self._metrics = {key: 0.0 for key in REWARDS}
        self._done = False
        obs, _, terminated, truncated, info = self._advance()
        if obs is None:
            info["reason"] = self._reason(info)
        return obs, info

    def step(self, action: int) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Branch on ``observation.candidates[action]`` and run SCIP to the next branching node.

        Returns
        -------
        (observation, reward, terminated, truncated, info)
            ``observation`` is None once the episode is over.

        Raises
        ------
        RuntimeError
            If no episode is running (call :meth:`reset`).
        InputError
            If ``action`` is not an index into the current candidates.
        """
        if self._done or self._episode is None:
            raise RuntimeError("the episode is over; call reset() to start another")
        n = int(self._observation.candidates.size)
        if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)) or not 0 <= action < n:
            raise InputError(f"the action must be an index into the {n} candidates (0..{n - 1}), got {action!r}")
        self._episode.to_solver.put(int(action))
        return self._advance()

    def _advance(self) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        episode = self._episode
        assert episode is not None
        message = episode.receive()
        if message[0] == "error":
            self._done = True
            self.close()
            raise message[1]
        kind, payload, metrics = message
        reward = -(metrics[self.reward] - self._metrics[self.reward])
        self._metrics = metrics
        if kind == "observation":
            self._observation = payload
            info = {"status": "branching", "n_candidates": int(payload.candidates.size), **metrics,
                    "terminated": False, "truncated": False}
            return payload, reward, False, False, info
        # the solve is over
        self._done = True
        self._observation = None
        episode.thread.join()
        info = dict(payload)
        info["branchings"] = episode.branchings
        terminated = info["status"] in SOLVED
        info["terminated"], info["truncated"] = terminated, not terminated
        self.close()
        return None, reward, terminated, not terminated, info

    @staticmethod
    def _reason(info: dict[str, Any]) -> str:
        if info["status"] == "infeasible":
            return "the instance is infeasible (found without branching)"
        if info["status"] in SOLVED:
            return f"solved without branching ({info['status']}): presolve or the root LP settled it"
        return f"the solve stopped before the first branching ({info['status']})"

    @property
    def observation(self) -> Any:
        """The current observation (None between episodes)."""
        return self._observation

    def close(self) -> None:
        """End the current episode, if any, and release its SCIP model (safe to call twice)."""
        episode, self._episode = self._episode, None
        self._observation = None
        self._done = True
        if episode is not None:
            episode.close()

    def __enter__(self) -> "BranchingEnv":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
