"""HDPO from random weights must learn a policy that uses the pipeline (regression test).

Before the input features were centred, a network trained from scratch on a backlogged
store ordered *more* when more stock was on its way (it used the positive pipeline input
as a second bias) and stalled well above the optimal base-stock cost. With backlogged
demand the optimal policy is base-stock, whose order falls one-for-one with the pipeline.
"""

from __future__ import annotations

import pytest
import torch

from coptim.errors import InputError
from coptim.inventory.evaluation import evaluate
from coptim.inventory.neural import MLPPolicy, feature_offset, features
from coptim.inventory.registry import load_network, save_weights
from coptim.inventory.settings import setting_from_dict, with_training
from coptim.inventory.simulator import NetworkTensors, State, make_scenarios
from coptim.inventory.training import build_policy, train_hdpo, training_scenarios
from coptim.inventory.tuning import tune


def backlog(**training):
    return setting_from_dict(
        {
            "name": "scratch-backlog-p9-L2",
            "lost_sales": False,
            "locations": [{"name": "s", "supplier": "external", "lead_time": 2, "holding_cost": 1.0,
                           "underage_cost": 9.0, "demand_mean": 5.0}],
            "train": {"scenarios": 1024, "horizon": 60, "warmup": 30, "seed": 11},
            "validation": {"scenarios": 128, "horizon": 300, "warmup": 60, "seed": 12},
            "test": {"scenarios": 64, "horizon": 100, "warmup": 20, "seed": 13},
            "training": {"hidden": 32, "layers": 2, "batch_size": 256, "steps": 250, "eval_every": 50,
                         "learning_rate": 0.01, "episode": 50, **training},
        }
    )


def test_centred_features_are_about_zero_in_steady_state():
    s = backlog()
    net = NetworkTensors.from_setting(s)
    # one mean demand on hand and in the one pipeline slot that can be full at decision time
    st = State(torch.tensor([[5.0]]), torch.tensor([[[5.0, 0.0]]]))
    assert features(net, st, centred=True).abs().max() == 0.0
    assert features(net, st).tolist() == [[[1.0, 2.0, 1.0, 0.0]]]
    assert feature_offset(net).tolist() == [[1.0, 2.0, 1.0, 0.0]]


def test_hdpo_from_scratch_learns_to_net_out_the_pipeline():
    s = backlog()
    res = train_hdpo(s, seed=0)
    net = NetworkTensors.from_setting(s)
    # Order on 10 on hand with nothing vs 10 units on the way: base-stock orders 10 fewer.
    st = State(torch.tensor([[10.0], [10.0]]), torch.tensor([[[0.0, 0.0]], [[10.0, 0.0]]]))
    with torch.no_grad():
        q = res.model(net, st)[:, 0]
    drop = float(q[0] - q[1])
    assert 6.0 < drop < 13.0, f"order falls by {drop:.2f} when 10 units are in the pipeline (base-stock: 10)"
    bs, _ = tune(s, "base-stock")
    ref = evaluate(s, bs, "validation")["cost_per_period"]
    assert res.best_validation < 1.03 * ref, (res.best_validation, ref)


def test_episode_option_cuts_training_scenarios_and_is_validated():
    s = backlog()
    assert training_scenarios(s, 8).horizon == 50
    assert training_scenarios(with_training(s, episode=0), 8).horizon == 60
    for bad in (30, 61, -1):
        with pytest.raises(InputError):
            with_training(s, episode=bad)


def test_old_uncentred_weights_still_load(tmp_path):
    s = backlog()
    net = NetworkTensors.from_setting(s)
    old = MLPPolicy(net, 32, 2, centred=False)
    path = tmp_path / "old.pt"
    save_weights(old, s, "mlp", path)
    payload = torch.load(path, weights_only=True)
    del payload["centred"]  # as written before the change
    torch.save(payload, path)
    loaded = load_network(s, "mlp", path)
    assert loaded.centred is False
    st = make_scenarios(s, "validation", 0, 4).initial
    assert torch.equal(loaded(net, st), old(net, st))
    new = build_policy(s, 0)
    assert new.centred is True
    save_weights(new, s, "mlp", path)
    assert load_network(s, "mlp", path).centred is True
