"""Imitation of PyVRP and DP experts by the attention model: expert data, equivalent action sequences,
the teacher-forcing loss, training (resume, learning) and the CLI."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from coptim import problems
from coptim.envs.routing import make
from coptim.errors import InputError
from coptim.training import TrainConfig, load_policy, train
from coptim.training import experts, teacher
from coptim.training.checkpoint import load_file
from coptim.training.pomo import new_model

torch.set_num_threads(1)

TINY = {"dim": 16, "layers": 1, "heads": 2, "ff": 32}


@pytest.fixture(scope="module")
def cvrp_experts(tmp_path_factory):
    d = tmp_path_factory.mktemp("cvrp-experts")
    return d, experts.expert_data("cvrp", 7, 4, 0, d)


def _routes(flat: np.ndarray) -> set[tuple[int, ...]]:
    """Routes of a flat expert row, each in a canonical direction."""
    out, cur = set(), []
    for c in flat[flat >= 0].tolist():
        if c == 0:
            out.add(min(tuple(cur), tuple(cur[::-1])))
            cur = []
        else:
            cur.append(c)
    return out


def test_expert_data_is_cached_checked_and_refuses_other_settings(tmp_path, cvrp_experts):
    d, data = cvrp_experts
    assert data["coords"].shape == (4, 8, 2) and data["routes"].shape == (4, 14)
    for i in range(4):
        inst = experts.instance("cvrp", 7, 0, i)
        routes = [list(r) for r in _routes(data["routes"][i])]
        verdict = problems.get("cvrp").check(inst, routes)
        assert verdict.feasible and verdict.objective == pytest.approx(data["objectives"][i])
    shards = sorted(d.glob("shard-*.npz"))
    mtime = shards[0].stat().st_mtime_ns
    again = experts.expert_data("cvrp", 7, 4, 0, d)
    assert shards[0].stat().st_mtime_ns == mtime and np.array_equal(again["routes"], data["routes"])
    with pytest.raises(InputError, match="other settings"):
        experts.expert_data("cvrp", 7, 4, 1, d)
    kp = experts.expert_data("knapsack", 9, 3, 0, tmp_path / "kp")
    for i in range(3):
        inst = experts.instance("knapsack", 9, 0, i)
        assert float(inst.values[kp["chosen"][i]].sum()) == pytest.approx(kp["objectives"][i])
    (tmp_path / "kp" / "shard-0000000-0000003.npz").write_bytes(b"broken")
    with pytest.raises(InputError, match="unreadable"):
        experts.expert_data("knapsack", 9, 3, 0, tmp_path / "kp")
    with pytest.raises(InputError, match="no expert"):
        experts.expert_data("jobshop", 9, 3, 0, tmp_path / "js")


def test_cvrp_sequences_are_equivalent_solutions_with_consistent_targets(cvrp_experts):
    _, data = cvrp_experts
    arrays = {k: torch.from_numpy(v) for k, v in data.items()}
    env = make("cvrp")
    ids = torch.tensor([0, 1, 2, 3, 0, 0])
    env_data, actions, targets = teacher.expert_batch("cvrp", arrays, ids, env, torch.Generator().manual_seed(1))
    # every forced action is one of the step's targets, and every target is allowed by the environment
    state = env.reset(env_data, 1)
    for t in range(actions.shape[1]):
        active = ~state.done[:, 0]
        tgt = targets[:, t]
        assert bool(tgt.gather(1, actions[:, t:t + 1]).squeeze(1)[active].all())
        assert not bool((tgt & ~state.mask[:, 0])[active].any())
        state = env.step(state, actions[:, t:t + 1])
    assert bool(state.done.all())
    for b, i in enumerate(ids.tolist()):
        sol = env.solution(state, actions.unsqueeze(1), b, 0)
        assert {min(tuple(r), tuple(r[::-1])) for r in sol} == _routes(data["routes"][i])
    # the three rows of instance 0 use random route orders/directions and symmetries, not always the same
    assert len({tuple(actions[b].tolist()) for b in (0, 4, 5)}) > 1 or len(_routes(data["routes"][0])) == 1
    assert env_data["coords"].min() >= 0 and env_data["coords"].max() <= 1


def test_knapsack_sequence_chooses_the_expert_items_and_the_loss_is_finite():
    from coptim import solvers

    env = make("knapsack")
    insts = [experts.instance("knapsack", 10, 5, i) for i in range(3)]
    sols = [solvers.solve("knapsack", inst, "dp").solution for inst in insts]
    arr = [experts.arrays("knapsack", inst, sol) for inst, sol in zip(insts, sols)]
    arrays = {k: torch.from_numpy(np.stack([a[k] for a in arr])) for k in experts.KEYS["knapsack"]}
    env_data, actions, targets = teacher.expert_batch("knapsack", arrays, torch.arange(3), env,
                                                      torch.Generator().manual_seed(0))
    model = new_model(TrainConfig("knapsack", 10, model=TINY))
    loss, acc = teacher.imitation_loss(model, env, env_data, actions, targets)
    assert torch.isfinite(loss) and loss > 0 and 0 <= float(acc) <= 1
    loss.backward()
    state = env.reset(env_data, 1)
    for t in range(actions.shape[1]):
        state = env.step(state, actions[:, t:t + 1])
    for b, sol in enumerate(sols):
        assert sorted(env.solution(state, actions.unsqueeze(1), b, 0)) == sorted(sol)
    # an action sequence that stops early is refused
    with pytest.raises(InputError, match="ends before"):
        teacher.imitation_loss(model, env, env_data, actions[:, :1], targets[:, :1])


def _cfg(problem, size, **kw) -> TrainConfig:
    base = dict(method="imitation", experts=6, epochs=2, steps_per_epoch=3, batch_size=4, lr=1e-3, seed=3,
                val_size=4, checkpoint_every=1, model=TINY)
    base.update(kw)
    return TrainConfig(problem, size, **base)


@pytest.mark.parametrize("problem,size", [("cvrp", 6), ("knapsack", 8)])
def test_imitation_resume_gives_identical_weights(tmp_path, problem, size):
    cfg = _cfg(problem, size)
    full = train(cfg, tmp_path / "full", validate=False, expert_dir=tmp_path / "experts")
    part = train(cfg, tmp_path / "part", validate=False, expert_dir=tmp_path / "experts", stop_after=4)
    assert part["stopped"] == "stop_after"
    train(cfg, tmp_path / "part", validate=False, expert_dir=tmp_path / "experts")
    a, b = load_file(tmp_path / "full" / "policy.pt")["model"], load_file(tmp_path / "part" / "policy.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a) and full["step"] == 6
    with pytest.raises(InputError, match="other training settings"):
        train(_cfg(problem, size, experts=5), tmp_path / "part", validate=False, expert_dir=tmp_path / "e5")
    assert not (tmp_path / "e5").exists()  # refused before any expert solution is made


def test_imitation_learns_the_knapsack_expert(tmp_path):
    cfg = _cfg("knapsack", 12, experts=200, epochs=3, steps_per_epoch=40, batch_size=16, lr=3e-3, val_size=50,
               model={"dim": 32, "layers": 2, "heads": 4, "ff": 64})
    res = train(cfg, tmp_path)
    with open(tmp_path / "log.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert float(rows[-1]["train_acc"]) > 0.9 and rows[-1]["mean_reward"] == ""
    model, meta = load_policy(tmp_path / "best.pt", "knapsack")
    assert meta["size"] == 12
    # the untrained policy is about 30 % below the optimum on this validation set
    assert res["best_val_greedy_gap_pct"] < 1.0


def test_imitation_settings_are_checked():
    with pytest.raises(InputError, match="BQ"):
        TrainConfig("tsp", 6, method="imitation", experts=3)
    with pytest.raises(InputError, match="experts"):
        TrainConfig("cvrp", 6, method="imitation")
    with pytest.raises(InputError, match="pomo"):
        TrainConfig("cvrp", 6, method="imitation", experts=3, augment=2)
    with pytest.raises(InputError, match="imitation"):
        TrainConfig("cvrp", 6, experts=3)
    with pytest.raises(InputError, match="method"):
        TrainConfig("cvrp", 6, method="reinforce")


def test_train_cli_imitation_for_knapsack_from_init(tmp_path):
    from typer.testing import CliRunner

    from coptim import train_cli

    base = tmp_path / "base"
    train(TrainConfig("knapsack", 8, epochs=1, steps_per_epoch=1, batch_size=2, model=TINY), base, validate=False)
    args = ["knapsack", "--method", "imitation", "--size", "8", "--experts", "10", "--epochs", "1",
            "--steps-per-epoch", "2", "--batch-size", "4", "--val-size", "3", "--init", str(base / "policy.pt"),
            "--out", str(tmp_path / "run"), "--json"]
    res = CliRunner().invoke(train_cli.app, args)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["step"] == 2 and (tmp_path / "run" / "experts" / "experts.json").is_file()
    stored = load_file(tmp_path / "run" / "checkpoint.pt")["train_config"]
    assert stored["method"] == "imitation" and stored["experts"] == 10 and stored["init"] == str(base / "policy.pt")
    for bad in (["cvrp", "--method", "imitation", "--knn", "5"], ["cvrp", "--method", "imitation", "--starts", "3"],
                ["knapsack", "--expert-dir", str(tmp_path)]):
        res = CliRunner().invoke(train_cli.app, [*bad, "--size", "6", "--out", str(tmp_path / "x")])
        assert isinstance(res.exception, InputError), bad
