"""POMO training: resume after a kill gives the same weights, CSV log, validation, checkpoint checks."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from coptim.errors import InputError
from coptim.training import TrainConfig, load_policy, train
from coptim.training.checkpoint import load_file
from coptim.training.pomo import new_model

torch.set_num_threads(1)

TINY = {"dim": 16, "layers": 1, "heads": 2, "ff": 32}


def _cfg(problem="tsp", size=6, **kw) -> TrainConfig:
    base = dict(epochs=2, steps_per_epoch=3, batch_size=4, lr=1e-3, seed=3, val_size=4, checkpoint_every=1,
                model=TINY)
    base.update(kw)
    return TrainConfig(problem, size, **base)


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(path)["model"]


@pytest.mark.parametrize("problem,size,augment", [("tsp", 6, 1), ("tsp", 6, 2), ("cvrp", 5, 1), ("knapsack", 6, 1)])
def test_resume_after_stop_gives_identical_weights(tmp_path, problem, size, augment):
    cfg = _cfg(problem, size, augment=augment)
    full = train(cfg, tmp_path / "full", validate=False)
    assert full["step"] == 6 and full["stopped"] == "finished"
    part = train(cfg, tmp_path / "part", validate=False, stop_after=4)
    assert part["step"] == 4 and part["stopped"] == "stop_after"
    rest = train(cfg, tmp_path / "part", validate=False)
    assert rest["step"] == 6
    a, b = _weights(tmp_path / "full" / "policy.pt"), _weights(tmp_path / "part" / "policy.pt")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    ca, cb = load_file(tmp_path / "full" / "checkpoint.pt"), load_file(tmp_path / "part" / "checkpoint.pt")
    assert torch.equal(ca["rng"], cb["rng"])


_KILL_SCRIPT = """
import sys, torch
torch.set_num_threads(1)
from coptim.training import TrainConfig, train
cfg = TrainConfig("tsp", 6, epochs=2, steps_per_epoch=5, batch_size=4, lr=1e-3, seed=1, checkpoint_every=1,
                  model={"dim": 16, "layers": 1, "heads": 2, "ff": 32})
def slow(step, total, info):
    print(step, flush=True)
    import time; time.sleep(0.05)
