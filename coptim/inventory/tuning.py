"""Optimise the parameters of classical policies on the training scenarios.

Parameters are integers (orders are rounded at test time); every candidate is simulated on
the same training scenarios (common random numbers) with integer orders and the cheapest
wins. One- and two-parameter families are searched exhaustively on a grid; networks with
several locations use coordinate search (one location at a time, repeated).
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from coptim.errors import InputError
from coptim.inventory.evaluation import rollout
from coptim.inventory.policies import (
    BalancedBaseStock,
    BaseStock,
    CappedBaseStock,
    ConstantOrder,
    EchelonBaseStock,
    balanced_base_stock,
)
from coptim.inventory.settings import Setting
from coptim.inventory.simulator import Action, NetworkTensors, Scenarios, State, make_scenarios

#: Training scenarios used for the search (the first ones of the training set).
SEARCH_SCENARIOS = 2048
#: Candidates simulated together.
CHUNK = 32

Rule = Callable[[Tensor, Tensor, State, NetworkTensors], Tensor | Action]


def _rules() -> dict[str, tuple[int, Rule]]:
    return {
        # name: (parameters per location, request(params (K*B, n, k), ...))
        "constant": (1, lambda p, ip, st, net: p[..., 0]),
        "base-stock": (1, lambda p, ip, st, net: torch.relu(p[..., 0] - ip)),
        "capped-base-stock": (2, lambda p, ip, st, net: torch.minimum(torch.relu(p[..., 0] - ip), p[..., 1])),
        "echelon-base-stock": (1, lambda p, ip, st, net: torch.relu(p[..., 0] - ip @ net.echelon.T)),
        "base-stock-balancing": (1, lambda p, ip, st, net: balanced_base_stock(p[..., 0], net, st)),
    }


def _costs(net: NetworkTensors, scen: Scenarios, name: str, candidates: Tensor) -> Tensor:
    """Mean training cost of each candidate parameter set; candidates has shape (K, n, k)."""
    _, rule = _rules()[name]
    out = []
    B = scen.demand.shape[0]
    for lo in range(0, candidates.shape[0], CHUNK):
        cand = candidates[lo : lo + CHUNK]
        K = cand.shape[0]
        params = cand.repeat_interleave(B, 0)  # (K*B, n, k)
        rep = Scenarios(
            scen.demand.repeat(K, 1, 1),
            State(scen.initial.on_hand.repeat(K, 1), scen.initial.pipeline.repeat(K, 1, 1)),
            scen.warmup,
        )
        policy = lambda n_, st: rule(params, st.inventory_position(), st, n_)  # noqa: E731
        with torch.no_grad():
            c = rollout(net, policy, rep, integer=True)
        out.append(c.view(K, B).mean(1))
    return torch.cat(out)


def _level_range(setting: Setting, i: int, echelon: bool) -> range:
    """Integer levels worth trying at location ``i``."""
    net = setting.network
    ks = [k for k in net.descendants(i) if net.is_store[k]]
    mean = sum(net.demand_mean[k] for k in ks)
    var = sum(net.demand_std[k] ** 2 for k in ks)
    if echelon:  # longest path from i down to a store, in lead times
        def depth(j: int) -> int:
            kids = net.children(j)
            return net.lead_time[j] + (max(depth(c) for c in kids) if kids else 0)
        periods = depth(i) + 1
    else:
        periods = net.lead_time[i] + 1
    top = periods * mean + 5.0 * math.sqrt(max(var, mean) * periods) + 5
    return range(0, int(math.ceil(top)) + 1)


def tune(setting: Setting, name: str, rounds: int = 2, scenarios: int = SEARCH_SCENARIOS) -> tuple[object, float]:
    """Best parameters of a classical policy family on the training scenarios.

    Parameters
    ----------
    setting
        The setting.
    name
        ``"constant"``, ``"base-stock"``, ``"capped-base-stock"``, ``"echelon-base-stock"`` or
        ``"base-stock-balancing"`` (settings with transshipment; the levels are tuned with the
        balancing rule in place).
    rounds
        Coordinate-search rounds for networks with several locations.
    scenarios
        How many of the training scenarios to simulate (the first ones).

    Returns
    -------
    policy, cost
        The tuned policy and its mean cost per period on the search scenarios.
    """
    rules = _rules()
    if name not in rules:
        raise InputError(f"no tuner for policy {name!r}; choose one of {', '.join(rules)}")
    if name == "base-stock-balancing" and setting.transshipment is None:
        raise InputError("base-stock-balancing needs a setting with transshipment ([transshipment] table)")
    net = NetworkTensors.from_setting(setting)
    scen = make_scenarios(setting, "train", 0, min(scenarios, setting.train.scenarios))
    n = net.n
    if name == "constant":
        # A constant order at or above the mean demand has unbounded long-run cost (the stock
        # grows without limit), however good it looks over a short training horizon.
        grids = [range(0, max(1, int(math.ceil(float(net.flow_mean[i]))))) for i in range(n)]
    else:
        grids = [_level_range(setting, i, name == "echelon-base-stock") for i in range(n)]
    if name == "capped-base-stock":
        # Exhaustive over (level, cap) per location, coordinate search across locations.
        best = torch.zeros(n, 2)
        for i in range(n):
            best[i, 0] = max(grids[i]) // 2
            best[i, 1] = max(grids[i])
        cost = math.inf
        for _ in range(rounds if n > 1 else 1):
            for i in range(n):
                mean = float(net.flow_mean[i])
                caps = range(max(1, int(mean // 2)), int(math.ceil(4 * mean)) + 2)
                pairs = [(s, r) for s in grids[i] for r in caps]
                cands = best.unsqueeze(0).repeat(len(pairs), 1, 1)
                cands[:, i] = torch.tensor(pairs, dtype=torch.float32)
                costs = _costs(net, scen, name, cands)
                j = int(costs.argmin())
                best, cost = cands[j], float(costs[j])
        return CappedBaseStock(best[:, 0], best[:, 1], n), cost
    best = torch.tensor([[float(max(g)) // 2] for g in grids])  # (n, 1)
    cost = math.inf
    for _ in range(rounds if n > 1 else 1):
        for i in range(n):
            values = torch.tensor(list(grids[i]), dtype=torch.float32)
            cands = best.unsqueeze(0).repeat(len(values), 1, 1)
            cands[:, i, 0] = values
            costs = _costs(net, scen, name, cands)
            j = int(costs.argmin())
            best, cost = cands[j], float(costs[j])
    cls = {"constant": ConstantOrder, "base-stock": BaseStock, "echelon-base-stock": EchelonBaseStock,
           "base-stock-balancing": BalancedBaseStock}[name]
    return cls(best[:, 0], n), cost
