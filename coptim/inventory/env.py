"""MDP interfaces over the simulator: a batched environment and a Gymnasium-style single-scenario adapter.

``InventoryEnv`` follows the Gymnasium call shapes, batched over scenarios:
``reset(seed=...) -> (obs, info)`` and ``step(action) -> (obs, reward, terminated, truncated, info)``
with ``reward = -cost``. ``GymInventoryEnv`` wraps one scenario with numpy arrays and
``observation_space`` / ``action_space`` boxes; gymnasium itself is not needed.

An action is a flat vector per scenario: the ``n`` requested shipments (one per location)
and, in settings with transshipment, then the ``n * n`` flows between stores in row-major
order (entry ``n + i * n + j`` moves stock from store ``i`` to store ``j``; the diagonal is
ignored). The simulator makes both feasible.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor

from coptim.errors import InputError
from coptim.inventory.settings import Setting
from coptim.inventory.simulator import NetworkTensors, Scenarios, State, lateral_flows, make_scenarios, step


class InventoryEnv:
    """Batched inventory MDP over a scenario set.

    Parameters
    ----------
    setting
        The setting.
    split
        Scenario set whose horizon and warm-up are used (``"train"``, ``"validation"``, ``"test"``).
    num_envs
        Number of scenarios simulated together (default: the whole set).
    integer
        Round orders to integers.

    Notes
    -----
    ``reset(seed=s)`` draws fresh scenarios from seed ``s``; ``reset()`` without a seed uses the
    split's own seed, so the same scenarios come back. Costs during the warm-up are reported
    in ``info["counted"] = False``. An episode is truncated after ``horizon`` periods; it never
    terminates.
    """

    def __init__(self, setting: Setting, split: str = "train", num_envs: int | None = None, integer: bool = False):
        self.setting = setting
        self.split = setting.split(split)
        self.num_envs = num_envs or self.split.scenarios
        if self.num_envs < 1:
            raise InputError("num_envs must be at least 1")
        self.integer = integer
        self.net = NetworkTensors.from_setting(setting)
        self.observation_size = self.net.n * (1 + self.net.lmax)
        self.transship = setting.transshipment is not None
        self.action_size = self.net.n * (1 + self.net.n if self.transship else 1)
        self._scen: Scenarios | None = None
        self._state: State | None = None

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Tensor, dict]:
        """Start new episodes; returns the observation (num_envs, observation_size) and info."""
        sp = replace(self.split, scenarios=self.num_envs, seed=self.split.seed if seed is None else int(seed))
        self._scen = make_scenarios(self.setting, sp)
        self._state = self._scen.initial
        return self._state.observation(), {"period": 0}

    @property
    def state(self) -> State:
        """The current batched state."""
        if self._state is None:
            raise InputError("call reset() before step()")
        return self._state

    def step(self, action: Tensor | np.ndarray) -> tuple[Tensor, Tensor, Tensor, Tensor, dict]:
        """Apply actions (num_envs, action_size) and advance one period.

        ``info["transshipped"]`` holds the flows between stores actually moved (settings with
        transshipment only).
        """
        state = self.state
        if state.period >= self._scen.horizon:
            raise InputError("the episode is over; call reset()")
        a = torch.as_tensor(action, dtype=torch.float32)
        if a.numel() != self.num_envs * self.action_size:
            raise InputError(f"actions must have {self.action_size} entries per scenario, got {a.numel()} in all")
        a = a.reshape(self.num_envs, self.action_size)
        if not bool(torch.isfinite(a).all()):
            raise InputError("actions must be finite numbers")
        n, t = self.net.n, state.period
        flows = a[:, n:].reshape(-1, n, n) if self.transship else None
        nxt, cost, shipped = step(self.net, state, a[:, :n], self._scen.demand[:, t], integer=self.integer,
                                  transship=flows)
        self._state = nxt
        truncated = torch.full((self.num_envs,), nxt.period >= self._scen.horizon)
        terminated = torch.zeros(self.num_envs, dtype=torch.bool)
        info = {"period": nxt.period, "shipped": shipped, "cost": cost, "counted": t >= self._scen.warmup}
        if self.transship:
            info["transshipped"] = lateral_flows(self.net, state.on_hand, flows, self.integer)
        return nxt.observation(), -cost, terminated, truncated, info


@dataclass(frozen=True)
class Box:
    """A box space in the Gymnasium sense (shape, bounds, ``sample``, ``contains``)."""

    low: np.ndarray
    high: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of an element."""
        return self.low.shape

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """A uniform element (infinite bounds are clipped to 100)."""
        return rng.uniform(np.maximum(self.low, -100), np.minimum(self.high, 100)).astype(np.float32)

    def contains(self, x: np.ndarray) -> bool:
        """Whether ``x`` lies in the box."""
        x = np.asarray(x)
        return x.shape == self.shape and bool(np.all(x >= self.low) and np.all(x <= self.high))


class GymInventoryEnv:
    """One scenario of an inventory setting with the Gymnasium ``Env`` API shape (numpy in and out).

    The action space is the flat vector of the module docstring: ``n`` orders, then the
    ``n * n`` flows between stores in settings with transshipment.
    """

    def __init__(self, setting: Setting, split: str = "train", integer: bool = False):
        self._env = InventoryEnv(setting, split, num_envs=1, integer=integer)
        n, size = self._env.action_size, self._env.observation_size
        low = np.full(size, 0.0 if setting.lost_sales else -np.inf, dtype=np.float32)
        self.observation_space = Box(low, np.full(size, np.inf, dtype=np.float32))
        self.action_space = Box(np.zeros(n, dtype=np.float32), np.full(n, np.inf, dtype=np.float32))

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        """Start an episode; the same seed gives the same demand path."""
        obs, info = self._env.reset(seed=seed, options=options)
        return obs[0].numpy(), info

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Apply one action vector (``action_space.shape``) and advance one period."""
        obs, reward, terminated, truncated, info = self._env.step(np.asarray(action, dtype=np.float32)[None])
        info = {k: (v[0].numpy() if isinstance(v, Tensor) else v) for k, v in info.items()}
        return obs[0].numpy(), float(reward[0]), bool(terminated[0]), bool(truncated[0]), info
