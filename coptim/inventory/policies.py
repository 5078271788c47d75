"""Classical inventory policies.

A policy is a callable ``policy(net, state) -> request`` that maps a batched
:class:`~coptim.inventory.simulator.State` to the requested shipment into every location,
shape ``(B, n)``. In settings with transshipment a policy may instead return an
:class:`~coptim.inventory.simulator.Action` (orders and flows between stores). The simulator
makes requests and flows feasible.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from coptim.errors import InputError
from coptim.inventory.simulator import Action, NetworkTensors, State


class Policy(Protocol):
    """What the simulator calls every period."""

    def __call__(self, net: NetworkTensors, state: State) -> Tensor | Action: ...


def _vector(values, n: int, what: str) -> Tensor:
    t = torch.as_tensor(values, dtype=torch.float32).flatten()
    if t.numel() == 1:
        t = t.expand(n).clone()
    if t.numel() != n:
        raise InputError(f"{what} needs {n} values, one per location, got {t.numel()}")
    if not bool(torch.isfinite(t).all()) or bool((t < 0).any()):
        raise InputError(f"{what} must be non-negative finite numbers")
    return t


class ConstantOrder:
    """Order the same quantity into every location every period."""

    name = "constant"

    def __init__(self, quantity, n: int = 1):
        self.quantity = _vector(quantity, n, "constant order quantities")

    def __call__(self, net: NetworkTensors, state: State) -> Tensor:
        return self.quantity.expand_as(state.on_hand)

    def params(self) -> dict:
        """Parameters, JSON-ready."""
        return {"quantity": self.quantity.tolist()}


class BaseStock:
    """Order up to a level of the (installation) inventory position: ``(S - IP)^+``."""

    name = "base-stock"

    def __init__(self, levels, n: int = 1):
        self.levels = _vector(levels, n, "base-stock levels")

    def __call__(self, net: NetworkTensors, state: State) -> Tensor:
        return torch.relu(self.levels - state.inventory_position())

    def params(self) -> dict:
        """Parameters, JSON-ready."""
        return {"levels": self.levels.tolist()}


def transport(excess: Tensor, need: Tensor) -> Tensor:
    """Flows (B, n, n) from stores with ``excess`` (B, n) to stores with ``need`` (B, n).

    North-west corner rule: store ``i``'s excess covers an interval of the cumulative excess,
    store ``j``'s need an interval of the cumulative need, and the flow from ``i`` to ``j`` is
    their overlap. It moves the smaller of the total excess and the total need, never more
    than a store's excess, and whole units when the amounts are whole. Give each store at most
    one of excess and need (a store with both would send to itself, which the simulator ignores).
    """
    e_hi, n_hi = excess.cumsum(-1), need.cumsum(-1)
    low = torch.maximum((e_hi - excess).unsqueeze(-1), (n_hi - need).unsqueeze(1))
    return torch.relu(torch.minimum(e_hi.unsqueeze(-1), n_hi.unsqueeze(1)) - low)


def balancing_flows(net: NetworkTensors, state: State) -> Tensor:
    """Flows (B, n, n) that move stock towards shares proportional to each store's mean demand.

    The target of store ``i`` is its share ``mu_i / sum(mu)`` of the stock on hand (positive
    part) of all stores. Stores above their target give their excess; stores below it receive,
    but only up to the smaller of their target and their mean demand, so that stock moves only
    to stores likely to run short in the coming period. The amount moved is the smaller of the
    total excess and the total need (:func:`transport`; no store both gives and receives).
    """
    if net.transship_cost is None:
        raise InputError("balancing needs a setting with transshipment ([transshipment] table)")
    x = state.on_hand
    target = torch.relu(x).sum(-1, keepdim=True) * (net.demand_mean / net.demand_mean.sum())
    return transport(torch.relu(x - target), torch.relu(torch.minimum(target, net.demand_mean) - x))


def balanced_base_stock(levels: Tensor, net: NetworkTensors, state: State) -> Action:
    """Balance stock between stores (:func:`balancing_flows`), then order up to ``levels`` of the
    inventory position after the transfers."""
    flows = balancing_flows(net, state)
    ip = state.inventory_position() + flows.sum(1) - flows.sum(2)
    return Action(torch.relu(levels - ip), flows)


class BalancedBaseStock:
    """Base-stock orders plus proportional balancing between stores (settings with transshipment)."""

    name = "base-stock-balancing"

    def __init__(self, levels, n: int = 1):
        self.levels = _vector(levels, n, "base-stock levels")

    def __call__(self, net: NetworkTensors, state: State) -> Action:
        return balanced_base_stock(self.levels, net, state)

    def params(self) -> dict:
        """Parameters, JSON-ready."""
        return {"levels": self.levels.tolist()}


class CappedBaseStock:
    """Base-stock with a cap on each order: ``min((S - IP)^+, r)`` (Xin 2021)."""

    name = "capped-base-stock"

    def __init__(self, levels, caps, n: int = 1):
        self.levels = _vector(levels, n, "base-stock levels")
        self.caps = _vector(caps, n, "order caps")

    def __call__(self, net: NetworkTensors, state: State) -> Tensor:
        return torch.minimum(torch.relu(self.levels - state.inventory_position()), self.caps)

    def params(self) -> dict:
        """Parameters, JSON-ready."""
        return {"levels": self.levels.tolist(), "caps": self.caps.tolist()}


class EchelonBaseStock:
    """Order up to a level of the echelon inventory position (the location and all downstream)."""

    name = "echelon-base-stock"

    def __init__(self, levels, n: int = 1):
        self.levels = _vector(levels, n, "echelon base-stock levels")

    def __call__(self, net: NetworkTensors, state: State) -> Tensor:
        echelon_ip = state.inventory_position() @ net.echelon.T
        return torch.relu(self.levels - echelon_ip)

    def params(self) -> dict:
        """Parameters, JSON-ready."""
        return {"levels": self.levels.tolist()}


class Myopic:
    """One-period look-ahead for a single store with Poisson demand (Zipkin 2008).

    Orders the quantity that minimises the expected cost of the period in which the order
    arrives, given the exact distribution of the stock at that time. With backlogged demand
    this is the optimal base-stock policy.
    """

    name = "myopic"

    def __init__(self, net: NetworkTensors, mean: float, holding: float, underage: float, max_order: int | None = None):
        if net.n != 1:
            raise InputError("the myopic policy is defined for single-store settings only")
        self.mean, self.h, self.p = float(mean), float(holding), float(underage)
        self.lead = int(net.lead_time[0])
        self.lost = net.lost_sales
        self.size = int(self.mean * (self.lead + 2) + 12 * math.sqrt(self.mean * (self.lead + 1)) + 20)
        self.max_order = max_order if max_order is not None else int(self.mean + 8 * math.sqrt(self.mean) + 5)
        k = np.arange(self.size)
        logp = k * math.log(self.mean) - self.mean - np.array([math.lgamma(i + 1) for i in k])
        self.pmf = torch.tensor(np.exp(logp), dtype=torch.float64)
        # Transition of y -> (y - D)^+ on the support.
        trans = torch.zeros(self.size, self.size, dtype=torch.float64)
        for y in range(self.size):
            trans[y, 1 : y + 1] = self.pmf[:y].flip(0)
            trans[y, 0] = 1.0 - trans[y, 1:].sum()
        self.trans = trans
        # Expected period cost of starting a period with y units: E[h (y - D)^+ + p (D - y)^+].
        d = torch.arange(self.size, dtype=torch.float64)
        y = torch.arange(self.size + self.max_order + 1, dtype=torch.float64)[:, None]
        self.cost = (self.pmf * (self.h * torch.relu(y - d) + self.p * torch.relu(d - y))).sum(-1)
        self._backlog_level = self._newsvendor_level()

    def _newsvendor_level(self) -> int:
        mean = self.mean * (self.lead + 1)
        k = np.arange(int(mean + 12 * math.sqrt(mean) + 20))
        logp = k * math.log(mean) - mean - np.array([math.lgamma(i + 1) for i in k])
        cdf = np.cumsum(np.exp(logp))
        return int(np.searchsorted(cdf, self.p / (self.p + self.h)))

    def __call__(self, net: NetworkTensors, state: State) -> Tensor:
        if not self.lost:
            return torch.relu(self._backlog_level - state.inventory_position())
        B = state.batch
        on_hand = state.on_hand[:, 0].round().clamp(0, self.size - 1).long()
        dist = torch.zeros(B, self.size, dtype=torch.float64)
        dist[torch.arange(B), on_hand] = 1.0
        idx = torch.arange(self.size)
        for j in range(self.lead - 1):
            dist = dist @ self.trans
            shift = state.pipeline[:, 0, j].round().long().clamp(0, self.size - 1)
            src = idx[None, :] - shift[:, None]
            dist = torch.where(src >= 0, dist.gather(1, src.clamp_min(0)), torch.zeros((), dtype=torch.float64))
        dist = dist @ self.trans  # stock left at the end of the period before the order arrives
        q = torch.arange(self.max_order + 1)
        table = self.cost[idx[:, None] + q[None, :]]  # (size, Q)
        expected = dist @ table
        return expected.argmin(-1, keepdim=True).to(torch.float32)

    def params(self) -> dict:
        """Parameters, JSON-ready."""
        return {}


class TablePolicy:
    """Orders read from an exact DP solution (single store, lost sales)."""

    name = "optimal"

    def __init__(self, solution):
        self.solution = solution

    def __call__(self, net: NetworkTensors, state: State) -> Tensor:
        L = self.solution.params.lead_time
        pipe = state.pipeline[:, 0, : L - 1].numpy() if L > 1 else np.zeros((state.batch, 0))
        q = self.solution.order(state.on_hand[:, 0].numpy(), pipe)
        return torch.from_numpy(q.astype(np.float32)).unsqueeze(1)

    def params(self) -> dict:
        """Parameters, JSON-ready."""
        return {"cost": self.solution.cost, "box": list(self.solution.params.box())}
