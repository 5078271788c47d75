"""A Gymnasium-style adapter: one instance at a time, numpy observations, no gymnasium dependency.

``reset(seed=None) -> (obs, info)`` and ``step(action) -> (obs, reward, terminated, truncated, info)``
follow the Gymnasium API. The reward is 0 until the last step; the last step's reward is the
checked objective of the finished solution on the original instance (negated for minimisation),
so the return of an episode is the solution's value in the instance's own metric. The final
``info`` holds ``solution``, ``objective`` and ``feasible`` from the problem's checker.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from coptim.envs.routing import make
from coptim.errors import InputError


class SingleInstanceEnv:
    """One instance of ``problem`` as a sequential decision process.

    Parameters
    ----------
    problem
        ``tsp``, ``cvrp`` or ``knapsack``.
    instance
        The problem's instance object.

    Observations are dicts with ``mask`` (bool, one entry per node/item), ``current`` (int,
    ``-1`` before the first TSP step), ``visited`` (bool) and the normalised instance features
    (``coords``, ``demand``, ``weight_n``, ``value_n``, ...).
    """

    def __init__(self, problem: str, instance: Any):
        from coptim import problems

        self.problem = problems.get(problem)
        self.env = make(problem)
        self.instance = instance
        self.data = self.env.from_instances([instance])
        self.state = None
        self.actions: list[int] = []
        self.np_random = np.random.default_rng()

    @property
    def num_actions(self) -> int:
        """Size of the discrete action space (nodes or items)."""
        return int(self.env.reset(self.data).mask.shape[2])

    def _obs(self) -> dict[str, np.ndarray]:
        s = self.state
        obs = {k: v[0].cpu().numpy() for k, v in self.data.items()}
        obs.update(mask=s.mask[0, 0].cpu().numpy().copy(), visited=s.visited[0, 0].cpu().numpy().copy(),
                   current=int(s.current[0, 0]))
        return obs

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        """Start a new episode; ``seed`` seeds :attr:`np_random` (the process itself is deterministic)."""
        if seed is not None:
            self.np_random = np.random.default_rng(seed)
        self.state = self.env.reset(self.data, 1)
        self.actions = []
        info: dict[str, Any] = {}
        if bool(self.state.done[0, 0]):  # e.g. a knapsack where no item fits
            info = self._final_info()
        return self._obs(), info

    def _final_info(self) -> dict[str, Any]:
        actions = torch.tensor([[self.actions]], dtype=torch.long).reshape(1, 1, -1)
        solution = self.env.solution(self.state, actions, 0, 0)
        verdict = self.problem.check(self.instance, solution)
        return {"solution": solution, "objective": verdict.objective, "feasible": verdict.feasible,
                "violations": verdict.violations}

    def step(self, action: int) -> tuple[dict, float, bool, bool, dict]:
        """Take ``action`` (a node or item index allowed by ``obs["mask"]``)."""
        if self.state is None:
            raise InputError("call reset() before step()")
        if bool(self.state.done[0, 0]):
            raise InputError("the episode is over; call reset()")
        n = self.state.mask.shape[2]
        if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)) or not 0 <= action < n:
            raise InputError(f"action must be an integer in 0..{n - 1}, got {action!r}")
        if not bool(self.state.mask[0, 0, int(action)]):
            raise InputError(f"action {int(action)} is not allowed in this state (masked)")
        self.state = self.env.step(self.state, torch.tensor([[int(action)]], dtype=torch.long))
        self.actions.append(int(action))
        terminated = bool(self.state.done[0, 0])
        reward, info = 0.0, {}
        if terminated:
            info = self._final_info()
            if info["objective"] is not None:
                sign = -1.0 if self.problem.sense_of(self.instance) == "min" else 1.0
                reward = sign * float(info["objective"])
        return self._obs(), reward, terminated, False, info
