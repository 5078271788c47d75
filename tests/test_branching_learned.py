"""Learned branching: GCNN policy, imitation training (resumable), the SCIP rule with its fallback,
``--branching learned:...`` in the solver and the CLI, and the branching benchmark table."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from branching_synthetic import LAYOUT, SampleList, samples, write_npz
from coptim import solvers
from coptim.branching import features
from coptim.branching.model import (FORMAT, GCNNPolicy, PolicyConfig, candidate_logits, candidate_softmax,
                                    graph_of_candidates, load_file, pad_candidates)
from coptim.branching.rule import LearnedBranchingWarning, attach, load_policy
from coptim.branching.train import TrainConfig, evaluate, topk_correct, train
from coptim.errors import InputError
from coptim.problems import milp
from coptim.solvers import milp_scip

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data" / "milp"
TINY = {"emb_size": 16}


def _batch(items):
    from torch_geometric.loader import DataLoader

    return next(iter(DataLoader(items, batch_size=len(items))))


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(path)["model"]


def _setcover(rows=300, cols=100, seed=1):
    """Small enough to solve in a fraction of a second, large enough for SCIP to branch."""
    return milp.generate_setcover(rows, np.random.default_rng(seed), ncols=cols, density=0.05)


@pytest.fixture(scope="module")
def tiny_policy(tmp_path_factory) -> Path:
    """A policy trained for two epochs on synthetic samples labelled with the real feature layout."""
    out = tmp_path_factory.mktemp("tiny-policy")
    data = SampleList(samples(48, 0), feature_layout=features.FEATURE_LAYOUT)
    valid = SampleList(samples(16, 1), feature_layout=features.FEATURE_LAYOUT)
    train(TrainConfig(epochs=2, batch_size=16, model=TINY), data, valid, out)
    return out / "best.pt"


# ----------------------------------------------------------------------------- the policy


def test_forward_shapes_masked_softmax_and_batching():
    items = samples(6, 0)
    torch.manual_seed(0)
    model = GCNNPolicy(PolicyConfig(feature_layout=LAYOUT)).eval()
    batch = _batch(items)
    with torch.no_grad():
        logits = model.logits(batch)
        assert logits.shape == (sum(s.variable_features.shape[0] for s in items),)
        cand = candidate_logits(model, batch)
        k = [int(s.n_candidates) for s in items]
        assert cand.shape == (sum(k),)
        probs = candidate_softmax(cand, batch.n_candidates)
        sums = torch.zeros(len(items)).index_add(0, graph_of_candidates(batch.n_candidates), probs)
        assert torch.allclose(sums, torch.ones(len(items)), atol=1e-6)
        assert (probs > 0).all()
        padded = pad_candidates(cand, batch.n_candidates)
        assert padded.shape == (len(items), max(k))
        assert torch.allclose(torch.softmax(padded, 1).sum(1), torch.ones(len(items)))
        # batching shifts edges and candidates correctly: the same logits as one graph at a time
        for i, s in enumerate(items):
            alone = candidate_logits(model, _batch([s]))
            assert torch.allclose(alone, padded[i, :k[i]], atol=1e-5)


def test_real_dataset_samples_batch_and_forward(tmp_path):
    from coptim.branching.dataset import BranchingDataset

    write_npz(tmp_path, samples(5, 3), features.FEATURE_LAYOUT)
    ds = BranchingDataset(tmp_path)
    batch = _batch([ds[i] for i in range(len(ds))])
    model = GCNNPolicy(PolicyConfig(feature_layout=features.FEATURE_LAYOUT))
    padded = pad_candidates(candidate_logits(model, batch), batch.n_candidates)
    assert padded.shape[0] == 5 and batch.action.shape == (5,)
    assert topk_correct(padded, batch).shape == (5, 4)


def test_prenorm_standardises_training_features():
    items = samples(20, 2)
    for s in items:
        s.variable_features[:, 3] = 7.0  # a constant feature keeps scale 1
    model = GCNNPolicy(PolicyConfig(feature_layout=LAYOUT))
    counts = model.fit_prenorm([_batch(items[:10]), _batch(items[10:])])
    assert counts["variables"] == sum(s.variable_features.shape[0] for s in items)
    x = model.var_norm(torch.cat([s.variable_features for s in items]))
    assert torch.allclose(x.mean(0), torch.zeros(19), atol=1e-4)
    std = x.std(0, unbiased=False)
    assert torch.allclose(std[[0, 1, 2, 4]], torch.ones(4), atol=1e-4)
    assert model.var_norm.scale[3] == 1.0 and x[:, 3].abs().max() < 1e-5
    e = model.edge_norm(torch.cat([s.edge_attr for s in items]))
    assert abs(float(e.mean())) < 1e-4 and abs(float(e.std(unbiased=False)) - 1) < 1e-4  # the edge feature survives
    assert bool(model.prenorm_fitted)


def test_topk_counts_ties_with_the_best_score_as_correct():
    items = samples(3, 4)
    batch = _batch(items)
    n = batch.n_candidates
    scores = torch.zeros(int(n.sum()))
    logits = torch.zeros(int(n.sum()))
    starts = torch.cumsum(n, 0) - n
    # graph 0: the highest logit is on a candidate tied with the best score -> top-1 correct
    k0 = int(n[0])
    if k0 >= 2:
        scores[0] = scores[1] = 5.0
        logits[1] = 3.0
    else:
        scores[0], logits[0] = 5.0, 3.0
    # graph 1: the best candidate has the second highest logit -> wrong at top-1, right at top-3
    s1, k1 = int(starts[1]), int(n[1])
    if k1 >= 2:
        scores[s1 + k1 - 1] = 9.0
        logits[s1] = 2.0
        logits[s1 + k1 - 1] = 1.0
    batch.candidate_scores = scores
    padded = pad_candidates(logits, n)
    ok = topk_correct(padded, batch, (1, 3))
    assert ok[0, 0] == 1
    if k1 >= 2:
        assert ok[1, 0] == 0 and ok[1, 1] == 1


# ----------------------------------------------------------------------------- training


def _cfg(**kw) -> TrainConfig:
    base = dict(epochs=4, batch_size=16, seed=3, model=TINY, lr_patience=1, early_stopping=10)
    base.update(kw)
    return TrainConfig(**base)


def test_training_learns_and_resume_gives_identical_weights(tmp_path):
    data, valid = SampleList(samples(96, 0)), SampleList(samples(32, 1))
    full = train(_cfg(epochs=6, lr=3e-3), data, valid, tmp_path / "full")
    assert full["stopped"] == "finished" and full["epoch"] == 6
    rows = list(csv.DictReader(open(tmp_path / "full" / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == list(range(1, 7))
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    assert float(rows[-1]["valid_loss"]) < float(rows[0]["valid_loss"])
    first = train(_cfg(epochs=6, lr=3e-3), data, valid, tmp_path / "part", stop_after_epochs=2)
    assert first["stopped"] == "stop_after" and first["epoch"] == 2
    rest = train(_cfg(epochs=6, lr=3e-3), data, valid, tmp_path / "part")
    assert rest["epoch"] == 6 and rest["best_valid_loss"] == full["best_valid_loss"]
    for name in ("policy.pt", "best.pt"):
        a, b = _weights(tmp_path / "full" / name), _weights(tmp_path / "part" / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    ca, cb = load_file(tmp_path / "full" / "checkpoint.pt"), load_file(tmp_path / "part" / "checkpoint.pt")
    assert torch.equal(ca["rng"], cb["rng"]) and ca["scheduler"] == cb["scheduler"]
    again = list(csv.DictReader(open(tmp_path / "part" / "log.csv")))
    assert [r["valid_loss"] for r in again] == [r["valid_loss"] for r in rows]
    # held-out accuracy of the best policy
    res = evaluate(load_policy(tmp_path / "full" / "best.pt"), SampleList(samples(40, 9)))
    assert res["samples"] == 40 and 0 <= res["acc1"] <= res["acc5"] <= res["acc10"] <= 1
    assert res["acc1"] > 0.5  # the synthetic expert is learnable (chance is about 1/5)


_KILL_SCRIPT = """
import sys, time, torch
torch.set_num_threads(1)
sys.path.insert(0, sys.argv[2])
from branching_synthetic import SampleList, samples
from coptim.branching.train import TrainConfig, train
cfg = TrainConfig(epochs=4, batch_size=16, seed=3, model={"emb_size": 16}, lr_patience=1, early_stopping=10)
def tick(epoch, row):
    print(epoch, flush=True)
    time.sleep(0.3)
