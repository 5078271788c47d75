"""Roll policies through scenario sets and measure their cost."""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from coptim.inventory.settings import Setting
from coptim.inventory.simulator import Action, NetworkTensors, Scenarios, State, as_action, make_scenarios, step


def rollout(
    net: NetworkTensors,
    policy: Callable[[NetworkTensors, State], Tensor | Action],
    scenarios: Scenarios,
    integer: bool = False,
) -> Tensor:
    """Average cost per period of every scenario after the warm-up, shape (B,).

    The policy returns a request tensor or, to move stock between stores, an :class:`Action`.
    Gradients flow through the simulator when the policy has parameters and grad is enabled.
    """
    state = scenarios.initial
    total = torch.zeros(state.batch)
    for t in range(scenarios.horizon):
        action = as_action(policy(net, state))
        state, cost, _ = step(net, state, action.order, scenarios.demand[:, t], integer=integer,
                              transship=action.transship)
        if t >= scenarios.warmup:
            total = total + cost
    return total / (scenarios.horizon - scenarios.warmup)


@torch.no_grad()
def evaluate(
    setting: Setting,
    policy: Callable[[NetworkTensors, State], Tensor | Action],
    split: str = "test",
    integer: bool = True,
    chunk: int = 1024,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Cost of ``policy`` on a scenario set.

    Returns
    -------
    dict
        ``cost_per_period`` (all locations), ``cost_per_period_per_store`` (divided by the
        number of stores), ``stderr`` of the former across scenarios, ``scenarios``, ``periods``
        (counted per scenario) and ``warmup``.
    """
    net = NetworkTensors.from_setting(setting)
    sp = setting.split(split)
    costs = []
    for start in range(0, sp.scenarios, chunk):
        count = min(chunk, sp.scenarios - start)
        scen = make_scenarios(setting, split, start, count)
        costs.append(rollout(net, policy, scen, integer=integer))
        if progress is not None:
            progress(count)
    return summarize(setting, split, torch.cat(costs), integer)


def summarize(setting: Setting, split: str, costs: Tensor, integer: bool) -> dict:
    """The result dict of :func:`evaluate` from the cost per period of every scenario of ``split``."""
    sp = setting.split(split)
    c = costs.double()
    mean = float(c.mean())
    stderr = float(c.std() / math.sqrt(c.numel())) if c.numel() > 1 else float("nan")
    stores = len(setting.network.stores)
    return {
        "cost_per_period": mean,
        "cost_per_period_per_store": mean / stores,
        "stderr": stderr,
        "scenarios": sp.scenarios,
        "periods": sp.horizon - sp.warmup,
        "warmup": sp.warmup,
        "integer_orders": integer,
    }
