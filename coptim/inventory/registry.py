"""Policies by name: classical ones tuned on the training scenarios, the exact optimum, and trained networks.

``pooled-bound`` is a reference cost, not a policy of the setting (see :mod:`coptim.inventory.bounds`).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from coptim.errors import InputError
from coptim.inventory.settings import SHIPPED_DIR, Setting

#: Folder of shipped trained weights and their model cards.
WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "solvers" / "inventory"

CLASSICAL = ("constant", "base-stock", "capped-base-stock", "echelon-base-stock", "base-stock-balancing")
NAMES = CLASSICAL + ("free-rebalancing", "myopic", "optimal", "mlp", "gnn", "pooled-bound")


def dp_params(setting: Setting):
    """The :class:`~coptim.inventory.dp.LostSalesDP` of a single-store lost-sales setting with Poisson demand."""
    from coptim.inventory.dp import LostSalesDP

    net = setting.network
    if net.size != 1 or not setting.lost_sales or setting.demand.distribution != "poisson":
        raise InputError("the exact optimum is available for single-store lost-sales settings with Poisson demand only")
    return LostSalesDP(net.demand_mean[0], net.lead_time[0], net.holding_cost[0], net.underage_cost[0])


def optimal_cost(setting: Setting) -> dict:
    """Exact optimal average cost of a single-store lost-sales setting (cached next to the settings)."""
    from coptim.inventory.dp import reference_cost

    p = dp_params(setting)
    return reference_cost(p.mean_demand, p.lead_time, p.holding_cost, p.lost_sales_cost, SHIPPED_DIR / "dp")


def weights_path(setting: Setting, architecture: str) -> Path:
    """Where the shipped weights of ``architecture`` for ``setting`` live."""
    return WEIGHTS_DIR / f"{setting.name}-{architecture}.pt"


def save_weights(model: nn.Module, setting: Setting, architecture: str, path: str | Path) -> None:
    """Save a trained network with what is needed to rebuild it."""
    torch.save(
        {
            "setting": setting.name,
            "architecture": architecture,
            "hidden": setting.training.hidden,
            "layers": setting.training.layers,
            "centred": bool(getattr(model, "centred", False)),
            "model": model.state_dict(),
        },
        path,
    )


def load_network(setting: Setting, architecture: str, path: str | Path | None = None) -> nn.Module:
    """Rebuild a trained network from its weights file (shipped ones by default)."""
    from coptim.inventory import neural
    from coptim.inventory.simulator import NetworkTensors

    p = Path(path) if path is not None else weights_path(setting, architecture)
    if not p.exists():
        raise InputError(
            f"no trained {architecture} weights for setting {setting.name!r}; train them with "
            f"`coptim inventory train {setting.name}` or pass --weights",
            p,
        )
    try:
        saved = torch.load(p, weights_only=True)
        cls = {"mlp": neural.MLPPolicy, "gnn": neural.GNNPolicy}[saved["architecture"]]
        # Weights saved before input centring have no "centred" entry.
        model = cls(NetworkTensors.from_setting(setting), int(saved["hidden"]), int(saved["layers"]),
                    centred=bool(saved.get("centred", False)))
        model.load_state_dict(saved["model"])
    except InputError:
        raise
    except Exception as err:  # a corrupt or foreign file
        raise InputError(f"cannot load the weights: {err}", p) from None
    if saved["architecture"] != architecture:
        raise InputError(f"the weights are for a {saved['architecture']} network, not {architecture}", p)
    model.eval()
    return model


def make_policy(setting: Setting, name: str, weights: str | Path | None = None):
    """A ready policy called ``name`` for ``setting``.

    Classical policies are tuned on the training scenarios first; ``free-rebalancing`` takes
    its level from :func:`~coptim.inventory.bounds.rebalancing_bound`; ``optimal`` solves the DP;
    ``mlp`` and ``gnn`` load trained weights.

    Returns
    -------
    policy, info
        The policy and a JSON-ready dict of its parameters.
    """
    from coptim.inventory.simulator import NetworkTensors

    if name in CLASSICAL:
        from coptim.inventory.tuning import tune

        policy, train_cost = tune(setting, name)
        return policy, {**policy.params(), "train_cost": train_cost}
    if name == "free-rebalancing":
        from coptim.inventory.bounds import FreeRebalancing

        policy = FreeRebalancing(setting)
        return policy, policy.params()
    if name == "myopic":
        from coptim.inventory.policies import Myopic

        net = setting.network
        if net.size != 1 or setting.demand.distribution != "poisson":
            raise InputError("the myopic policy is defined for single-store settings with Poisson demand only")
        return Myopic(NetworkTensors.from_setting(setting), net.demand_mean[0], net.holding_cost[0], net.underage_cost[0]), {}
    if name == "optimal":
        from coptim.inventory.dp import solve_lost_sales
        from coptim.inventory.policies import TablePolicy

        sol = solve_lost_sales(dp_params(setting))
        return TablePolicy(sol), sol.summary()
    if name in ("mlp", "gnn"):
        return load_network(setting, name, weights), {"weights": str(weights or weights_path(setting, name))}
    if name == "pooled-bound":
        raise InputError("pooled-bound is a reference cost, not a policy of the setting; evaluate it with "
                         "coptim.inventory.bounds.evaluate_pooled")
    raise InputError(f"unknown policy {name!r}; choose one of {', '.join(NAMES)}")
