"""The hybrid branching policy (Gupta et al. 2020): root observations, training, the rule; and the GCNN's conv."""

from __future__ import annotations

import csv
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from coptim import solvers
from coptim.branching import collect as col
from coptim.branching import roots as rts
from coptim.branching.features import FEATURE_LAYOUT
from coptim.branching.hybrid import HybridConfig, NodeSamples, evaluate_nodes, new_hybrid, train_hybrid
from coptim.branching.hybrid import _loss as hybrid_loss
from coptim.branching.model import BipartiteConv, GCNNPolicy, HybridPolicy, PolicyConfig
from coptim.branching.rule import LearnedBranchingWarning, attach, load_policy
from coptim.branching.train import TrainConfig, train
from coptim.errors import InputError
from coptim.problems import milp
from coptim.problems.milp_generators import generate_indset

from test_cli import run

torch.set_num_threads(1)

SMALL_TREE = {"presolving/maxrounds": 0, "separating/maxroundsroot": 0}


def test_conv_equals_gasse_per_edge_layers():
    """Summing before the last linear map gives the numbers of Gasse's per-edge message MLP."""
    torch.manual_seed(0)
    conv = BipartiteConv(8, 1)
    left, right = torch.randn(5, 8), torch.randn(7, 8)
    edge_index = torch.stack([torch.randint(0, 5, (30,)), torch.randint(0, 7, (30,))])
    edge = torch.randn(30, 1)
    src, dst = edge_index
    msg = conv.feature_final(conv.feature_left(left)[src] + conv.feature_edge(edge) + conv.feature_right(right)[dst])
    agg = torch.zeros(7, 8).index_add_(0, dst, msg)
    expected = conv.output(torch.cat([conv.post_conv(agg), right], dim=-1))
    torch.testing.assert_close(conv(left, edge_index, edge, right), expected, rtol=1e-5, atol=1e-5)


def test_variables_only_observation_matches_the_full_one():
    import pyscipopt
    from pyscipopt import SCIP_RESULT

    from coptim.branching.features import FeatureExtractor

    seen = []

    class Compare(pyscipopt.Branchrule):
        def branchexeclp(self, allowaddcons):
            if not hasattr(self, "extractor"):
                self.extractor = FeatureExtractor(self.model)
            small = self.extractor.observe(self.model, constraints=False)  # first, then the full one
            full = self.extractor.observe(self.model)
            seen.append((small, full))
            if len(seen) >= 5:
                self.model.interruptSolve()
            self.model.branchVar(self.extractor.variables()[int(full.candidates[0])])
            return {"result": SCIP_RESULT.BRANCHED}

    inst = milp.generate_setcover(300, np.random.default_rng(1), ncols=100, density=0.05)
    model = milp.to_scip_model(inst)
    model.includeBranchrule(Compare(), "compare", "", 10**6, -1, 1.0)
    model.optimize()
    assert len(seen) >= 2
    for small, full in seen:
        np.testing.assert_array_equal(small.variable_features, full.variable_features)
        np.testing.assert_array_equal(small.candidates, full.candidates)
        assert small.constraint_features.shape == (0, 5) and small.edge_index.shape == (2, 0)


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    """Two small independent-set instances, samples (with roots saved by the collection) and a tiny GCNN."""
    root = tmp_path_factory.mktemp("hybrid")
    paths = []
    for i in range(3):
        path = root / "instances" / f"is{i}.mps"
        path.parent.mkdir(exist_ok=True)
        milp.write(generate_indset(100, np.random.default_rng(i)), path)
        paths.append(path)
    for name, files in (("train", paths[:2]), ("valid", paths[2:])):
        summary = col.collect(files, root / name / "samples", samples=1000, seed=0, expert_probability=0.5,
                              time_limit=30, scip_params=SMALL_TREE, max_passes=1)
        assert summary.errors == [] and summary.samples > 0
    gcnn = root / "gcnn"
    train(TrainConfig(epochs=2, batch_size=8, model={"emb_size": 16}), root / "train" / "samples",
          root / "valid" / "samples", gcnn)
    return root, paths


