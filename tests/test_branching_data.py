"""Learned branching, data side: observations, the branching environment, expert samples, dataset."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from coptim.branching import collect as col
from coptim.branching.dataset import BranchingDataset, load_sample
from coptim.branching.features import (FEATURE_LAYOUT, N_CONSTRAINT_FEATURES, N_EDGE_FEATURES, N_VARIABLE_FEATURES,
                                       FeatureExtractor, Observation)
from coptim.envs.branching import BranchingEnv
from coptim.errors import InputError
from coptim.problems import milp
from coptim.problems.milp_generators import generate_indset
from coptim.solvers.milp_scip import TOP_PRIORITY, build_model

from test_cli import run

# Small instances branch only when SCIP's presolve and root cuts are off.
SMALL_TREE = {"presolving/maxrounds": 0, "separating/maxroundsroot": 0}
DATA = Path(__file__).parent / "data" / "milp"


def small(seed: int = 0, n: int = 100):
    return generate_indset(n, np.random.default_rng(seed))


# ----------------------------------------------------------------------------- features


def _observe_nodes(instance, n_nodes: int, params=SMALL_TREE, check: bool = True):
    """Solve with pscost; at the first ``n_nodes`` branchings record an observation and checks."""
    import pyscipopt
    from pyscipopt import SCIP_RESULT

    records = []

    class Probe(pyscipopt.Branchrule):
        extractor = None

        def branchexeclp(self, allowaddcons):
            model = self.model
            if len(records) >= n_nodes:
                return {"result": SCIP_RESULT.DIDNOTRUN}
            if self.extractor is None:
                self.extractor = FeatureExtractor(model)
            start = time.perf_counter()
            obs = self.extractor.observe(model)
            elapsed = time.perf_counter() - start
            rows = model.getLPRowsData()
            inf = model.infinity()
            n_split = sum(r.getLhs() > -inf for r in rows) + sum(r.getRhs() < inf for r in rows)
            n_split_edges = sum(r.getNLPNonz() * ((r.getLhs() > -inf) + (r.getRhs() < inf)) for r in rows)
            fresh = FeatureExtractor(model).observe(model) if check else None  # no cache: same arrays
            cands = model.getLPBranchCands()
            variables = self.extractor.variables()
            records.append(dict(obs=obs, fresh=fresh, n_split=n_split, n_cols=model.getNLPCols(), time=elapsed,
                                n_rows=len(rows), n_split_edges=n_split_edges, names=[v.name for v in self.extractor.variables()],
                                cand_names={v.name for v in cands[0][: cands[4]]},
                                chosen_names=[variables[c].name for c in obs.candidates.tolist()],
                                lpsol=[variables[c].getLPSol() for c in obs.candidates.tolist()],
                                types=[variables[c].vtype() for c in obs.candidates.tolist()]))
            return {"result": SCIP_RESULT.DIDNOTRUN}

    model = build_model(instance, branching="pscost", time_limit=30)
    col.gasse_settings(model, 0)
    for key, value in params.items():
        model.setParam(key, value)
    model.setParam("branching/pscost/priority", TOP_PRIORITY - 1)
    model.includeBranchrule(Probe(), "probe", "", TOP_PRIORITY, -1, 1.0)
    model.optimize()
    return records


def test_observation_shapes_values_and_candidates():
    records = _observe_nodes(small(0), 8)
    assert len(records) >= 3
    for rec in records:
        obs: Observation = rec["obs"]
        m, n, e = obs.constraint_features.shape[0], obs.variable_features.shape[0], obs.edge_index.shape[1]
        assert obs.constraint_features.shape == (m, N_CONSTRAINT_FEATURES) and obs.constraint_features.dtype == np.float32
        assert obs.variable_features.shape == (n, N_VARIABLE_FEATURES) and obs.variable_features.dtype == np.float32
        assert obs.edge_index.shape == (2, e) and obs.edge_index.dtype == np.int64
        assert obs.edge_features.shape == (e, N_EDGE_FEATURES) and obs.edge_features.dtype == np.float32
        assert obs.candidates.dtype == np.int64 and obs.candidates.ndim == 1 and obs.candidates.size > 0
        for arr in (obs.constraint_features, obs.variable_features, obs.edge_features):
            assert np.isfinite(arr).all()
        assert n == rec["n_cols"] and m == rec["n_split"]  # one <= constraint per finite side
        assert e == rec["n_split_edges"]
        assert obs.edge_index[0].max() < m and obs.edge_index[1].max() < n and obs.edge_index.min() >= 0
        vf = obs.variable_features
        assert np.allclose(vf[:, 0:4].sum(axis=1), 1) and np.allclose(vf[:, 10:14].sum(axis=1), 1)
        # candidates: SCIP's LP branching candidates, integer and fractional in the LP solution
        assert set(rec["chosen_names"]) == rec["cand_names"]
        assert all(t in ("BINARY", "INTEGER") for t in rec["types"])
        x = np.array(rec["lpsol"])
        assert (np.abs(x - np.round(x)) > 1e-6).all()
        assert np.allclose(vf[obs.candidates, 16], x, atol=1e-6) and (vf[obs.candidates, 9] > 0).all()
        # the cached extractor agrees with a fresh one
        fresh = rec["fresh"]
        for key, value in obs.arrays().items():
            assert np.array_equal(value, getattr(fresh, key)), key
    mean_ms = 1000 * np.mean([r["time"] for r in records])
    print(f"extraction: {mean_ms:.3f} ms per node on {records[0]['n_cols']} columns")


def test_rows_split_on_ranged_rows():
    """A row with two finite sides becomes two constraints, with opposite coefficient signs."""
    base = small(0)
    fields = {f: getattr(base, f) for f in ("var_names", "vtypes", "lb", "ub", "obj", "sense")}
    ranged = np.array([3, 17, 42, 64, 88])
    inst = milp.MILPInstance(
        name="ranged", **fields,
        row_ptr=np.append(base.row_ptr, base.nnz + ranged.size), col_idx=np.append(base.col_idx, ranged),
        coefs=np.append(base.coefs, np.ones(ranged.size)), lhs=np.append(base.lhs, 1.0),
        rhs=np.append(base.rhs, 2.0), row_names=base.row_names + ("ranged",))
    records = _observe_nodes(inst, 2)
    assert records
    for rec in records:
        obs = rec["obs"]
        assert obs.constraint_features.shape[0] == rec["n_split"] > rec["n_rows"]
        # the variables of the ranged row have edges with both signs
        edges = obs.edge_index[1]
        coefs = obs.edge_features[:, 0]
        v = [name.removeprefix("t_") for name in rec["names"]].index("x17")
        assert (coefs[edges == v] < 0).any() and (coefs[edges == v] > 0).any()
        assert obs.edge_index.shape[1] == rec["n_split_edges"]


def test_extraction_time_on_easy_setcover():
    """Measured (not asserted): milliseconds per node on a Gasse 'easy' set cover instance."""
    inst = milp.generate_setcover(500, np.random.default_rng(1))
    records = _observe_nodes(inst, 20, params={"limits/nodes": 60}, check=False)
    assert records and records[0]["obs"].variable_features.shape[0] == 1000
    times = np.array([r["time"] for r in records[1:]]) * 1000
    print(f"setcover 500x1000: median {np.median(times):.3f} ms, mean {times.mean():.3f} ms per node")


# ----------------------------------------------------------------------------- environment


def test_random_episode_terminates_with_rewards():
    rng = np.random.default_rng(0)
    env = BranchingEnv(reward="nodes", time_limit=30, scip_params=SMALL_TREE)
    obs, info = env.reset(small(0), seed=0)
    assert obs is not None and info["terminated"] is False and info["n_candidates"] == obs.candidates.size
    total, steps = 0.0, 0
    terminated = truncated = False
    while not (terminated or truncated):
        obs, reward, terminated, truncated, info = env.step(int(rng.integers(obs.candidates.size)))
        assert reward <= 0
        total += reward
        steps += 1
    assert terminated and not truncated and obs is None
    assert info["status"] == "optimal" and info["branchings"] == steps
    assert total == -(info["nodes"] - 1)  # nodes after the first decision
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.close()


@pytest.mark.parametrize("reward", ["lp_iterations", "solving_time"])
def test_other_rewards(reward):
    with BranchingEnv(reward=reward, scip_params=SMALL_TREE) as env:
        obs, _ = env.reset(small(1), seed=0)
        total = 0.0
        while obs is not None:
            obs, r, *_ , info = env.step(0)
            total += r
        assert total < 0


def test_node_limit_truncates():
    env = BranchingEnv(node_limit=3, scip_params=SMALL_TREE)
    obs, _ = env.reset(small(0), seed=0)
    terminated = truncated = False
    while obs is not None:
        obs, _, terminated, truncated, info = env.step(0)
    assert truncated and not terminated and info["status"] == "node_limit"


def test_bad_actions_and_abandoned_episodes():
    threads = threading.active_count()
    env = BranchingEnv(scip_params=SMALL_TREE)
    obs, _ = env.reset(small(0), seed=0)
    with pytest.raises(InputError, match="index into the"):
        env.step(obs.candidates.size)
    with pytest.raises(InputError):
        env.step(-1)
    env.step(0)
    env.reset(small(2), seed=1)  # abandons the first episode
    episode = env._episode
    del env  # abandoned without close(): the finaliser stops the solve
    import gc

    gc.collect()
    episode.thread.join(10)
    assert not episode.thread.is_alive()
    assert threading.active_count() == threads


def test_no_integer_variables_and_infeasible_and_malformed(tmp_path):
    lp = milp.MILPInstance(name="lp", var_names=("x", "y"), vtypes=("continuous", "continuous"), lb=[0, 0],
                           ub=[4, 4], obj=[-1, -1], row_ptr=[0, 2], col_idx=[0, 1], coefs=[1, 2],
                           lhs=[-np.inf], rhs=[3.5])
    env = BranchingEnv()
    obs, info = env.reset(lp)
    assert obs is None and info["terminated"] and info["status"] == "optimal" and info["branchings"] == 0
    assert "without branching" in info["reason"]
    infeasible = milp.MILPInstance(name="inf", var_names=("x", "y"), vtypes=("integer", "integer"), lb=[0, 0],
                                   ub=[4, 4], obj=[1, 1], row_ptr=[0, 2], col_idx=[0, 1], coefs=[2, 2],
                                   lhs=[3.0], rhs=[3.0])  # 2x + 2y = 3 has no integer solution
    obs, info = env.reset(infeasible)
    assert obs is None and info["terminated"] and info["status"] == "infeasible" and "infeasible" in info["reason"]
    with pytest.raises(InputError, match="syntax error"):
        env.reset(DATA / "malformed.mps")
    with pytest.raises(InputError, match="reward"):
        BranchingEnv(reward="gap")


# ----------------------------------------------------------------------------- expert samples


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    root = tmp_path_factory.mktemp("collect")
    paths = []
    for i in range(2):
        path = root / "instances" / f"is{i}.mps"
        path.parent.mkdir(exist_ok=True)
        milp.write(small(i), path)
        paths.append(path)
    out = root / "samples"
    summary = col.collect(paths, out, samples=1000, seed=0, expert_probability=0.5, time_limit=30,
                          scip_params=SMALL_TREE, max_passes=1)
    return paths, out, summary


def test_collection_writes_samples(collected):
    paths, out, summary = collected
    files = col.sample_files(out)
    assert summary.errors == [] and summary.episodes == 2 and summary.samples == len(files) > 0
    markers = sorted((out / col.DONE_DIR).iterdir())
    assert [m.name for m in markers] == ["is0-s0.json", "is1-s0.json"]
    done = [json.loads(m.read_text()) for m in markers]
    assert sum(d["samples"] for d in done) == len(files)
    assert all(d["status"] == "optimal" for d in done)
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    with np.load(files[0]) as f:
        assert set(f.files) == {"constraint_features", "edge_index", "edge_features", "variable_features",
                                "candidates", "candidate_scores", "action", "instance", "seed", "feature_layout"}
        scores, action = f["candidate_scores"], int(f["action"])
        assert scores.shape == f["candidates"].shape and action == int(np.argmax(scores))
        assert str(f["feature_layout"]) == FEATURE_LAYOUT and str(f["instance"]) in ("is0", "is1")


def test_rerun_skips_done_episodes(collected):
    paths, out, _ = collected
    before = {p: p.stat().st_mtime_ns for p in col.sample_files(out)}
    summary = col.collect(paths, out, samples=1000, seed=0, expert_probability=0.5, time_limit=30,
                          scip_params=SMALL_TREE, max_passes=1)
    assert summary.episodes == 0 and summary.skipped == 2 and summary.new_samples == 0
    assert {p: p.stat().st_mtime_ns for p in col.sample_files(out)} == before
    # an unfinished episode (no marker) is redone and rewrites the same samples
    marker = col.marker_path(out, paths[1], 0)
    marker.unlink()
    again = col.collect_episode(col.CollectJob(str(paths[1]), str(out), 0, 0.5, 30.0,
                                               scip_params=tuple(SMALL_TREE.items())))
    assert again.new_files == 0 and marker.exists()
    assert again.samples == json.loads(marker.read_text())["samples"]


def test_dataset_batches_with_increments(collected):
    from torch_geometric.loader import DataLoader

    _, out, _ = collected
    ds = BranchingDataset(out.parent)  # recursive: finds the samples folder
    assert len(ds) == len(col.sample_files(out)) >= 3
    items = [ds[i] for i in range(3)]
    for item in items:
        assert item.edge_attr.shape == (item.edge_index.shape[1], 1)
        assert item.n_candidates.item() == item.candidates.numel() == item.candidate_scores.numel()
    batch = next(iter(DataLoader(ds, batch_size=3, shuffle=False)))
    m0, n0 = items[0].constraint_features.shape[0], items[0].variable_features.shape[0]
    m1, n1 = items[1].constraint_features.shape[0], items[1].variable_features.shape[0]
    e0, e1 = items[0].edge_index.shape[1], items[1].edge_index.shape[1]
    assert torch.equal(batch.edge_index[:, :e0], items[0].edge_index)
    assert torch.equal(batch.edge_index[:, e0:e0 + e1], items[1].edge_index + torch.tensor([[m0], [n0]]))
    assert torch.equal(batch.edge_index[:, e0 + e1:], items[2].edge_index + torch.tensor([[m0 + m1], [n0 + n1]]))
    k0, k1 = items[0].candidates.numel(), items[1].candidates.numel()
    assert torch.equal(batch.candidates[k0:k0 + k1], items[1].candidates + n0)
    assert torch.equal(batch.candidates[k0 + k1:], items[2].candidates + n0 + n1)
    assert batch.action.tolist() == [it.action.item() for it in items]  # not incremented
    assert batch.n_candidates.tolist() == [k0, k1, items[2].candidates.numel()]
    assert batch.variable_features.shape == (n0 + n1 + items[2].variable_features.shape[0], N_VARIABLE_FEATURES)


def test_dataset_bad_input(collected, tmp_path):
    _, out, _ = collected
    with pytest.raises(InputError, match="no sample files"):
        BranchingDataset(tmp_path)
    with pytest.raises(InputError, match="not found"):
        BranchingDataset(tmp_path / "missing")
    sample = col.sample_files(out)[0]
    with np.load(sample) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["feature_layout"] = np.str_("other-v0")
    np.savez_compressed(tmp_path / "old.npz", **arrays)
    with pytest.raises(InputError, match="feature layout 'other-v0'"):
        load_sample(tmp_path / "old.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="cannot read"):
        load_sample(tmp_path / "junk.npz")


def test_collect_bad_input(tmp_path):
    with pytest.raises(InputError, match="not found"):
        col.collect([tmp_path / "nope.mps"], tmp_path / "s", samples=10)
    with pytest.raises(InputError, match="expert probability"):
        col.collect([DATA / "flugpl.mps"], tmp_path / "s", samples=10, expert_probability=0)
    with pytest.raises(InputError, match="syntax error"):
        col.collect_episode(col.CollectJob(str(DATA / "malformed.mps"), str(tmp_path / "s")))
    summary = col.collect([DATA / "malformed.mps"], tmp_path / "s", samples=10)
    assert summary.episodes == 0 and len(summary.errors) == 1 and "syntax error" in summary.errors[0]


def test_cli_collect(capsys, tmp_path):
    inst = tmp_path / "inst"
    inst.mkdir()
    milp.write(small(0), inst / "a.mps")
    code, _, err = run(capsys, "branching", "collect", "--instances-dir", str(inst), "--samples", "3",
                       "--expert-probability", "1", "--out", str(tmp_path / "run"), "--time-limit", "20",
                       "--scip-param", "presolving/maxrounds=0", "--scip-param", "separating/maxroundsroot=0")
    assert code == 0, err
    assert len(col.sample_files(tmp_path / "run" / "samples")) >= 3
    code, _, err = run(capsys, "branching", "collect", "--instances-dir", str(tmp_path / "none"), "--samples", "3",
                       "--out", str(tmp_path / "run"))
    assert code == 2 and "instance folder not found" in err
    code, _, err = run(capsys, "branching", "collect", "--kind", "nosuch", "--samples", "3", "--out", str(tmp_path))
    assert code == 2 and "unknown generator" in err
    code, _, err = run(capsys, "branching", "collect", "--instances-dir", str(inst), "--samples", "3",
                       "--scip-param", "no/such=1", "--out", str(tmp_path / "run2"))
    assert code == 2 and "no parameter 'no/such'" in err
