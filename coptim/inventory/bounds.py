"""Lower bounds for networks of stores (with or without transshipment): pooled systems.

The pooled system is one location facing the summed demand of all stores, as if stock could
be rebalanced for free after the demand is seen. With backlogged, independent Poisson demand
and the same lead time ``L``, holding cost ``h`` and backlog cost ``p`` at every store, its
demand is Poisson(``sum of means``) and its optimal policy is base-stock with the newsvendor
level, whose cost :func:`~coptim.inventory.dp.backlog_base_stock_optimum` computes exactly.

Why it bounds every policy of the stores, period by period in expectation (the timing of
:func:`~coptim.inventory.simulator.step`): let ``y_i`` be store ``i``'s net stock (on hand,
negative for a backlog) after this period's transshipment and ``D_i`` its demand. The cost of
the period is at least ``sum_i h (y_i - D_i)^+ + p (D_i - y_i)^+`` (transshipment costs are
non-negative), and because ``(.)^+`` is subadditive this is at least
``h (Y - D)^+ + p (D - Y)^+`` with ``Y = sum_i y_i`` and ``D = sum_i D_i``. Transshipment
does not change ``Y``, so ``Y`` moves like the net stock of one store that orders the sum of
the stores' orders: an order placed in period ``t - L`` is on hand in period ``t``, hence
``Y_t - D_t = IP_{t-L} - (D_{t-L} + ... + D_t)`` where ``IP_{t-L}`` is the total inventory
position after ordering in period ``t - L``. That position depends only on the demand before
period ``t - L`` (policies do not see the future), and the ``L + 1`` summed demands after it are
Poisson(``(L + 1) sum of means``) and independent of it. So for every period ``t >= L``, from
any initial state, ``E[cost_t] >= min_S E[h (S - D^{L+1})^+ + p (D^{L+1} - S)^+]``, the
newsvendor cost, and the minimum over real ``S`` is reached at an integer, so fractional
orders do not help either. Averaged over the counted periods (the warm-up of every shipped
setting is longer than ``L``) no policy has a lower expected cost per period. On a finite
scenario set a policy's measured cost can fall below the bound only by sampling noise.

A tighter bound pools only the lead-time demand (:func:`rebalancing_bound`): the stock
``y_i`` of each store is fixed before its own demand ``D_i`` of the period is seen and is
independent of it, so ``E[cost_t | past] >= sum_i G_i(y_i) >= Phi(Y_t)`` with
``G_i(y) = E[h (y - D_i)^+ + p (D_i - y)^+]`` and ``Phi(Y)`` the cheapest split of ``Y`` units
over the stores. ``Phi`` is convex and piecewise linear with integer breakpoints (the
``G_i`` are), and ``Y_t = IP_{t-L} - (D_{t-L} + ... + D_{t-1})`` with the summed demand
independent of ``IP_{t-L}``, so ``E[cost_t] >= min_S E[Phi(S - D^L)]`` with ``D^L`` Poisson
(``L sum of means``). Since ``Phi(Y) >= E[h (Y - D)^+ + p (D - Y)^+]`` (subadditivity again)
it is at least the pooled bound. With free transshipment (cost 0) it is the optimal cost:
ordering up to ``S`` on the total inventory position and moving stock every period to the
cheapest split attains it (a split with ``y_i >= 0`` when ``Y >= 0``, or all ``y_i <= 0``
otherwise, is reachable by moving stock on hand).

For lost sales the pooled argument fails (a store's lost sales cannot be served by stock
elsewhere), so no bound is offered there.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from coptim.errors import InputError
from coptim.inventory.dp import _exact_cost, _poisson_pmf, backlog_base_stock_optimum
from coptim.inventory.evaluation import rollout, summarize
from coptim.inventory.policies import BaseStock, transport
from coptim.inventory.settings import EXTERNAL, Network, Setting
from coptim.inventory.simulator import Action, NetworkTensors, Scenarios, State, make_scenarios


def _check(setting: Setting) -> None:
    net = setting.network
    if net.kind not in ("single", "stores"):
        raise InputError(f"the pooled bound needs stores supplied externally; this network is a {net.kind}")
    if setting.lost_sales or setting.demand.distribution != "poisson":
        raise InputError("the pooled bound needs backlogged demand with Poisson distribution")
    for what, values in (("lead time", net.lead_time), ("holding cost", net.holding_cost),
                         ("underage cost", net.underage_cost)):
        if len(set(values)) != 1:
            raise InputError(f"the pooled bound needs the same {what} at every store")


def pooled_setting(setting: Setting) -> Setting:
    """The pooled system of ``setting``: one store with the summed mean demand, same scenario sets."""
    _check(setting)
    net = setting.network
    mean = float(sum(net.demand_mean))
    pooled = Network(("pooled",), (EXTERNAL,), (net.lead_time[0],), (net.holding_cost[0],),
                     (net.underage_cost[0],), (mean,), (math.sqrt(mean),))
    return Setting(f"{setting.name}-pooled", pooled, lost_sales=False, demand=setting.demand, train=setting.train,
                   validation=setting.validation, test=setting.test)


def pooled_bound(setting: Setting) -> dict:
    """Exact optimal cost of the pooled system: a lower bound on every policy's cost (see the module).

    Returns
    -------
    dict
        ``cost_per_period``, ``cost_per_period_per_store`` (divided by the number of stores),
        ``level`` (the pooled base-stock level) and ``pooled_mean`` (the summed mean demand).

    Raises
    ------
    InputError
        Unless the stores are supplied externally, demand is backlogged and Poisson, and lead
        time, holding and backlog cost are the same at every store.
    """
    p = pooled_setting(setting).network
    level, cost = backlog_base_stock_optimum(p.demand_mean[0], p.lead_time[0], p.holding_cost[0], p.underage_cost[0])
    return {"cost_per_period": cost, "cost_per_period_per_store": cost / setting.network.size, "level": level,
            "pooled_mean": p.demand_mean[0]}


def _cheapest_split(setting: Setting) -> tuple[np.ndarray, np.ndarray]:
    """``Phi(Y)`` and the cheapest split ``(Y, n)`` of ``Y = 0, 1, ..`` units over the stores.

    Each ``G_i`` is convex, so adding units one at a time where the next unit costs least is
    optimal: sort all stores' marginal costs; ``Phi(0) = p * sum(means)`` (every store at 0).
    """
    _check(setting)
    net = setting.network
    h, p = net.holding_cost[0], net.underage_cost[0]
    marginal = [np.diff(_exact_cost(mu, h, p, int(mu + 12 * math.sqrt(mu) + 21))) for mu in net.demand_mean]
    steps = np.concatenate(marginal)
    store = np.concatenate([np.full(m.size, i) for i, m in enumerate(marginal)])
    order = np.argsort(steps, kind="stable")
    phi = p * sum(net.demand_mean) + np.concatenate([[0.0], np.cumsum(steps[order])])
    split = np.concatenate([np.zeros((1, net.size)), np.cumsum(np.eye(net.size)[store[order]], axis=0)])
    return phi, split


def rebalancing_bound(setting: Setting) -> dict:
    """Lower bound with pooled lead-time demand and free rebalancing before each period's demand.

    At least :func:`pooled_bound`, and the optimal cost when transshipment is free (see the
    module; :class:`FreeRebalancing` attains it). Same conditions and result keys as
    :func:`pooled_bound` (``level`` is the best total inventory position after ordering).
    """
    net = setting.network
    p = net.underage_cost[0]
    phi, _ = _cheapest_split(setting)
    lead = net.lead_time[0] * sum(net.demand_mean)
    pmf = _poisson_pmf(lead, int(lead + 20 * math.sqrt(lead) + 40))
    y = np.arange(phi.size)[:, None] - np.arange(pmf.size)[None, :]  # stock before demand for (S, D^L)
    expected = np.where(y >= 0, phi[np.clip(y, 0, None)], phi[0] - p * y) @ pmf  # Phi is linear below 0
    level = int(expected.argmin())
    cost = float(expected[level])
    return {"cost_per_period": cost, "cost_per_period_per_store": cost / net.size, "level": level,
            "pooled_mean": float(sum(net.demand_mean))}


class FreeRebalancing:
    """Order up to the level of :func:`rebalancing_bound` on the total inventory position and move
    stock every period to the cheapest split of the stock on hand (ignoring the transshipment cost).

    Optimal when transshipment is free; a heuristic otherwise. The total order is split over
    the stores in proportion to their shortfall from the cheapest split of the level (in whole
    units when the total is whole, so that rounding keeps the total).
    """

    name = "free-rebalancing"

    def __init__(self, setting: Setting):
        if setting.transshipment is None:
            raise InputError("free-rebalancing needs a setting with transshipment ([transshipment] table)")
        _, split = _cheapest_split(setting)
        self.split = torch.tensor(split, dtype=torch.float32)
        self.level = rebalancing_bound(setting)["level"]

    def __call__(self, net: NetworkTensors, state: State) -> Action:
        x = state.on_hand
        total = torch.floor(x.sum(-1) + 1e-6).clamp(0, self.split.shape[0] - 1).long()
        target = self.split[total]  # all zero when the stores hold a net backlog
        flows = transport(torch.relu(x - target), torch.relu(target - x))
        ip = state.inventory_position() + flows.sum(1) - flows.sum(2)
        order = torch.relu(self.level - ip.sum(-1))
        return Action(_apportion(order, torch.relu(self.split[self.level] - ip) + 1e-9), flows)

    def params(self) -> dict:
        """Parameters, JSON-ready."""
        return {"level": self.level}


def _apportion(total: Tensor, weights: Tensor) -> Tensor:
    """Split ``total`` (B,) in proportion to ``weights`` (B, n), in whole units where ``total`` is
    whole: round down, then give the rest to the largest remainders."""
    share = total.unsqueeze(-1) * weights / weights.sum(-1, keepdim=True)
    base = torch.floor(share)
    rank = torch.argsort(torch.argsort(base - share, dim=-1), dim=-1).float()  # 0: largest remainder
    return base + ((total - base.sum(-1)).unsqueeze(-1) - rank).clamp(0.0, 1.0)


def pooled_scenarios(scenarios: Scenarios) -> Scenarios:
    """The same scenarios seen by the pooled system: demand, stock and pipeline summed over the stores."""
    init = scenarios.initial
    return Scenarios(scenarios.demand.sum(-1, keepdim=True),
                     State(init.on_hand.sum(-1, keepdim=True), init.pipeline.sum(1, keepdim=True)),
                     scenarios.warmup)


@torch.no_grad()
def evaluate_pooled(setting: Setting, split: str = "test", integer: bool = True, chunk: int = 1024) -> dict:
    """Simulated cost of the pooled system's optimal base-stock policy on the scenarios of ``setting``.

    Same result dict as :func:`~coptim.inventory.evaluation.evaluate` (per store: divided by the
    number of stores of ``setting``), measured on the summed demand of the same scenarios.
    """
    pooled = pooled_setting(setting)
    net = NetworkTensors.from_setting(pooled)
    policy = BaseStock([float(pooled_bound(setting)["level"])])
    sp = setting.split(split)
    costs = []
    for start in range(0, sp.scenarios, chunk):
        scen = make_scenarios(setting, split, start, min(chunk, sp.scenarios - start))
        costs.append(rollout(net, policy, pooled_scenarios(scen), integer=integer))
    return summarize(setting, split, torch.cat(costs), integer)