def test_collection_saves_roots_that_write_roots_reproduces(collected, tmp_path):
    root, _ = collected
    saved = sorted((root / "train" / "roots").iterdir())
    assert [p.name for p in saved] == ["is0-s0.npz", "is1-s0.npz"]
    # roots are not samples, even when a dataset is read from the parent folder
    assert col.sample_files(root / "train") == col.sample_files(root / "train" / "samples")
    copy = tmp_path / "samples"
    shutil.copytree(root / "train" / "samples", copy)
    summary = rts.write_roots(copy, scip_params=SMALL_TREE)
    assert summary["written"] == 2 and summary["errors"] == []
    again = rts.write_roots(copy, scip_params=SMALL_TREE)
    assert again["written"] == 0 and again["existing"] == 2  # resumable: nothing redone
    for path in saved:
        a, b = rts.load_root(path), rts.load_root(tmp_path / "roots" / path.name)
        assert set(a) == set(b)
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        assert int(a["node"]) == 1 and str(a["feature_layout"]) == FEATURE_LAYOUT


def test_hybrid_trains_resumes_and_branches(collected, tmp_path):
    root, paths = collected
    gcnn = root / "gcnn" / "best.pt"
    cfg = HybridConfig(epochs=4, batch_size=4, seed=0)
    full = train_hybrid(cfg, gcnn, root / "train" / "samples", root / "valid" / "samples", tmp_path / "full")
    assert full["stopped"] == "finished" and full["epoch"] == 4 and full["skipped_without_root"] == 0
    part = tmp_path / "part"
    first = train_hybrid(cfg, gcnn, root / "train" / "samples", root / "valid" / "samples", part, stop_after_epochs=2)
    assert first["stopped"] == "stop_after" and first["epoch"] == 2
    second = train_hybrid(cfg, gcnn, root / "train" / "samples", root / "valid" / "samples", part)
    assert second["epoch"] == 4
    a = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(part / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    policy = load_policy(tmp_path / "full" / "best.pt")
    assert isinstance(policy, HybridPolicy) and policy.cfg.arch == "hybrid"
    gnn = load_policy(gcnn)
    assert all(torch.equal(v, gnn.state_dict()[k]) for k, v in policy.gnn.state_dict().items())  # trunk frozen
    res = evaluate_nodes(policy, NodeSamples(root / "valid" / "samples", policy.gnn))
    assert 0 <= res["acc1"] <= res["acc5"] <= 1 and res["samples"] > 0
    # other settings or another GCNN are refused on resume
    with pytest.raises(InputError, match="other settings"):
        train_hybrid(HybridConfig(epochs=4, batch_size=8), gcnn, root / "train" / "samples",
                     root / "valid" / "samples", part)
    # inside SCIP: the root network runs once, the node part at every branching
    calls = {"root": 0}
    original = policy.root_embeddings

    def counting(*args):
        calls["root"] += 1
        return original(*args)

    policy.root_embeddings = counting
    inst = milp.generate_setcover(300, np.random.default_rng(1), ncols=100, density=0.05)
    ref = solvers.solve("milp", inst, "scip", time_limit=30, branching="relpscost")
    model = milp.to_scip_model(inst)
    model.setParam("limits/time", 30.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LearnedBranchingWarning)
        rule = attach(model, policy)
        model.optimize()
    stats = rule.stats()
    assert model.getStatus() == "optimal" and model.getObjVal() == pytest.approx(ref.objective, rel=1e-9)
    assert stats["learned_branched"] > 1 and stats["learned_fallbacks"] == 0
    assert calls["root"] == 1


def test_distillation_from_the_gcnn(collected, tmp_path):
    root, _ = collected
    gcnn = root / "gcnn" / "best.pt"
    gnn = load_policy(gcnn)
    data = NodeSamples(root / "train" / "samples", gnn, teacher=True)
    assert data.teacher.shape == data.scores.shape
    # the teacher's logits are the GCNN's on each sample's own graph
    from coptim.branching.collect import sample_files
    from coptim.branching.dataset import load_sample

    first = load_sample(sample_files(root / "train" / "samples")[0])
    with torch.no_grad():
        expected = gnn(first.constraint_features, first.edge_index, first.edge_attr, first.variable_features)
    k = int(data.n_candidates[0])
    torch.testing.assert_close(data.teacher[:k], expected[first.candidates])
    # the KD loss is finite with padded candidates, zero-weighted KD is plain cross-entropy
    batch = data.batch(torch.arange(min(4, len(data))))
    model = new_hybrid(gnn)
    ce, _ = hybrid_loss(model, batch)
    same, _ = hybrid_loss(model, batch, 0.0, 2.0)
    kd, _ = hybrid_loss(model, batch, 1.0, 2.0)
    assert torch.isfinite(kd) and kd >= 0 and torch.equal(ce, same)
    # training on the teacher alone lowers the distillation loss
    out = train_hybrid(HybridConfig(epochs=3, batch_size=4, distill=1.0, temperature=1.0), gcnn,
                       root / "train" / "samples", root / "valid" / "samples", tmp_path / "kd")
    assert out["epoch"] == 3
    with open(tmp_path / "kd" / "log.csv", newline="") as f:
        losses = [float(row["train_loss"]) for row in csv.DictReader(f)]  # the distillation loss here
    assert len(losses) == 3 and losses[-1] < losses[0]
    with pytest.raises(InputError, match="distill"):
        HybridConfig(distill=1.5)
    with pytest.raises(InputError, match="temperature"):
        HybridConfig(temperature=0)


def test_missing_roots_and_bad_root_networks(collected, tmp_path):
    root, _ = collected
    bare = tmp_path / "bare" / "samples"
    shutil.copytree(root / "train" / "samples", bare)
    with pytest.raises(InputError, match="coptim branching roots"):
        NodeSamples(bare, load_policy(root / "gcnn" / "best.pt"))
    hybrid = HybridPolicy(PolicyConfig(arch="hybrid", emb_size=16, feature_layout=FEATURE_LAYOUT))
    from coptim.branching.hybrid import new_hybrid

    with pytest.raises(InputError, match="trained GCNN"):
        new_hybrid(hybrid)
    with pytest.raises(InputError, match="not found"):
        rts.write_roots(tmp_path / "nowhere")
    empty = tmp_path / "empty" / "samples"
    empty.mkdir(parents=True)
    with pytest.raises(InputError, match="no finished collection episodes"):
        rts.write_roots(empty)


def test_cli_roots_and_train_hybrid(collected, tmp_path, capsys):
    root, _ = collected
    copy = tmp_path / "samples"
    shutil.copytree(root / "train" / "samples", copy)
    params = [f"--scip-param={k}={v}" for k, v in SMALL_TREE.items()]
    code, _, err = run(capsys, "branching", "roots", "--samples", str(copy), *params)
    assert code == 0, err
    assert "2 root observation(s) written" in err and len(list((tmp_path / "roots").iterdir())) == 2
    code, out, err = run(capsys, "branching", "train-hybrid", "--gnn", str(root / "gcnn" / "best.pt"),
                         "--train", str(root / "train" / "samples"), "--valid", str(root / "valid" / "samples"),
                         "--out", str(tmp_path / "h"), "--epochs", "2", "--test", str(root / "valid" / "samples"),
                         "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["epoch"] == 2 and 0 <= summary["test"]["acc1"] <= 1
    code, out, err = run(capsys, "branching", "evaluate", str(tmp_path / "h" / "best.pt"), "--samples",
                         str(root / "valid" / "samples"), "--json")
    assert code == 0, err
    assert json.loads(out)["acc1"] == pytest.approx(summary["test"]["acc1"])
    code, _, err = run(capsys, "branching", "roots", "--samples", str(tmp_path / "nowhere"))
    assert code == 2 and "sample folder not found" in err


@pytest.mark.parametrize("name", sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "solvers" / "branching")
                                        .glob("*.pt")))
def test_shipped_policies_load_have_cards_and_branch(name):
    from coptim.branching.rule import WEIGHTS_DIR

    assert (WEIGHTS_DIR / f"{name}.md").is_file(), f"{name}.pt has no model card"
    policy = load_policy(name)
    assert policy.feature_layout == FEATURE_LAYOUT and policy.cfg.arch in ("gcnn", "hybrid")
    inst = milp.generate_setcover(300, np.random.default_rng(1), ncols=100, density=0.05)
    ref = solvers.solve("milp", inst, "scip", time_limit=30, branching="relpscost")
    with warnings.catch_warnings():
        warnings.simplefilter("error", LearnedBranchingWarning)
        res = solvers.solve("milp", inst, "scip", time_limit=30, branching=f"learned:{name}")
    assert res.status == "optimal" and res.objective == pytest.approx(ref.objective, rel=1e-9)
    assert res.stats["learned_branched"] > 0 and res.stats["learned_fallbacks"] == 0