train(cfg, sys.argv[1], validate=False, on_step=slow)
"""


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(_KILL_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(script), str(killed)], stdout=subprocess.PIPE, text=True, env=env)
    for line in proc.stdout:  # kill after the 4th step
        if line.strip() == "4":
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert 4 <= load_file(killed / "checkpoint.pt")["step"] < 10
    subprocess.run([sys.executable, str(script), str(killed)], check=True, env=env, capture_output=True)
    clean = tmp_path / "clean"
    subprocess.run([sys.executable, str(script), str(clean)], check=True, env=env, capture_output=True)
    a, b = _weights(killed / "policy.pt"), _weights(clean / "policy.pt")
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert not list(killed.glob("*.tmp")) and not list(killed.glob(".*.tmp"))


def test_validation_log_and_best_weights(tmp_path):
    cfg = _cfg("tsp", 6)
    summary = train(cfg, tmp_path)
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    for r in rows:
        assert float(r["val_greedy_gap_pct"]) >= -1e-9  # references are exact optima for 6 nodes
        assert float(r["val_multistart_gap_pct"]) <= float(r["val_greedy_gap_pct"]) + 1e-9
        assert float(r["samples_per_s"]) > 0
    assert (tmp_path / "reference.json").is_file()
    assert (tmp_path / "best.pt").is_file()
    model, meta = load_policy(tmp_path / "best.pt", "tsp")
    assert meta["size"] == 6 and meta["problem"] == "tsp"
    assert summary["best_val_greedy_gap_pct"] == pytest.approx(min(float(r["val_greedy_gap_pct"]) for r in rows))
    # a second call finds the run finished and the cached references
    again = train(cfg, tmp_path)
    assert again["step"] == 6
    assert len(list(csv.DictReader(open(tmp_path / "log.csv")))) == 2


def test_resume_refuses_other_problem_size_or_settings(tmp_path):
    train(_cfg("tsp", 6, epochs=1), tmp_path, validate=False)
    with pytest.raises(InputError, match="size"):
        train(_cfg("tsp", 7, epochs=1), tmp_path, validate=False)
    with pytest.raises(InputError, match="cvrp|tsp"):
        train(_cfg("cvrp", 6, epochs=1), tmp_path, validate=False)
    with pytest.raises(InputError, match="lr"):
        train(_cfg("tsp", 6, epochs=1, lr=0.5), tmp_path, validate=False)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_corrupted_and_truncated_checkpoints_give_clear_errors(tmp_path):
    train(_cfg("tsp", 6, epochs=1), tmp_path, validate=False)
    good = (tmp_path / "policy.pt").read_bytes()
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(good[: len(good) // 2])
    with pytest.raises(InputError, match="corrupted"):
        load_policy(trunc)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(InputError, match="corrupted"):
        load_policy(junk)
    with pytest.raises(InputError, match="not found"):
        load_policy(tmp_path / "missing.pt")
    with pytest.raises(InputError, match="problem"):
        load_policy(tmp_path / "policy.pt", "cvrp")
    obj = load_file(tmp_path / "policy.pt")
    obj["model_config"] = {**obj["model_config"], "layers": 2}
    bad = tmp_path / "arch.pt"
    torch.save(obj, bad)
    with pytest.raises(InputError, match="architecture"):
        load_policy(bad)
    torch.save({"format": "something-else"}, bad)
    with pytest.raises(InputError, match="not a coptim"):
        load_policy(bad)
    # a pickle with arbitrary objects is refused by weights_only loading
    import pickle

    class Evil:
        def __reduce__(self):
            return (time.sleep, (0,))

    with open(bad, "wb") as fh:
        pickle.dump(Evil(), fh)
    with pytest.raises(InputError):
        load_policy(bad)
    (tmp_path / "checkpoint.pt").write_bytes(b"\x00" * 10)
    with pytest.raises(InputError, match="corrupted"):
        train(_cfg("tsp", 6, epochs=1), tmp_path, validate=False)


def test_bad_training_settings():
    for kw in ({"batch_size": 0}, {"starts": 99}, {"lr": -1.0}, {"augment": 9}):
        with pytest.raises(InputError):
            _cfg(**kw)
    with pytest.raises(InputError):
        _cfg("knapsack", 6, augment=8)
    with pytest.raises(InputError):
        _cfg("milp", 6)


def test_train_cli_command_mounted_on_an_app(tmp_path):
    import json as _json

    import typer
    from typer.testing import CliRunner

    from coptim import train_cli

    app = typer.Typer()

    @app.command()
    def other() -> None:  # a second command, as in the real CLI
        pass

    app.command("train")(train_cli.train)
    args = ["train", "tsp", "--size", "5", "--epochs", "2", "--steps-per-epoch", "2", "--batch-size", "2",
            "--val-size", "3", "--layers", "1", "--dim", "16", "--heads", "2", "--out", str(tmp_path), "--json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    summary = _json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["step"] == 4 and (tmp_path / "log.csv").is_file()
    res = CliRunner().invoke(app, ["train", "tsp", "--method", "a2c", "--size", "5", "--out", str(tmp_path)])
    assert isinstance(res.exception, InputError)


def test_lr_schedule_values_and_validation():
    cfg = _cfg(epochs=2, steps_per_epoch=5, lr=1e-3, lr_schedule="cosine", warmup_steps=2, min_lr=1e-4)
    lrs = [cfg.lr_at(s) for s in range(cfg.total_steps)]
    assert lrs[0] == pytest.approx(5e-4) and lrs[1] == pytest.approx(1e-3) and lrs[2] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(lrs[2:], lrs[3:]))  # non-increasing after the warm-up
    assert lrs[-1] > 1e-4 and cfg.lr_at(cfg.total_steps) == pytest.approx(1e-4)
    const = _cfg(lr=1e-3)
    assert {const.lr_at(s) for s in range(const.total_steps)} == {1e-3}
    for kw in ({"lr_schedule": "step"}, {"warmup_steps": -1}, {"min_lr": 1.0}, {"min_lr": -1e-5}):
        with pytest.raises(InputError):
            _cfg(**kw)


def test_cosine_schedule_resumed_exactly(tmp_path):
    """A cosine schedule with warm-up, stopped mid-run and resumed: same weights, optimiser state and lr."""
    cfg = _cfg(epochs=3, steps_per_epoch=3, lr=3e-3, lr_schedule="cosine", warmup_steps=2, min_lr=1e-5)
    lrs_full: list[float] = []
    train(cfg, tmp_path / "full", validate=False, on_step=lambda s, t, info: lrs_full.append(info["lr"]))
    lrs_part: list[float] = []
    train(cfg, tmp_path / "part", validate=False, stop_after=5, on_step=lambda s, t, info: lrs_part.append(info["lr"]))
    train(cfg, tmp_path / "part", validate=False, on_step=lambda s, t, info: lrs_part.append(info["lr"]))
    assert lrs_part == lrs_full == [cfg.lr_at(s) for s in range(cfg.total_steps)]
    a, b = _weights(tmp_path / "full" / "policy.pt"), _weights(tmp_path / "part" / "policy.pt")
    for k in a:
        assert torch.equal(a[k], b[k]), k
    oa = load_file(tmp_path / "full" / "checkpoint.pt")["optimizer"]
    ob = load_file(tmp_path / "part" / "checkpoint.pt")["optimizer"]
    assert oa["param_groups"][0]["lr"] == ob["param_groups"][0]["lr"] == lrs_full[-1]
    # another schedule is another run: refused on resume
    with pytest.raises(InputError, match="lr_schedule"):
        train(_cfg(epochs=3, steps_per_epoch=3, lr=3e-3, warmup_steps=2, min_lr=1e-5), tmp_path / "part", validate=False)


def test_checkpoint_without_schedule_settings_resumes_as_constant(tmp_path):
    """Checkpoints written before the schedule settings existed resume with the constant schedule."""
    cfg = _cfg()
    train(cfg, tmp_path, validate=False, stop_after=2)
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    for key in ("lr_schedule", "warmup_steps", "min_lr"):
        del ckpt["train_config"][key]
    torch.save(ckpt, tmp_path / "checkpoint.pt")
    assert train(cfg, tmp_path, validate=False)["step"] == cfg.total_steps
    with pytest.raises(InputError, match="lr_schedule"):
        train(_cfg(lr_schedule="cosine", epochs=3), tmp_path, validate=False)


def test_train_cli_schedule_options(tmp_path):
    from typer.testing import CliRunner

    from coptim import train_cli

    args = ["--size", "5", "--epochs", "2", "--steps-per-epoch", "2", "--batch-size", "2", "--val-size", "3",
            "--layers", "1", "--dim", "16", "--heads", "2", "--lr-schedule", "cosine", "--warmup-steps", "1",
            "--min-lr", "1e-5", "--out", str(tmp_path), "--json"]
    res = CliRunner().invoke(train_cli.app, ["tsp", *args])
    assert res.exit_code == 0, res.output
    stored = load_file(tmp_path / "checkpoint.pt")["train_config"]
    assert (stored["lr_schedule"], stored["warmup_steps"], stored["min_lr"]) == ("cosine", 1, 1e-5)
    res = CliRunner().invoke(train_cli.app, ["tsp", *args[:-3], "--lr-schedule", "step", "--out", str(tmp_path / "x")])
    assert isinstance(res.exception, InputError)


def test_init_fine_tunes_from_weights_of_another_size(tmp_path):
    """--init starts from given weights (here trained on 6 items, fine-tuned on 9); a resumed run does not
    need the init file any more; other architectures or problems are refused."""
    from typer.testing import CliRunner

    from coptim import train_cli

    train(_cfg("knapsack", 6, epochs=1), tmp_path / "base", validate=False)
    base = tmp_path / "base" / "policy.pt"
    init = tmp_path / "init.pt"
    init.write_bytes(base.read_bytes())
    cfg = _cfg("knapsack", 9, init=str(init))
    start, trained = new_model(cfg).state_dict(), _weights(base)
    assert all(torch.equal(start[k], trained[k]) for k in trained)
    train(cfg, tmp_path / "ft", validate=False, stop_after=2)
    init.unlink()
    assert train(cfg, tmp_path / "ft", validate=False)["step"] == cfg.total_steps
    assert load_file(tmp_path / "ft" / "checkpoint.pt")["train_config"]["init"] == str(init)
    with pytest.raises(InputError, match="architecture"):
        train(_cfg("knapsack", 9, init=str(base), model={**TINY, "dim": 32}), tmp_path / "other", validate=False)
    with pytest.raises(InputError, match="knapsack"):
        train(_cfg("tsp", 9, init=str(base)), tmp_path / "tsp", validate=False)
    # the CLI takes the architecture from the weights and refuses a clash
    args = ["knapsack", "--size", "8", "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "2",
            "--val-size", "3", "--init", str(base), "--json"]
    res = CliRunner().invoke(train_cli.app, [*args, "--out", str(tmp_path / "cli")])
    assert res.exit_code == 0, res.output
    assert load_file(tmp_path / "cli" / "checkpoint.pt")["model_config"]["dim"] == TINY["dim"]
    res = CliRunner().invoke(train_cli.app, [*args, "--layers", "2", "--out", str(tmp_path / "clash")])
    assert isinstance(res.exception, InputError) and "layers" in str(res.exception)
    res = CliRunner().invoke(train_cli.app, ["tsp", "--method", "imitation", "--size", "5", "--init", str(base),
                                             "--out", str(tmp_path / "im")])
    assert isinstance(res.exception, InputError)


def test_cvrp_capacity_range_in_training(tmp_path):
    """``capacity=[lo, hi]`` draws each CVRP training instance's capacity from lo..hi; the CLI's
    ``--capacity LO:HI`` sets it; other problems, imitation and bad ranges are refused."""
    from typer.testing import CliRunner

    from coptim import train_cli
    from coptim.envs import make

    env = make("cvrp")
    data = env.generate(64, 10, torch.Generator().manual_seed(0), capacity=(20, 40))
    cap = data["capacity"]
    assert cap.dtype == torch.long and int(cap.min()) >= 20 and int(cap.max()) <= 40 and len(set(cap.tolist())) > 5
    assert env.generate(2, 10, capacity=33)["capacity"].tolist() == [33, 33]
    with pytest.raises(InputError, match="largest demand"):
        env.generate(2, 10, capacity=(5, 40))
    cfg = _cfg("cvrp", 8, capacity=[15, 60])
    assert train(cfg, tmp_path / "run", validate=False)["step"] == cfg.total_steps
    assert load_file(tmp_path / "run" / "checkpoint.pt")["train_config"]["capacity"] == [15, 60]
    for bad in (dict(problem="tsp", capacity=[15, 60]), dict(problem="cvrp", capacity=[8, 60]),
                dict(problem="cvrp", capacity=[60, 15]), dict(problem="cvrp", capacity=[15]),
                dict(problem="cvrp", capacity=[15, 60], method="imitation", experts=5)):
        with pytest.raises(InputError):
            _cfg(size=8, **bad)
    args = ["cvrp", "--size", "8", "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "2",
            "--val-size", "3", "--layers", "1", "--dim", "16", "--heads", "2"]
    res = CliRunner().invoke(train_cli.app, [*args, "--capacity", "20:30", "--out", str(tmp_path / "cli")])
    assert res.exit_code == 0, res.output
    assert load_file(tmp_path / "cli" / "checkpoint.pt")["train_config"]["capacity"] == [20, 30]
    for bad in ("x", "20:30:40", "5:30"):
        res = CliRunner().invoke(train_cli.app, [*args, "--capacity", bad, "--out", str(tmp_path / "bad")])
        assert isinstance(res.exception, InputError), bad
