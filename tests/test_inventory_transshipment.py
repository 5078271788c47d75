"""Lateral transshipment between stores: settings, simulator, policies, bounds, networks, env and CLI."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from coptim.errors import InputError
from coptim.inventory.bounds import FreeRebalancing, evaluate_pooled, pooled_bound, rebalancing_bound
from coptim.inventory.cli import app
from coptim.inventory.env import GymInventoryEnv, InventoryEnv
from coptim.inventory.evaluation import evaluate, rollout
from coptim.inventory.neural import GNNPolicy, MLPPolicy
from coptim.inventory.policies import BalancedBaseStock, BaseStock, balancing_flows
from coptim.inventory.registry import load_network, save_weights
from coptim.inventory.settings import load_setting, setting_from_dict, with_training
from coptim.inventory.simulator import NetworkTensors, State, lateral_flows, make_scenarios, step
from coptim.inventory.training import build_policy, init_weights, train_hdpo
from coptim.inventory.tuning import tune

SMALL = {"scenarios": 64, "horizon": 60, "warmup": 20}


def stores(means=(3.0, 5.0), cost=0.5, lead=2, transship=True, **changes) -> object:
    data = {
        "name": f"stores{len(means)}",
        "lost_sales": False,
        "locations": [{"name": "s", "count": len(means), "supplier": "external", "lead_time": lead,
                       "holding_cost": 1.0, "underage_cost": 9.0, "demand_mean": list(means)}],
        "train": {**SMALL, "seed": 1},
        "validation": {**SMALL, "seed": 2},
        "test": {**SMALL, "seed": 3},
        "training": {"architecture": "gnn", "hidden": 16, "layers": 2, "batch_size": 32, "steps": 30,
                     "eval_every": 10},
    }
    if transship:
        data["transshipment"] = {"cost": cost}
    data.update(changes)
    return setting_from_dict(data)


def test_flows_never_exceed_stock_float_and_integer():
    net = NetworkTensors.from_setting(stores((3.0, 5.0, 4.0, 6.0)))
    g = torch.Generator().manual_seed(0)
    on_hand = torch.randint(-5, 12, (256, 4), generator=g).float()
    asked = torch.rand(256, 4, 4, generator=g) * 10 - 2
    for integer in (False, True):
        flows = lateral_flows(net, on_hand, asked, integer)
        assert bool((flows >= 0).all()) and float(flows.diagonal(dim1=1, dim2=2).abs().sum()) == 0.0
        assert bool((flows.sum(-1) <= torch.relu(on_hand) + 1e-5).all())
        if integer:
            assert torch.equal(flows, flows.round())
        # The state after the move conserves the total stock.
        state = State(on_hand, torch.zeros(256, 4, 2))
        nxt, _, _ = step(net, state, torch.zeros(256, 4), torch.zeros(256, 4), integer=integer, transship=asked)
        assert torch.allclose(nxt.on_hand.sum(-1), on_hand.sum(-1), atol=1e-4)
    # Proportional scaling when a store is asked for more than it holds: 6 asked of 3 -> 2 and 1.
    flows = lateral_flows(net, torch.tensor([[3.0, 0.0, 0.0, 0.0]]),
                          torch.tensor([[[0.0, 4.0, 2.0, 0.0], [5.0, 0.0, 0.0, 0.0], [0.0] * 4, [0.0] * 4]]))
    assert flows[0, 0].tolist() == [0.0, 2.0, 1.0, 0.0] and float(flows[0, 1].sum()) == 0.0


def test_cost_includes_transshipment_by_hand():
    s = stores((4.0, 4.0), cost=0.5, lead=1)
    net = NetworkTensors.from_setting(s)
    state = State(torch.tensor([[10.0, 0.0]]), torch.tensor([[[2.0], [3.0]]]))
    flows = torch.tensor([[[0.0, 4.0], [7.0, 0.0]]])  # store 1 has nothing to send: its 7 are dropped
    nxt, cost, shipped = step(net, state, torch.tensor([[1.0, 0.0]]), torch.tensor([[3.0, 5.0]]), transship=flows)
    # After the move: 6 and 4; after demand 3 and -1: holding 3 + backlog 9 * 1 + 0.5 * 4 moved = 14.
    assert float(cost) == pytest.approx(14.0)
    # L = 1: the pipeline (2, 3) and this period's order (1, 0) arrive before the next period.
    assert nxt.on_hand.tolist() == [[3.0 + 2.0 + 1.0, -1.0 + 3.0]]
    assert nxt.pipeline.tolist() == [[[0.0], [0.0]]] and shipped.tolist() == [[1.0, 0.0]]
    # Without flows the same step costs 7 + 9 * 5 = 52 and no transshipment.
    _, plain, _ = step(net, state, torch.tensor([[1.0, 0.0]]), torch.tensor([[3.0, 5.0]]))
    assert float(plain) == pytest.approx(52.0)


def test_settings_without_transshipment_are_unchanged():
    s = stores(transship=False)
    assert s.transshipment is None and NetworkTensors.from_setting(s).transship_cost is None
    assert load_setting("warehouse-3").transshipment is None
    s3 = load_setting("transship-3")
    assert s3.network.kind == "stores" and s3.transshipment.cost == 0.5 and not s3.lost_sales
    assert len(load_setting("transship-10").network.stores) == 10


@pytest.mark.parametrize(
    "table,match",
    [
        ({"cost": -1.0}, "transshipment cost must not be negative"),
        ({"cost": math.nan}, "transshipment cost must be finite"),
        ({"cost": "cheap"}, "transshipment cost must be a number"),
        ({}, r"\[transshipment\] is incomplete"),
        ({"cost": 1.0, "lead_time": 1}, "unknown field 'lead_time' in \\[transshipment\\]"),
    ],
)
def test_bad_transshipment_table(table, match):
    with pytest.raises(InputError, match=match):
        stores(transshipment=table)


def test_transshipment_needs_stores_supplied_externally():
    warehouse = [{"name": "w", "supplier": "external", "lead_time": 2, "holding_cost": 0.3},
                 {"name": "s", "count": 2, "supplier": "w", "lead_time": 1, "holding_cost": 1.0,
                  "underage_cost": 9.0, "demand_mean": [3.0, 4.0]}]
    with pytest.raises(InputError, match="transshipment needs a network of stores supplied externally"):
        stores(locations=warehouse)
    one = [{"name": "s", "supplier": "external", "lead_time": 1, "holding_cost": 1.0, "underage_cost": 9.0,
            "demand_mean": 5.0}]
    with pytest.raises(InputError, match="at least two stores"):
        stores(locations=one)
    plain = stores(transship=False)
    net = NetworkTensors.from_setting(plain)
    st = make_scenarios(plain, "train", 0, 2).initial
    with pytest.raises(InputError, match="no transshipment"):
        step(net, st, torch.zeros(2, 2), torch.zeros(2, 2), transship=torch.zeros(2, 2, 2))
    with pytest.raises(InputError, match="needs a setting with transshipment"):
        tune(plain, "base-stock-balancing")
    with pytest.raises(InputError, match="shape"):
        step(NetworkTensors.from_setting(stores()), st, torch.zeros(2, 2), torch.zeros(2, 2),
             transship=torch.zeros(2, 3, 3))


def test_balancing_by_hand():
    net = NetworkTensors.from_setting(stores((5.0, 5.0, 10.0)))
    st = State(torch.tensor([[14.0, 0.0, 6.0]]), torch.zeros(1, 3, 2))
    flows = balancing_flows(net, st)
    # Targets 5, 5, 10 of the 20 on hand: store 0 gives 9; store 1 takes 5 (its mean), store 2 takes 4.
    assert flows[0].tolist() == [[0.0, 5.0, 4.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]


def test_free_balancing_beats_no_transshipment_and_reaches_the_bound():
    s = replace(stores((3.0, 5.0, 7.0), cost=0.0), test=replace(stores().test, scenarios=256, horizon=400, warmup=50))
    levels = [12.0, 20.0, 27.0]
    scen = make_scenarios(s, "test")
    net = NetworkTensors.from_setting(s)
    with torch.no_grad():
        none = rollout(net, BaseStock(levels, 3), scen, integer=True)
        balanced = rollout(net, BalancedBaseStock(levels, 3), scen, integer=True)
    assert float(balanced.mean()) < 0.95 * float(none.mean())
    # With free transshipment, ordering to the bound's level and moving stock to the cheapest
    # split is optimal: its simulated cost matches the exact bound.
    res = evaluate(s, FreeRebalancing(s), "test")
    bound = rebalancing_bound(s)["cost_per_period"]
    assert abs(res["cost_per_period"] - bound) < 4 * res["stderr"] + 0.01


def test_bounds_are_below_every_policy():
    s = stores((3.0, 5.0, 7.0), cost=0.5)
    pooled, bound = pooled_bound(s), rebalancing_bound(s)
    assert pooled["cost_per_period"] < bound["cost_per_period"]
    single = stores((5.0,), locations=[{"name": "s", "supplier": "external", "lead_time": 2, "holding_cost": 1.0,
                                         "underage_cost": 9.0, "demand_mean": 5.0}], transship=False)
    assert pooled_bound(single)["cost_per_period"] == pytest.approx(rebalancing_bound(single)["cost_per_period"])
    sim = evaluate_pooled(s, "test")
    assert abs(sim["cost_per_period"] - pooled["cost_per_period"]) < 4 * sim["stderr"] + 0.05
    tuned, _ = tune(s, "base-stock-balancing", scenarios=64)
    policies = [tune(s, "base-stock", scenarios=64)[0], tuned, FreeRebalancing(s), build_policy(s, 0, "mlp"),
                build_policy(s, 0, "gnn")]
    for policy in policies:
        assert evaluate(s, policy, "test")["cost_per_period"] > bound["cost_per_period"]
    with pytest.raises(InputError, match="backlogged"):
        pooled_bound(stores(lost_sales=True))
    with pytest.raises(InputError, match="same underage cost"):
        pooled_bound(stores(locations=[{"name": "s", "count": 2, "supplier": "external", "lead_time": 1,
                                        "holding_cost": 1.0, "underage_cost": [9.0, 4.0], "demand_mean": 3.0}]))


def test_gradients_reach_the_flow_logits():
    s = stores((3.0, 5.0, 7.0))
    net = NetworkTensors.from_setting(s)
    scen = make_scenarios(s, "train", 0, 16)
    mlp = MLPPolicy(net, 16, 1)
    init_weights(mlp, 0)
    mlp.start_at_mean_demand()
    rollout(net, mlp, scen).mean().backward()
    flow_bias = mlp.body[-1].bias.grad[3:].view(3, 3)
    assert float(flow_bias.abs().sum()) > 0
    gnn = build_policy(s, 0, "gnn")
    rollout(net, gnn, scen).mean().backward()
    assert all(float(p.grad.abs().sum()) > 0 for p in gnn.flow_head.parameters())
    assert all(float(p.grad.abs().sum()) > 0 for p in gnn.stay_head.parameters())


@pytest.mark.parametrize("cls", [MLPPolicy, GNNPolicy])
def test_network_flows_are_feasible_and_mostly_keep_at_first(cls):
    s = stores((3.0, 5.0, 7.0))
    net = NetworkTensors.from_setting(s)
    model = cls(net, 16, 2)
    init_weights(model, 0)
    model.start_at_mean_demand()
    st = make_scenarios(s, "train", 0, 32).initial
    action = model(net, st)
    flows = action.transship
    assert action.order.shape == (32, 3) and flows.shape == (32, 3, 3)
    assert float(flows.diagonal(dim1=1, dim2=2).abs().sum()) == 0.0
    assert bool((flows.sum(-1) <= torch.relu(st.on_hand) + 1e-5).all())
    moved = float(flows.sum()) / float(torch.relu(st.on_hand).sum())
    assert 0.0 < moved < 0.2


def test_gnn_weights_work_for_3_and_5_stores(tmp_path):
    s3, s5 = stores((3.0, 5.0, 7.0)), stores((3.0, 5.0, 7.0, 4.0, 6.0))
    model = build_policy(s3, 0, "gnn")
    path = tmp_path / "gnn.pt"
    save_weights(model, s3, "gnn", path)
    loaded = load_network(s5, "gnn", path)
    net5 = NetworkTensors.from_setting(s5)
    st = make_scenarios(s5, "train", 0, 8).initial
    action = loaded(net5, st)
    assert action.order.shape == (8, 5) and action.transship.shape == (8, 5, 5)
    assert bool((action.transship.sum(-1) <= torch.relu(st.on_hand) + 1e-5).all())
    assert math.isfinite(evaluate(s5, loaded, "validation")["cost_per_period"])
    with pytest.raises(InputError, match="with transshipment"):
        loaded(NetworkTensors.from_setting(stores(transship=False)), make_scenarios(s3, "train", 0, 2).initial)


def test_hdpo_learns_to_transship():
    s = with_training(stores((3.0, 5.0, 7.0)), learning_rate=0.01, steps=40, eval_every=20, batch_size=64)
    res = train_hdpo(s, architecture="mlp")
    no_transshipment = evaluate(s, tune(s, "base-stock", scenarios=64)[0], "validation")["cost_per_period"]
    assert res.best_validation < 0.9 * no_transshipment
    assert res.best_validation < 1.2 * rebalancing_bound(s)["cost_per_period"]
    st = make_scenarios(s, "validation", 0, 64).initial
    with torch.no_grad():
        moved = float(res.model(NetworkTensors.from_setting(s), st).transship.sum())
    assert moved > 0.05 * float(st.on_hand.relu().sum())


def test_env_and_gym_adapter_accept_the_flat_action():
    s = stores((3.0, 5.0))
    env = InventoryEnv(s, "validation", num_envs=4, integer=True)
    assert env.action_size == 2 + 4
    env.reset(seed=3)
    before = env.state.on_hand.clone()
    action = torch.zeros(4, 6)
    action[:, 2 + 1] = 100.0  # from store 0 to store 1, more than it holds
    obs, reward, _, _, info = env.step(action)
    assert torch.equal(info["transshipped"][:, 0, 1], torch.relu(before[:, 0]))
    assert obs.shape == (4, 2 * 3) and reward.shape == (4,)
    with pytest.raises(InputError, match="6 entries"):
        env.step(torch.zeros(4, 2))
    gym = GymInventoryEnv(s)
    assert gym.action_space.shape == (6,)
    gym.reset(seed=1)
    o, r, term, trunc, info = gym.step(gym.action_space.sample(np.random.default_rng(0)))
    assert isinstance(r, float) and info["transshipped"].shape == (2, 2)


def test_cli_eval_transship_json():
    runner = CliRunner()
    res = runner.invoke(app, ["eval", "transship-3", "--policy", "base-stock", "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout)
    assert obj["setting"] == "transship-3" and len(obj["params"]["levels"]) == 3
    assert obj["cost_per_period"] > obj["lower_bound"] > 0 and obj["gap_to_bound_percent"] > 0
    res = runner.invoke(app, ["eval", "transship-3", "--policy", "pooled-bound", "--split", "validation", "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout)
    assert obj["params"]["level"] > 0 and obj["cost_per_period"] < obj["lower_bound"]  # the tighter bound
    res = runner.invoke(app, ["eval", "warehouse-3", "--policy", "free-rebalancing"])
    assert res.exit_code == 2 and "needs a setting with transshipment" in res.output