train(cfg, SampleList(samples(64, 0)), SampleList(samples(16, 1)), sys.argv[1], on_epoch=tick)
"""


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(_KILL_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    killed = tmp_path / "killed"
    tests_dir = str(Path(__file__).parent)
    proc = subprocess.Popen([sys.executable, str(script), str(killed), tests_dir], stdout=subprocess.PIPE, text=True,
                            env=env)
    for line in proc.stdout:
        if line.strip() == "2":
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert 2 <= load_file(killed / "checkpoint.pt")["epoch"] < 4
    subprocess.run([sys.executable, str(script), str(killed), tests_dir], check=True, env=env, capture_output=True)
    clean = train(_cfg(epochs=4), SampleList(samples(64, 0)), SampleList(samples(16, 1)), tmp_path / "clean")
    assert clean["epoch"] == 4
    a, b = _weights(killed / "policy.pt"), _weights(tmp_path / "clean" / "policy.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [int(r["epoch"]) for r in csv.DictReader(open(killed / "log.csv"))] == [1, 2, 3, 4]
    assert not list(killed.glob(".*.tmp"))


def test_init_starts_from_a_policy_and_refuses_another_architecture(tmp_path, tiny_policy):
    data = SampleList(samples(8, 0), feature_layout=features.FEATURE_LAYOUT)
    valid = SampleList(samples(4, 1), feature_layout=features.FEATURE_LAYOUT)
    train(TrainConfig(epochs=1, model=TINY, init=str(tiny_policy)), data, valid, tmp_path / "a", stop_after_epochs=0)
    start, ref = _weights(tmp_path / "a" / "policy.pt"), _weights(tiny_policy)
    assert all(torch.equal(start[k], ref[k]) for k in ref)  # pre-normalisation included
    with pytest.raises(InputError, match="another architecture"):
        train(TrainConfig(epochs=1, model={"emb_size": 8}, init=str(tiny_policy)), data, valid, tmp_path / "b")
    with pytest.raises(InputError, match="not found|no such|cannot"):
        train(TrainConfig(epochs=1, model=TINY, init=str(tmp_path / "missing.pt")), data, valid, tmp_path / "c")


def test_resume_refuses_other_settings_architecture_layout_or_data(tmp_path):
    data, valid = SampleList(samples(32, 0)), SampleList(samples(8, 1))
    train(_cfg(epochs=1), data, valid, tmp_path)
    with pytest.raises(InputError, match="lr"):
        train(_cfg(epochs=2, lr=0.5), data, valid, tmp_path)
    with pytest.raises(InputError, match="model"):
        train(_cfg(epochs=2, model={"emb_size": 32}), data, valid, tmp_path)
    other = SampleList(samples(32, 0), feature_layout="other-v9")
    with pytest.raises(InputError, match="feature layout"):
        train(_cfg(epochs=2), other, SampleList(samples(8, 1), feature_layout="other-v9"), tmp_path)
    with pytest.raises(InputError, match="other data"):
        train(_cfg(epochs=2), SampleList(samples(30, 0)), valid, tmp_path)
    assert train(_cfg(epochs=2), data, valid, tmp_path)["epoch"] == 2  # more epochs may be asked for
    with pytest.raises(InputError, match="feature layout"):
        train(_cfg(epochs=1), data, SampleList(samples(8, 1), feature_layout="other-v9"), tmp_path / "new")
    with pytest.raises(InputError, match="feature layout"):
        evaluate(load_policy(tmp_path / "best.pt"), other)


# ----------------------------------------------------------------------------- policy files


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_bad_policy_files_give_clear_errors(tmp_path, tiny_policy):
    with pytest.raises(InputError, match="no shipped branching policy named 'nope'"):
        load_policy("nope")
    with pytest.raises(InputError, match="not found"):
        load_policy(tmp_path / "missing.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    truncated = tmp_path / "truncated.pt"
    raw = tiny_policy.read_bytes()
    truncated.write_bytes(raw[: len(raw) // 2])
    for bad in (garbage, truncated):
        with pytest.raises(InputError, match="corrupted, truncated"):
            load_policy(bad)
    other = tmp_path / "other.pt"
    torch.save({"format": "coptim-pomo-v1", "model": {}}, other)
    with pytest.raises(InputError, match="not a coptim branching policy"):
        load_policy(other)
    obj = load_file(tiny_policy)
    wrong_arch = tmp_path / "arch.pt"
    torch.save({**obj, "config": {**obj["config"], "emb_size": 32}}, wrong_arch)
    with pytest.raises(InputError, match="does not match its declared architecture"):
        load_policy(wrong_arch)
    unknown_arch = tmp_path / "unknown.pt"
    torch.save({**obj, "config": {**obj["config"], "arch": "transformer"}}, unknown_arch)
    with pytest.raises(InputError, match="unknown policy architecture"):
        load_policy(unknown_arch)
    other_layout = tmp_path / "layout.pt"
    torch.save({**obj, "config": {**obj["config"], "feature_layout": "old-v0"}, "feature_layout": "old-v0"},
               other_layout)
    policy = load_policy(other_layout)
    model = milp.to_scip_model(_setcover())
    with pytest.raises(InputError, match="feature layout 'old-v0'"):
        attach(model, policy)
    assert obj["format"] == FORMAT and obj["feature_layout"] == features.FEATURE_LAYOUT


# ----------------------------------------------------------------------------- the branching rule


def test_learned_rule_reaches_the_relpscost_optimum(tiny_policy):
    inst = _setcover()
    ref = solvers.solve("milp", inst, "scip", time_limit=30, branching="relpscost")
    with warnings.catch_warnings():
        warnings.simplefilter("error", LearnedBranchingWarning)
        res = solvers.solve("milp", inst, "scip", time_limit=30, branching=f"learned:{tiny_policy}")
    assert ref.status == res.status == "optimal" and res.feasible
    assert res.objective == pytest.approx(ref.objective, rel=1e-9)
    assert res.stats["branching"] == f"learned:{tiny_policy}"
    assert res.stats["learned_branched"] > 0 and res.stats["learned_fallbacks"] == 0
    assert res.stats["inference_ms_per_node"] > 0 and res.stats["learned_error"] is None
    assert res.nodes >= res.stats["learned_branched"]


class _Raising(GCNNPolicy):
    def forward(self, *args):
        raise RuntimeError("boom")


class _NaN(GCNNPolicy):
    def forward(self, constraint_features, edge_index, edge_attr, variable_features):
        return torch.full((variable_features.shape[0],), float("nan"))


class _WrongCandidates:
    """The real extractor, but its candidates point at variables SCIP would not branch on."""

    def __init__(self, model):
        self.inner = features.FeatureExtractor(model)

    def variables(self):
        return self.inner.variables()

    def observe(self, model):
        obs = self.inner.observe(model)
        frac = obs.variable_features[:, features.VARIABLE_FEATURE_NAMES.index("solution_fractionality")]
        obs.candidates = np.flatnonzero(frac == 0)[:3].astype(np.int64)
        return obs


@pytest.mark.parametrize("failure", ["raises", "nan", "candidates"])
def test_failing_policy_falls_back_with_one_warning(failure):
    inst = _setcover()
    ref = solvers.solve("milp", inst, "scip", time_limit=30)
    cfg = PolicyConfig(feature_layout=features.FEATURE_LAYOUT, emb_size=8)
    policy = {"raises": _Raising, "nan": _NaN, "candidates": GCNNPolicy}[failure](cfg)
    model = milp.to_scip_model(inst)
    model.setParam("limits/time", 30.0)
    factory = _WrongCandidates if failure == "candidates" else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rule = attach(model, policy, extractor_factory=factory)
        model.optimize()
    ours = [w for w in caught if issubclass(w.category, LearnedBranchingWarning)]
    assert len(ours) == 1, [str(w.message) for w in caught]
    assert "SCIP's own branching rule takes over" in str(ours[0].message)
    assert model.getStatus() == "optimal"
    assert model.getObjVal() == pytest.approx(ref.objective, rel=1e-9)
    st = rule.stats()
    assert st["learned_failures"] == 1 and st["learned_branched"] == 0 and st["learned_fallbacks"] >= 1
    assert rule.disabled and st["learned_error"]


@pytest.mark.parametrize(("file", "statuses"), [("infeasible.lp", {"infeasible"}),
                                                ("unbounded.lp", {"unbounded", "inforunbd"}),
                                                ("lp_only.lp", {"optimal"}),
                                                ("knapsack_mip.mps", {"optimal"})])
def test_learned_rule_on_special_models(tiny_policy, file, statuses):
    inst = milp.read(DATA / file)
    res = solvers.solve("milp", inst, "scip", time_limit=10, branching=f"learned:{tiny_policy}")
    ref = solvers.solve("milp", inst, "scip", time_limit=10)
    assert res.status in statuses and res.status == ref.status
    assert res.objective == ref.objective or res.objective == pytest.approx(ref.objective)
    assert res.stats["learned_failures"] == 0


def test_learned_rule_reports_the_time_limit(tiny_policy):
    inst = milp.generate_setcover(500, np.random.default_rng(0), ncols=1000, density=0.05)
    res = solvers.solve("milp", inst, "scip", time_limit=0.5, branching=f"learned:{tiny_policy}")
    assert res.status == "time_limit" and res.stats["learned_failures"] == 0


def test_attach_checks_its_arguments(tiny_policy):
    model = milp.to_scip_model(_setcover())
    with pytest.raises(InputError, match="threads"):
        attach(model, tiny_policy, threads=0)
    with pytest.raises(InputError, match="learned:NAME"):
        milp_scip.build_model(_setcover(), branching="best")
    with pytest.raises(InputError, match="no shipped branching policy"):
        milp_scip.build_model(_setcover(), branching="learned:missing")
    rule = attach(model, tiny_policy, threads=1)
    assert rule.threads == 1 and model.getParam("branching/relpscost/priority") == 10000


def test_scip_params_option_sets_gasse_settings_and_refuses_bad_ones():
    model = milp_scip.build_model(_setcover(), params=milp_scip.GASSE_PARAMS)
    assert model.getParam("separating/maxrounds") == 0 and model.getParam("presolving/maxrestarts") == 0
    for bad, message in (({"nope/x": 1}, "unknown SCIP parameter 'nope/x'"),
                         ({"separating/maxrounds": "a"}, "takes an integer"),
                         ({"separating/maxrounds": -5}, "refuses separating/maxrounds = -5"),
                         ("x", "must map SCIP parameter names")):
        with pytest.raises(InputError, match=message):
            milp_scip.build_model(_setcover(), params=bad)


# ----------------------------------------------------------------------------- CLI and benchmark


def _cli(args, capsys):
    from coptim.cli import main

    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_cli_learned_branching(tmp_path, capsys, tiny_policy):
    path = tmp_path / "sc.mps"
    milp.write(_setcover(), path)
    code, out, err = _cli(["solve", "milp", str(path), "--branching", "learned:missing", "--json"], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("coptim: error: no shipped branching policy named 'missing'")
    code, out, err = _cli(["solve", "milp", str(path), "--branching", f"learned:{tmp_path / 'x.pt'}"], capsys)
    assert code == 2 and "policy file not found" in err and err.count("\n") == 1
    code, out, err = _cli(["solve", "milp", str(path), "--branching", f"learned:{tiny_policy}", "--json",
                           "-t", "30"], capsys)
    assert code == 0
    payload = json.loads(out)
    assert out.count("\n") == 1 and payload["status"] == "optimal" and payload["feasible"]
    assert payload["nodes"] >= 1 and payload["stats"]["learned_branched"] > 0


def test_train_cli_on_sample_folders(tmp_path):
    from typer.testing import CliRunner

    from coptim.branching.train_cli import app

    write_npz(tmp_path / "train", samples(24, 0), features.FEATURE_LAYOUT)
    write_npz(tmp_path / "valid", samples(8, 1), features.FEATURE_LAYOUT)
    args = ["train", "--train", str(tmp_path / "train"), "--valid", str(tmp_path / "valid"), "--out",
            str(tmp_path / "run"), "--epochs", "2", "--seed", "1", "--emb-size", "8", "--batch-size", "8",
            "--test", str(tmp_path / "valid"), "--json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["epoch"] == 2 and summary["feature_layout"] == features.FEATURE_LAYOUT
    assert summary["test"]["samples"] == 8
    assert (tmp_path / "run" / "best.pt").is_file()
    res = CliRunner().invoke(app, ["evaluate", str(tmp_path / "run" / "best.pt"), "--samples",
                                   str(tmp_path / "valid")])
    assert res.exit_code == 0 and "acc@1" in res.stdout
    res = CliRunner().invoke(app, ["train", "--train", str(tmp_path / "nope"), "--valid", str(tmp_path / "valid"),
                                   "--out", str(tmp_path / "run2")])
    assert isinstance(res.exception, InputError) and "not found" in str(res.exception)


def test_branching_benchmark_and_table(tmp_path, capsys, tiny_policy):
    import importlib.util

    from coptim import bench

    folder = tmp_path / "setcover-tiny"
    folder.mkdir()
    for i in range(3):
        milp.write(milp.generate_setcover(120, np.random.default_rng([7, i]), ncols=60, density=0.08,
                                          name=f"sc{i}"), folder / f"sc{i}.mps")
    out = tmp_path / "results.csv"
    for rule in ("relpscost", "pscost", f"learned:{tiny_policy}"):
        bench.run_bench("milp", sorted(folder.glob("*.mps")), ["scip"], time_limit=20, seeds=1, out=out,
                        progress=False, options={"branching": rule})
    spec = importlib.util.spec_from_file_location("branching_table", ROOT / "bench" / "branching" / "table.py")
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    capsys.readouterr()
    assert table.main([str(out)]) == 0
    text = capsys.readouterr().out
    for rule in ("scip:relpscost", "scip:pscost", f"scip:learned:{tiny_policy}"):
        assert f"| setcover-tiny (3) | {rule} | 20 s | 3 | 3 | 0 |" in text
    assert "same objective on each of the 3 instance(s)" in text
    lines = [line for line in text.splitlines() if line.startswith("| setcover-tiny")]
    assert sum(int(line.rsplit("|", 3)[-3]) for line in lines) >= 3
    assert all(line.endswith("| – |") for line in lines)  # no time-limited run, no open gap
    rows = list(csv.DictReader(open(out)))
    # a run stopped by the time limit reports its relative primal-dual gap
    limited = [dict(r) for r in rows]
    limited[0].update(status="time_limit", dual_bound=str(float(limited[0]["objective"]) * 0.9))
    with open(tmp_path / "limited.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=bench.COLUMNS)
        w.writeheader()
        w.writerows(limited)
    assert table.main([str(tmp_path / "limited.csv")]) == 0
    assert "| 10.00 |" in capsys.readouterr().out
    # an instance every rule left open: the rule with the smallest gap there is counted
    same = [r for r in limited if r["path"] == limited[0]["path"]]
    assert len(same) == 3
    for r, factor in zip(same, (0.9, 0.8, 0.7)):
        r.update(status="time_limit", dual_bound=str(float(r["objective"]) * factor))
    with open(tmp_path / "limited.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=bench.COLUMNS)
        w.writeheader()
        w.writerows(limited)
    assert table.main([str(tmp_path / "limited.csv")]) == 0
    text = capsys.readouterr().out
    assert "| 10.00 (1 lowest) |" in text and "| 20.00 (0 lowest) |" in text and "| 30.00 (0 lowest) |" in text
    # a run that disagrees on an optimal value is reported, with exit status 1
    rows[0]["objective"] = str(float(rows[0]["objective"]) + 1)
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=bench.COLUMNS)
        w.writeheader()
        w.writerows(rows)
    assert table.main([str(out)]) == 1
    assert "optimal values differ" in capsys.readouterr().out
