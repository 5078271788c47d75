"""Classical policies, tuning, neural policies, training, MDP interface and CLI of the inventory pillar."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from coptim.errors import InputError
from coptim.inventory.cli import app
from coptim.inventory.env import GymInventoryEnv, InventoryEnv
from coptim.inventory.evaluation import evaluate
from coptim.inventory.neural import GNNPolicy, MLPPolicy
from coptim.inventory.policies import BaseStock, CappedBaseStock, ConstantOrder, EchelonBaseStock, Myopic
from coptim.inventory.settings import setting_from_dict, with_training
from coptim.inventory.simulator import NetworkTensors, State, make_scenarios, step
from coptim.inventory.training import init_weights, train_hdpo, train_reinforce
from coptim.inventory.tuning import tune

SMALL = {"scenarios": 64, "horizon": 60, "warmup": 20}


def single(lead=1, p=4.0, lost=True, **train):
    return setting_from_dict(
        {
            "name": f"single-L{lead}",
            "lost_sales": lost,
            "locations": [{"name": "s", "supplier": "external", "lead_time": lead, "holding_cost": 1.0,
                           "underage_cost": p, "demand_mean": 5.0}],
            "train": {**SMALL, "scenarios": 256, "seed": 1},
            "validation": {**SMALL, "seed": 2},
            "test": {**SMALL, "seed": 3},
            "training": {"hidden": 16, "layers": 1, "batch_size": 64, "steps": 40, "eval_every": 20, **train},
        }
    )


def warehouse(n_stores=3):
    return setting_from_dict(
        {
            "name": f"wh{n_stores}",
            "lost_sales": True,
            "locations": [
                {"name": "w", "supplier": "external", "lead_time": 2, "holding_cost": 0.3},
                {"name": "s", "count": n_stores, "supplier": "w", "lead_time": 1, "holding_cost": 1.0,
                 "underage_cost": 9.0, "demand_mean": [3.0 + k for k in range(n_stores)],
                 "demand_std": [1.0 + 0.5 * k for k in range(n_stores)]},
            ],
            "demand": {"distribution": "normal", "correlation": 0.5},
            "train": {**SMALL, "seed": 1},
            "validation": {**SMALL, "seed": 2},
            "test": {**SMALL, "seed": 3},
            "training": {"architecture": "gnn", "hidden": 16, "layers": 2, "batch_size": 32, "steps": 30,
                         "eval_every": 10},
        }
    )


def _state(on_hand, pipeline):
    return State(torch.tensor(on_hand, dtype=torch.float32), torch.tensor(pipeline, dtype=torch.float32))


def test_classical_rules_by_hand():
    net = NetworkTensors.from_setting(single(lead=3))
    st = _state([[4.0], [20.0]], [[[3.0, 2.0, 0.0]], [[1.0, 0.0, 0.0]]])
    assert BaseStock([15.0])(net, st).tolist() == [[6.0], [0.0]]
    assert CappedBaseStock([15.0], [4.0])(net, st).tolist() == [[4.0], [0.0]]
    assert ConstantOrder([5.0])(net, st).tolist() == [[5.0], [5.0]]
    with pytest.raises(InputError):
        BaseStock([-1.0])


def test_echelon_base_stock_by_hand():
    s = setting_from_dict(
        {
            "name": "serial",
            "lost_sales": False,
            "locations": [
                {"name": "top", "supplier": "external", "lead_time": 2, "holding_cost": 0.5},
                {"name": "store", "supplier": "top", "lead_time": 1, "holding_cost": 1.0, "underage_cost": 9.0,
                 "demand_mean": 5.0},
            ],
        }
    )
    assert s.network.kind == "serial"
    net = NetworkTensors.from_setting(s)
    st = _state([[6.0, -2.0]], [[[3.0, 1.0], [0.0, 0.0]]])
    # echelon IP: top = 6 + 4 + (-2) = 8, store = -2 -> requests 20 - 8 = 12 and 7 + 2 = 9
    assert EchelonBaseStock([20.0, 7.0], n=2)(net, st).tolist() == [[12.0, 9.0]]


def test_myopic_lead_one_matches_brute_force():
    s = single(lead=1)
    net = NetworkTensors.from_setting(s)
    pol = Myopic(net, 5.0, 1.0, 4.0)
    rng = np.random.default_rng(0)
    d = rng.poisson(5.0, 400_000)
    for x in (0, 3, 9):
        left = np.maximum(x - d, 0)
        costs = [np.mean(np.maximum(left + q - np.roll(d, 1), 0) + 4 * np.maximum(np.roll(d, 1) - left - q, 0))
                 for q in range(20)]
        q = pol(net, _state([[float(x)]], [[[0.0]]]))
        assert abs(float(q) - int(np.argmin(costs))) <= 1e-9 or costs[int(q)] - min(costs) < 0.01


def test_tuned_base_stock_is_newsvendor_optimal_with_backlog():
    s = single(lead=1, lost=False)
    policy, cost = tune(s, "base-stock")
    # Optimal level: smallest S with P(Poisson(10) <= S) >= 4 / 5.
    k = np.arange(60)
    logp = k * math.log(10.0) - 10.0 - np.array([math.lgamma(i + 1) for i in k])
    best = int(np.searchsorted(np.cumsum(np.exp(logp)), 0.8))
    assert int(policy.levels[0]) in (best - 1, best, best + 1)
    exact = float(np.sum(np.exp(logp) * (np.maximum(best - k, 0) + 4 * np.maximum(k - best, 0))))
    assert abs(cost - exact) / exact < 0.05


def test_capped_base_stock_beats_base_stock_on_lost_sales():
    s = single(lead=3, p=4.0)
    _, bs = tune(s, "base-stock")
    _, cbs = tune(s, "capped-base-stock")
    assert cbs <= bs


def test_mlp_gradients_match_finite_differences():
    s = single(lead=2)
    net = NetworkTensors.from_setting(s)
    model = MLPPolicy(net, 8, 1)
    init_weights(model, 3)
    model = model.double()
    scen = make_scenarios(s, "train", 0, 8)
    scen.demand = scen.demand.double()
    scen.initial = State(scen.initial.on_hand.double(), scen.initial.pipeline.double())
    netd = NetworkTensors(**{k: (v.double() if torch.is_tensor(v) and v.is_floating_point() else v)
                             for k, v in net.__dict__.items()})
    from coptim.inventory.evaluation import rollout

    scan = scen
    loss = rollout(netd, model, scan).mean()
    loss.backward()
    w = model.body[-1].bias
    g = float(w.grad[0])
    assert g != 0.0
    eps = 1e-6
    with torch.no_grad():
        w[0] += eps
        up = float(rollout(netd, model, scan).mean())
        w[0] -= 2 * eps
        down = float(rollout(netd, model, scan).mean())
    assert g == pytest.approx((up - down) / (2 * eps), rel=1e-3)


def test_gnn_allocations_are_feasible_and_size_agnostic():
    s = warehouse(3)
    net = NetworkTensors.from_setting(s)
    model = GNNPolicy(net, 16, 2)
    st = make_scenarios(s, "train", 0, 16).initial
    out = model(net, st)
    assert out.shape == (16, 4) and bool((out >= 0).all())
    assert bool((out[:, 1:].sum(1) <= torch.relu(st.on_hand[:, 0]) + 1e-5).all())
    # The same weights run on a network with more stores.
    s5 = warehouse(5)
    net5 = NetworkTensors.from_setting(s5)
    assert model(net5, make_scenarios(s5, "train", 0, 4).initial).shape == (4, 6)


def test_hdpo_learns_and_checkpoint_resume_is_exact(tmp_path):
    s = single(lead=1, lost=False)
    ck = tmp_path / "c.ckpt"
    first = train_hdpo(s, checkpoint=ck, stop_after=20)
    resumed = train_hdpo(s, checkpoint=ck)
    straight = train_hdpo(s)
    for a, b in zip(resumed.model.state_dict().values(), straight.model.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6)
    assert first.best_validation > 0
    untrained = evaluate(s, train_hdpo(with_training(s, steps=0)).model, "validation")["cost_per_period"]
    assert straight.best_validation < 0.7 * untrained
    with pytest.raises(InputError):
        train_hdpo(with_training(s, architecture="gnn"), checkpoint=ck)


def test_reinforce_improves_on_its_start():
    s = with_training(single(lead=1, lost=False), steps=30, eval_every=10, learning_rate=0.01)
    r = train_reinforce(s)
    untrained = evaluate(s, train_hdpo(with_training(s, steps=0)).model, "validation")["cost_per_period"]
    assert r.best_validation < untrained
    assert len(r.history) == 3


def test_reinforce_checkpoint_resume_is_exact(tmp_path):
    s = with_training(single(lead=1, lost=False), steps=20, eval_every=10, learning_rate=0.01)
    ck = tmp_path / "r.ckpt"
    train_reinforce(s, checkpoint=ck, stop_after=10)
    resumed = train_reinforce(s, checkpoint=ck)
    straight = train_reinforce(s)
    for a, b in zip(resumed.model.state_dict().values(), straight.model.state_dict().values()):
        assert torch.equal(a, b)
    assert resumed.best_validation == straight.best_validation
    with pytest.raises(InputError, match="made by reinforce"):
        train_hdpo(s, checkpoint=ck)
    ck.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="cannot read the checkpoint"):
        train_reinforce(s, checkpoint=ck)


def test_gnn_trains_on_warehouse():
    s = warehouse(3)
    res = train_hdpo(s)
    assert math.isfinite(res.best_validation)
    assert res.history[-1][2] <= res.history[0][2] * 1.5


def test_batched_env_and_gym_adapter():
    s = single(lead=2)
    env = InventoryEnv(s, "validation", num_envs=4)
    obs, info = env.reset(seed=5)
    assert obs.shape == (4, 3) and info["period"] == 0
    total = 0.0
    for t in range(s.validation.horizon):
        obs, reward, term, trunc, info = env.step(torch.full((4, 1), 5.0))
        total += float(reward.sum())
    assert bool(trunc.all()) and not bool(term.any()) and total < 0
    with pytest.raises(InputError):
        env.step(torch.zeros(4, 1))
    again, _ = env.reset(seed=5)
    first, _ = InventoryEnv(s, "validation", num_envs=4).reset(seed=5)
    assert torch.equal(again, first)
    gym = GymInventoryEnv(s)
    o, _ = gym.reset(seed=1)
    assert gym.observation_space.contains(o)
    a = gym.action_space.sample(np.random.default_rng(0))
    o2, r, term, trunc, info = gym.step(a)
    assert o2.shape == (3,) and isinstance(r, float) and r <= 0
    with pytest.raises(InputError):
        gym.step(np.array([np.nan]))


def test_cli_eval_json_and_errors(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["eval", "lost-sales-p4-L1", "--policy", "constant", "--split", "validation", "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout)
    assert obj["policy"] == "constant" and obj["cost_per_period"] > obj["optimal_cost"] > 4.0
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[[locations]]\nname = "s"\nsupplier = "external"\nlead_time = 1\nholding_cost = -1.0\n')
    res = runner.invoke(app, ["eval", str(bad), "--json"])
    assert res.exit_code == 2 and "holding cost" in res.output
    res = runner.invoke(app, ["eval", "lost-sales-p4-L1", "--policy", "nope"])
    assert res.exit_code == 2


def test_cli_train_then_eval_trained_weights(tmp_path):
    toml = tmp_path / "tiny.toml"
    toml.write_text(
        'name = "tiny"\nlost_sales = true\n[[locations]]\nname = "s"\nsupplier = "external"\nlead_time = 2\n'
        "holding_cost = 1.0\nunderage_cost = 9.0\ndemand_mean = 5.0\n"
        "[train]\nscenarios = 32\nhorizon = 30\nwarmup = 10\nseed = 1\n"
        "[validation]\nscenarios = 16\nhorizon = 30\nwarmup = 10\nseed = 2\n"
        "[test]\nscenarios = 16\nhorizon = 40\nwarmup = 10\nseed = 3\n"
        "[training]\nhidden = 8\nlayers = 1\nbatch_size = 16\nsteps = 4\neval_every = 2\n"
    )
    runner = CliRunner()
    ckpt = tmp_path / "run.ckpt"
    res = runner.invoke(app, ["train", str(toml), "--checkpoint", str(ckpt), "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout)
    assert obj["setting"] == "tiny" and obj["test"]["periods"] == 30 and ckpt.exists()
    res = runner.invoke(app, ["eval", str(toml), "--policy", "mlp", "--weights", obj["weights"], "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["cost_per_period"] == pytest.approx(obj["test"]["cost_per_period"])
    res = runner.invoke(app, ["eval", str(toml), "--policy", "gnn", "--weights", obj["weights"]])
    assert res.exit_code == 2 and "mlp" in res.output


def test_optimal_policy_refuses_long_lead_time_clearly():
    from coptim.inventory.registry import make_policy

    with pytest.raises(InputError, match="states"):
        make_policy(single(lead=9), "optimal")
    with pytest.raises(InputError, match="single-store"):
        make_policy(warehouse(3), "optimal")


def test_checkpoint_with_other_training_options_is_refused(tmp_path):
    s = with_training(single(lead=1, lost=False), steps=10, eval_every=5)
    ck = tmp_path / "h.ckpt"
    train_hdpo(s, checkpoint=ck, stop_after=5)
    with pytest.raises(InputError, match="other training options .*learning_rate"):
        train_hdpo(with_training(s, learning_rate=0.5), checkpoint=ck)
