"""The attention policy and the decoding strategies."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from coptim import problems
from coptim.envs import make
from coptim.errors import InputError
from coptim.policies import AttentionModel, ModelConfig, beam_search, decode, greedy_select, rollout, score

torch.set_num_threads(1)

SIZES = {"tsp": 8, "cvrp": 7, "knapsack": 9}


def _model(problem: str, seed: int = 0, **kw) -> AttentionModel:
    torch.manual_seed(seed)
    m = AttentionModel(ModelConfig(problem, dim=32, layers=2, heads=4, ff=64, **kw))
    return m.eval()


def _data(problem: str, batch: int = 3, seed: int = 0):
    env = make(problem)
    return env, env.generate(batch, SIZES[problem], torch.Generator().manual_seed(seed))


def _instances(problem, count=3):
    prob = problems.get(problem)
    gen = prob.generators["uniform" if problem != "knapsack" else "uncorrelated"]
    return [gen(SIZES[problem], np.random.default_rng([5, i])) for i in range(count)]


@pytest.mark.parametrize("problem", ["tsp", "cvrp", "knapsack"])
def test_shapes_and_masks_never_violated(problem):
    env, data = _data(problem)
    model = _model(problem)
    cache = model.encode(data)
    n_nodes = SIZES[problem] + (1 if problem == "cvrp" else 0)
    assert cache.emb.shape == (3, n_nodes, 32)
    state = env.reset(data, 2)
    seen_masks = []

    def select(logp, t):
        assert logp.shape == (3, 2, n_nodes)
        assert bool(torch.isneginf(logp[~state_holder[0].mask]).all())
        seen_masks.append(state_holder[0].mask)
        return logp.argmax(-1)

    # wrap env.step to know the current state inside select
    state_holder = [state]
    orig_step = env.step

    def step(s, a):
        assert bool(s.mask.gather(2, a.unsqueeze(-1)).all()), "an action outside the mask"
        ns = orig_step(s, a)
        state_holder[0] = ns
        return ns

    env.step = step
    first = env.start_actions(env.reset(data, 2), 2)
    roll = rollout(model, env, data, select, starts=first)
    assert roll.reward.shape == (3, 2) and roll.log_prob.shape == (3, 2)
    assert bool((roll.log_prob <= 0).all())
    assert seen_masks


@pytest.mark.parametrize("problem", ["tsp", "cvrp", "knapsack"])
@pytest.mark.parametrize("strategy", ["greedy", "multistart", "aug8", "sample", "beam"])
def test_every_strategy_gives_feasible_solutions(problem, strategy):
    if strategy == "aug8" and problem == "knapsack":
        pytest.skip("no symmetries")
    env = make(problem)
    model = _model(problem)
    insts = _instances(problem)
    dec = decode(model, env, env.from_instances(insts), strategy, samples=3, beam_width=3,
                 generator=torch.Generator().manual_seed(0))
    prob = problems.get(problem)
    for inst, sol in zip(insts, dec.solutions(env)):
        assert prob.check(inst, sol).feasible


def test_aug8_is_refused_for_knapsack():
    env = make("knapsack")
    with pytest.raises(InputError):
        decode(_model("knapsack"), env, env.from_instances(_instances("knapsack")), "aug8", augment=8)


def test_multistart_starts_from_each_node():
    env, data = _data("tsp")
    dec = decode(_model("tsp"), env, data, "multistart")
    acts = dec.rollout.actions
    assert acts.shape == (3, 8, 8)
    assert sorted(acts[0, :, 0].tolist()) == list(range(8))
    for p in range(8):
        assert sorted(acts[1, p].tolist()) == list(range(8))
    env, data = _data("cvrp")
    dec = decode(_model("cvrp"), env, data, "multistart")
    assert sorted(dec.rollout.actions[0, :, 0].tolist()) == list(range(1, 8))


def test_aug8_improves_or_equals_plain_multistart():
    env, data = _data("tsp", batch=4)
    model = _model("tsp")
    plain = decode(model, env, data, "multistart").best_reward
    aug = decode(model, env, data, "aug8").best_reward
    assert bool((aug >= plain - 1e-6).all())
    assert decode(model, env, data, "aug8").rollout.reward.shape == (32, 8)


@pytest.mark.parametrize("problem", ["tsp", "cvrp", "knapsack"])
def test_beam_width_one_equals_greedy(problem):
    env, data = _data(problem, batch=4, seed=3)
    model = _model(problem, seed=1)
    greedy = decode(model, env, data, "greedy")
    beam = decode(model, env, data, "beam", beam_width=1)
    assert torch.equal(greedy.rollout.actions, beam.rollout.actions)
    assert torch.allclose(greedy.rollout.log_prob, beam.rollout.log_prob, atol=1e-5)


def test_wider_beam_is_not_worse_than_greedy_in_log_probability():
    env, data = _data("tsp", batch=4, seed=2)
    model = _model("tsp", seed=2)
    with torch.inference_mode():
        g = rollout(model, env, data, greedy_select, starts=env.start_actions(env.reset(data, 1), 1))
        b = beam_search(model, env, data, 5)
    assert bool((b.log_prob.max(dim=1).values >= g.log_prob[:, 0] - 1e-5).all())


@pytest.mark.parametrize("problem", ["tsp", "cvrp", "knapsack"])
def test_teacher_forced_scoring_matches_greedy_log_probs(problem):
    env, data = _data(problem, seed=4)
    model = _model(problem, seed=4)
    with torch.inference_mode():
        first = env.start_actions(env.reset(data, 2), 2)
        g = rollout(model, env, data, greedy_select, starts=first)
        s = score(model, env, data, g.actions)
    assert torch.allclose(g.log_prob, s.log_prob, atol=1e-6)
    assert torch.equal(g.reward, s.reward)


def test_scoring_refuses_masked_or_short_actions():
    env, data = _data("tsp")
    model = _model("tsp")
    acts = torch.zeros(3, 1, 8, dtype=torch.long)  # revisits node 0
    with pytest.raises(InputError, match="not allowed"):
        score(model, env, data, acts)
    with pytest.raises(InputError, match="end after"):
        score(model, env, data, torch.arange(4).repeat(3, 1, 1))


def test_scoring_is_differentiable():
    env, data = _data("tsp")
    model = _model("tsp").train()
    first = env.start_actions(env.reset(data, 1), 1)
    with torch.no_grad():
        g = rollout(model, env, data, greedy_select, starts=first)
    s = score(model, env, data, g.actions)
    s.log_prob.sum().backward()
    assert model.embed.weight.grad is not None


def test_model_config_validation():
    with pytest.raises(InputError):
        ModelConfig("tsp", dim=30, heads=8)
    with pytest.raises(InputError):
        ModelConfig("milp")
    with pytest.raises(InputError):
        ModelConfig("tsp", norm="batch")
    with pytest.raises(InputError):
        ModelConfig.from_dict({"problem": "tsp", "width": 3})
    assert ModelConfig.from_dict(ModelConfig("cvrp", norm="rms").to_dict()).norm == "rms"


def test_rms_norm_model_runs():
    env, data = _data("cvrp")
    dec = decode(_model("cvrp", norm="rms"), env, data, "greedy")
    assert dec.best_reward.shape == (3,)


def test_sampling_select_follows_the_distribution_and_the_mask(monkeypatch):
    from coptim.policies import sampling_select

    probs = torch.tensor([0.0, 0.1, 0.0, 0.6, 0.3, 0.0])
    logp = probs.log().expand(400, 50, -1).contiguous()
    select = sampling_select(torch.Generator().manual_seed(5))
    a = select(logp, 0)
    assert a.shape == (400, 50)
    freq = torch.bincount(a.flatten(), minlength=6).double() / a.numel()
    assert freq[[0, 2, 5]].sum() == 0  # masked actions are never chosen
    assert torch.allclose(freq, probs.double(), atol=0.01)
    # reproducible for a seed
    assert torch.equal(a, sampling_select(torch.Generator().manual_seed(5))(logp, 0))
    # one allowed action (e.g. a finished row's no-op) is always the one chosen
    only = torch.full((3, 4, 6), float("-inf"))
    only[..., 2] = 0.0
    assert (select(only, 0) == 2).all()
    # the rounding corner u * total == total (u = 1) falls back to an allowed action (the most likely)
    monkeypatch.setattr(torch, "rand", lambda *size, generator=None, dtype=None, device=None: torch.ones(*size))
    assert (select(logp[:2, :3], 0) == 3).all()



@pytest.mark.parametrize("problem", ["tsp", "cvrp", "knapsack"])
def test_fused_glimpse_matches_the_plain_one(problem, monkeypatch):
    """The fused attention kernel (used from FUSED_MIN_NODES nodes and FUSED_MIN_ROLLOUTS rollouts on) and the
    matrix-product glimpse give the same log-probabilities and gradients along a rollout."""
    from coptim.policies import attention

    env, data = _data(problem)
    model = _model(problem).train()
    out = {}
    for name, threshold in (("plain", 10**9), ("fused", 0)):
        monkeypatch.setattr(attention, "FUSED_MIN_NODES", threshold)
        monkeypatch.setattr(attention, "FUSED_MIN_ROLLOUTS", threshold)
        model.zero_grad()
        with torch.no_grad():
            g = rollout(model, env, data, greedy_select, num_starts=2)
        s = score(model, env, data, g.actions)
        s.log_prob.sum().backward()
        out[name] = (g.actions, s.log_prob.detach(), model.embed.weight.grad.clone())
    assert torch.equal(out["plain"][0], out["fused"][0])
    for a, b in zip(out["plain"][1:], out["fused"][1:]):
        assert torch.allclose(a, b, atol=1e-5), (a - b).abs().max()
