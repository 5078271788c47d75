"""The MDP contract of every learning environment, checked against the problems' checkers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from coptim import problems
from coptim.envs import ENVS, SingleInstanceEnv, make, normalise_coords, symmetry
from coptim.errors import InputError
from coptim.problems.cvrp import CVRPInstance
from coptim.problems.knapsack import KnapsackInstance
from coptim.problems.tsp import TSPInstance

torch.set_num_threads(1)


def _instances(problem: str, size: int, count: int, seed: int) -> list:
    prob = problems.get(problem)
    out = []
    for i in range(count):
        rng = np.random.default_rng([seed, i])
        if problem == "tsp":
            scale = [1, 10, 1000, 10**9][i % 4]  # every coordinate scale, tiny ones with many duplicates
            out.append(prob.generators["uniform"](size, rng, scale=scale))
        elif problem == "cvrp":
            kind = "uniform" if i % 2 == 0 else "x"
            out.append(prob.generators[kind](size, rng))
        else:
            kinds = list(prob.generators)
            out.append(prob.generators[kinds[i % len(kinds)]](size, rng, h=1 + i % 5, series=5))
    return out


def _random_rollout(env, data, starts: int, gen: torch.Generator):
    state = env.reset(data, starts)
    actions = []
    for _ in range(env.max_steps(data) + 1):
        if bool(state.done.all()):
            break
        probs = state.mask.float()
        assert bool((probs.sum(-1) > 0).all()), "every row must have an allowed action"
        a = torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1, generator=gen).reshape(probs.shape[:2])
        assert bool(state.mask.gather(2, a.unsqueeze(-1)).all())
        actions.append(a)
        state = env.step(state, a)
    assert bool(state.done.all()), "a random masked policy must finish within max_steps"
    if not actions:
        return state, torch.zeros(*state.done.shape, 0, dtype=torch.long)
    return state, torch.stack(actions, dim=2)


@pytest.mark.parametrize("problem", list(ENVS))
@pytest.mark.parametrize("size", [1, 2, 5, 13])
def test_random_masked_policy_finishes_and_every_solution_is_feasible(problem, size):
    if problem == "tsp" and size < 2:
        pytest.skip("a TSP needs two nodes")
    env = make(problem)
    prob = problems.get(problem)
    insts = _instances(problem, size, 8, seed=size)
    data = env.from_instances(insts)
    gen = torch.Generator().manual_seed(size)
    state, actions = _random_rollout(env, data, 3, gen)
    reward = env.reward(state)
    assert reward.shape == (8, 3)
    for b, inst in enumerate(insts):
        for p in range(3):
            sol = env.solution(state, actions, b, p)
            verdict = prob.check(inst, sol)
            assert verdict.feasible, verdict.violations
            if problem == "knapsack":  # filled until nothing fits: maximal
                left = inst.capacity - int(inst.weights[sol].sum()) if sol else inst.capacity
                rest = np.setdiff1d(np.arange(inst.n), sol)
                assert not (inst.weights[rest] <= left).any()
                vmax = inst.values.max()
                expect = float(inst.values[sol].sum() / vmax) if sol and vmax > 0 else 0.0
                assert reward[b, p].item() == pytest.approx(expect, rel=1e-5, abs=1e-6)


def test_reward_matches_checker_up_to_scale():
    env = make("tsp")
    inst = problems.get("tsp").generators["uniform"](12, np.random.default_rng(3), scale=10**6)
    coords = inst.coords
    span = float((coords.max(0) - coords.min(0)).max())
    state, actions = _random_rollout(env, env.from_instances([inst]), 4, torch.Generator().manual_seed(1))
    for p in range(4):
        length = problems.get("tsp").check(inst, env.solution(state, actions, 0, p)).objective
        assert state.cost[0, p].item() * span == pytest.approx(length, rel=1e-4)
    cv = problems.get("cvrp").generators["uniform"](10, np.random.default_rng(4))
    env = make("cvrp")
    state, actions = _random_rollout(env, env.from_instances([cv]), 2, torch.Generator().manual_seed(2))
    span = float((cv.coords.max(0) - cv.coords.min(0)).max())
    for p in range(2):
        length = problems.get("cvrp").check(cv, env.solution(state, actions, 0, p)).objective
        assert state.cost[0, p].item() * span == pytest.approx(length, rel=1e-4)


def test_normalisation_keeps_aspect_ratio_and_handles_any_scale():
    pts = np.array([[100.0, 50.0], [300.0, 50.0], [200.0, 150.0]])
    out = normalise_coords(pts)
    assert out.min() == 0.0 and out.max() == 1.0
    assert out[2, 1] == pytest.approx(0.5)
    assert np.all(normalise_coords(np.full((4, 2), 7e11)) == 0.0)
    big = normalise_coords(pts * 1e9 - 5e11)
    assert np.allclose(big, out)


def test_symmetries_are_isometries_of_the_unit_square():
    pts = torch.rand(50, 2, generator=torch.Generator().manual_seed(0))
    def dist(x):
        return torch.linalg.vector_norm(x[:, None] - x[None], dim=-1)

    d0 = dist(pts)
    images = set()
    for k in range(8):
        img = symmetry(pts, k)
        assert torch.allclose(dist(img), d0, atol=1e-6)
        assert bool(((img >= 0) & (img <= 1)).all())
        images.add(tuple(img[0].tolist()))
    assert len(images) == 8


def test_multistart_actions_are_distinct_and_masked_ok():
    for problem, size in (("tsp", 9), ("cvrp", 9), ("knapsack", 9)):
        env = make(problem)
        data = env.from_instances(_instances(problem, size, 3, 0))
        state = env.reset(data, size)
        starts = env.start_actions(state, size)
        for row in starts.tolist():
            if problem != "knapsack":
                assert sorted(row) == list(range(size)) if problem == "tsp" else sorted(row) == list(range(1, size + 1))
        assert bool(state.mask.gather(2, starts.unsqueeze(-1)).all() | state.done.unsqueeze(-1).all())
        with pytest.raises(InputError):
            env.start_actions(state, size + 2)


def test_single_instance_adapter_tsp_and_knapsack():
    inst = TSPInstance("t", np.array([[0, 0], [0, 10], [10, 10], [10, 0], [5, 5]]), "EUC_2D")
    env = SingleInstanceEnv("tsp", inst)
    obs, info = env.reset(seed=0)
    assert obs["mask"].all() and info == {}
    total, terminated = 0.0, False
    order = [0, 1, 4, 2, 3]
    for a in order:
        obs, reward, terminated, truncated, info = env.step(a)
        total += reward
        assert not truncated
    assert terminated and info["feasible"]
    assert total == -problems.get("tsp").check(inst, order).objective
    with pytest.raises(InputError):
        env.step(0)
    env.reset()
    env.step(2)
    with pytest.raises(InputError, match="masked"):
        env.step(2)
    with pytest.raises(InputError):
        env.step(99)

    kp = KnapsackInstance("k", [5, 4, 3], [10, 3, 4], 6)  # item 0 heavier than the capacity
    env = SingleInstanceEnv("knapsack", kp)
    obs, _ = env.reset()
    assert obs["mask"].tolist() == [False, True, True]
    obs, reward, terminated, _, info = env.step(1)
    assert terminated and reward == 4 and info["solution"] == [1]
    nothing = KnapsackInstance("k0", [5], [10], 3)
    obs, info = SingleInstanceEnv("knapsack", nothing).reset()
    assert info["solution"] == [] and info["feasible"]


def test_bad_batches_are_refused():
    env = make("tsp")
    with pytest.raises(InputError, match="same size"):
        env.from_instances(_instances("tsp", 5, 1, 0) + _instances("tsp", 6, 1, 0))
    explicit = TSPInstance("e", None, "EXPLICIT", np.array([[0, 1], [1, 0]]))
    with pytest.raises(InputError, match="coordinates"):
        env.from_instances([explicit])
    with pytest.raises(InputError, match="expected TSP"):
        env.from_instances([CVRPInstance("c", np.zeros((2, 2)), [0, 1], 5)])
    with pytest.raises(InputError):
        make("milp")
    with pytest.raises(InputError):
        make("knapsack").augment({}, 8)


def test_duplicate_coordinates_give_valid_tours():
    coords = np.array([[1.0, 1.0]] * 6 + [[2.0, 3.0]] * 3)
    inst = TSPInstance("dup", coords, "EUC_2D")
    env = make("tsp")
    state, actions = _random_rollout(env, env.from_instances([inst]), 9, torch.Generator().manual_seed(0))
    for p in range(9):
        verdict = problems.get("tsp").check(inst, env.solution(state, actions, 0, p))
        assert verdict.feasible
        assert math.isfinite(verdict.objective)
