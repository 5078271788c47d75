"""The BQ decoder-only policy: sub-problem tokens, decoding, imitation training, the learned-tsp-bq solver."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from coptim import problems, solvers
from coptim.errors import InputError
from coptim.policies import bq
from coptim.problems.tsp import generate_uniform
from coptim.training import imitation
from coptim.training.checkpoint import read_file, save_atomic

torch.set_num_threads(1)

TINY = {"dim": 16, "layers": 1, "heads": 2, "ff": 32}


def _model(seed: int = 0) -> bq.BQModel:
    torch.manual_seed(seed)
    return bq.BQModel(bq.BQConfig(**TINY)).eval()


def _cfg(**kw) -> imitation.ImitationConfig:
    base = dict(size=7, experts=30, epochs=2, steps_per_epoch=3, batch_size=8, lr=1e-3, warmup_steps=0,
                val_size=4, checkpoint_every=1, model=TINY)
    base.update(kw)
    return imitation.ImitationConfig(**base)


def test_logits_follow_the_order_of_the_candidates():
    model = _model()
    tokens = torch.rand(3, 2 + 6, 2)
    perm = torch.randperm(6)
    a = model(tokens)
    b = model(torch.cat([tokens[:, :2], tokens[:, 2:][:, perm]], dim=1))
    assert a.shape == (3, 6)
    assert torch.allclose(a[:, perm], b, atol=1e-5)


def test_subproblem_tokens_are_normalised_and_candidates_respect_knn():
    coords = torch.tensor([[[0.0, 0.0], [0.5, 0.0], [0.25, 0.1], [0.9, 0.9], [0.3, 0.0]]])
    remaining = torch.tensor([[False, True, True, True, True]])
    origin = torch.tensor([0])
    assert bq.candidates(coords, origin, remaining, None).tolist() == [[1, 2, 3, 4]]
    assert sorted(bq.candidates(coords, origin, remaining, 2).tolist()[0]) == [2, 4]
    tok = bq.subproblem_tokens(coords, origin, origin, torch.tensor([[2, 4]]))
    assert tok.shape == (1, 4, 2)
    assert float(tok.min()) == 0.0 and float(tok.max()) == 1.0  # the sub-problem fills the unit square


def test_a_far_destination_is_moved_onto_the_border_of_the_neighbourhood():
    coords = torch.tensor([[[0.0, 0.0], [0.1, 0.0], [0.0, 0.2], [0.1, 0.2], [10.0, 0.1], [0.05, 0.15]]])
    origin, cand = torch.tensor([0]), torch.tensor([[1, 2, 3]])
    far = bq.subproblem_tokens(coords, origin, torch.tensor([4]), cand, clamp_dest=True)
    plain = bq.subproblem_tokens(coords, origin, torch.tensor([4]), cand)
    # the neighbourhood (box 0.1 x 0.2, centre (0.05, 0.1)) fills the square; the destination sits on the
    # border of the square box around it, in its own direction (half side 0.1: x = 0.15, over the span 0.2)
    assert torch.allclose(far[0, [0, 2, 3, 4]], torch.tensor([[0.0, 0.0], [0.5, 0.0], [0.0, 1.0], [0.5, 1.0]]))
    assert torch.allclose(far[0, 1], torch.tensor([0.75, 0.5]), atol=1e-5)
    assert float(plain[0, 3:].max()) < 0.05  # without it the neighbourhood is squeezed into a corner
    # a destination inside the box is left where it is
    inside = bq.subproblem_tokens(coords, origin, torch.tensor([5]), cand, clamp_dest=True)
    assert torch.equal(inside, bq.subproblem_tokens(coords, origin, torch.tensor([5]), cand))


@pytest.mark.parametrize("starts,augment,beam,knn", [(1, 1, 1, None), (3, 1, 1, None), (1, 8, 1, None), (2, 2, 1, 4),
                                                     (1, 1, 4, None), (2, 2, 3, 4), (1, 1, 30, None)])
def test_decode_gives_tours_and_keeps_the_shortest(starts, augment, beam, knn):
    model = _model()
    coords = torch.rand(5, 9, 2, generator=torch.Generator().manual_seed(1))
    tours = bq.decode(model, coords, starts=starts, augment=augment, beam_width=beam, knn=knn, chunk=7)
    assert tours.shape == (5, 9)
    for t in tours.tolist():
        assert sorted(t) == list(range(9))
    single = bq.decode(model, coords)
    assert bool((bq.tour_lengths(coords, tours) <= bq.tour_lengths(coords, single) + 1e-6).all())


def _logprob(model, c, tour):
    """Summed log-probability of a tour of coordinates ``c`` (``(n, 2)``) under the policy, step by step."""
    n, total = len(tour), 0.0
    remaining = sorted(set(range(n)) - {tour[0]})
    for k in range(1, n - 1):
        tok = bq.subproblem_tokens(c[None], torch.tensor([tour[k - 1]]), torch.tensor([tour[0]]),
                                   torch.tensor([remaining]))
        with torch.no_grad():
            total += float(torch.log_softmax(model(tok), -1)[0, remaining.index(tour[k])])
        remaining.remove(tour[k])
    return total


def test_beam_search_width_one_is_greedy_and_a_wide_beam_is_exhaustive():
    import itertools

    model = _model(2)
    n = 5
    coords = torch.rand(2, n, 2, generator=torch.Generator().manual_seed(5))
    start = torch.zeros(2, dtype=torch.long)
    greedy = bq.beam_tours(model, coords, start, width=1)
    wide = bq.beam_tours(model, coords, start, width=24)  # 4! tours from a fixed start: every one is kept
    assert greedy.shape == (2, n) and wide.shape == (48, n)
    for i in range(2):
        # width 1: the most likely next node at every step
        tour, remaining = [0], sorted(range(1, n))
        while len(remaining) > 1:
            tok = bq.subproblem_tokens(coords[i][None], torch.tensor([tour[-1]]), torch.tensor([0]),
                                       torch.tensor([remaining]))
            with torch.no_grad():
                tour.append(remaining[int(model(tok)[0].argmax())])
            remaining.remove(tour[-1])
        assert greedy[i].tolist() == tour + remaining
        scores = {p: _logprob(model, coords[i], [0, *p]) for p in itertools.permutations(range(1, n))}
        beams = wide[24 * i:24 * (i + 1)].tolist()
        assert sorted(tuple(b[1:]) for b in beams) == sorted(scores)  # all 24 tours, once each
        assert abs(_logprob(model, coords[i], beams[0]) - max(scores.values())) < 1e-4  # ranked first


def test_decode_refuses_bad_options_and_large_instances_without_knn():
    model = _model()
    coords = torch.rand(1, 5, 2)
    for kw in ({"starts": 0}, {"starts": 6}, {"augment": 9}, {"knn": 1}, {"knn": True}, {"beam_width": 0}):
        with pytest.raises(InputError):
            bq.decode(model, coords, **kw)
    with pytest.raises(InputError, match="k-nearest-neighbour"):
        bq.decode(model, torch.rand(1, bq.FULL_VIEW_LIMIT + 1, 2))


def test_subpath_samples_are_suffixes_of_expert_tours():
    size = 9
    tours = torch.stack([torch.randperm(size, generator=torch.Generator().manual_seed(i)) for i in range(4)])
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        ids, origin, dest, cand = imitation.subpath_nodes(tours, 8, gen)
        assert 2 <= cand.shape[1] <= size - 1
        for i, o, d, c in zip(ids.tolist(), origin.tolist(), dest.tolist(), cand.tolist()):
            # origin, the candidates in order (the first is the label) and the destination are a
            # stretch of the expert's cyclic tour, in one direction or the other
            stretch = [o, *c, d]
            tour = tours[i].tolist()
            ok = False
            for seq in (tour, tour[::-1]):
                p = seq.index(o)
                ok |= [seq[(p + k) % size] for k in range(len(stretch))] == stretch
            assert ok


def test_subpath_batch_tokens_are_the_sub_problem_under_a_symmetry():
    size = 8
    coords = torch.rand(3, size, 2, generator=torch.Generator().manual_seed(2))
    tours = torch.stack([torch.randperm(size, generator=torch.Generator().manual_seed(i)) for i in range(3)])
    tokens, labels = imitation.subpath_batch(coords, tours, 16, torch.Generator().manual_seed(0))
    ids, origin, dest, cand = imitation.subpath_nodes(tours, 16, torch.Generator().manual_seed(0))
    assert labels.tolist() == [0] * 16 and tokens.shape == (16, 2 + cand.shape[1], 2)
    for tok, i, o, d, c in zip(tokens, ids.tolist(), origin.tolist(), dest.tolist(), cand.tolist()):
        pts = coords[i][[o, d, *c]]
        ratio = torch.cdist(tok, tok) / torch.cdist(pts, pts).clamp_min(1e-12)
        off = ~torch.eye(len(pts), dtype=torch.bool)
        assert torch.allclose(ratio[off], ratio[off][0], rtol=1e-4)  # same shape, scaled: an isometry + scaling
    assert float(tokens.min()) >= 0.0 and float(tokens.max()) <= 1.0 + 1e-6
    again, _ = imitation.subpath_batch(coords, tours, 16, torch.Generator().manual_seed(0))
    assert torch.equal(tokens, again)  # seeded


def test_expert_data_is_cached_resumable_and_checked(tmp_path):
    c, t = imitation.expert_data(6, 5, 0, tmp_path / "e")
    assert c.shape == (5, 6, 2) and t.shape == (5, 6)
    prob = problems.get("tsp")
    for i in range(5):
        inst = generate_uniform(6, np.random.default_rng([0, i]))
        assert prob.check(inst, t[i].tolist()).feasible
    files = sorted(p.name for p in (tmp_path / "e").glob("shard-*.npz"))
    assert files == ["shard-0000000-0000005.npz"]
    mtime = (tmp_path / "e" / files[0]).stat().st_mtime_ns
    c2, t2 = imitation.expert_data(6, 5, 0, tmp_path / "e")
    assert torch.equal(t, t2) and (tmp_path / "e" / files[0]).stat().st_mtime_ns == mtime  # not solved again
    with pytest.raises(InputError, match="other settings"):
        imitation.expert_data(7, 5, 0, tmp_path / "e")
    (tmp_path / "e" / files[0]).write_bytes(b"garbage")
    with pytest.raises(InputError, match="unreadable"):
        imitation.expert_data(6, 5, 0, tmp_path / "e")


def test_imitation_resume_gives_identical_weights(tmp_path):
    cfg = _cfg()
    experts = tmp_path / "experts"
    full = imitation.train(cfg, tmp_path / "full", expert_dir=experts, validate=False)
    assert full["step"] == 6 and full["stopped"] == "finished"
    part = imitation.train(cfg, tmp_path / "part", expert_dir=experts, validate=False, stop_after=4)
    assert part["step"] == 4
    imitation.train(cfg, tmp_path / "part", expert_dir=experts, validate=False)
    a = read_file(tmp_path / "full" / "policy.pt", bq.FORMAT, "x")["model"]
    b = read_file(tmp_path / "part" / "policy.pt", bq.FORMAT, "x")["model"]
    for k in a:
        assert torch.equal(a[k], b[k]), k
    with pytest.raises(InputError, match="other training settings"):
        imitation.train(_cfg(lr=2e-3), tmp_path / "part", expert_dir=experts, validate=False)


def test_imitation_continues_from_init_weights(tmp_path):
    """``init`` starts from trained BQ weights; a resumed run no longer needs the file; another
    architecture is refused."""
    experts = tmp_path / "experts"
    imitation.train(_cfg(epochs=1), tmp_path / "base", expert_dir=experts, validate=False)
    base = tmp_path / "base" / "policy.pt"
    init = tmp_path / "init.pt"
    init.write_bytes(base.read_bytes())
    cfg = _cfg(init=str(init), lr=5e-4)
    start, trained = imitation.new_model(cfg).state_dict(), read_file(base, bq.FORMAT, "x")["model"]
    assert all(torch.equal(start[k], trained[k]) for k in trained)
    imitation.train(cfg, tmp_path / "cont", expert_dir=experts, validate=False, stop_after=2)
    init.unlink()
    assert imitation.train(cfg, tmp_path / "cont", expert_dir=experts, validate=False)["step"] == cfg.total_steps
    with pytest.raises(InputError, match="architecture"):
        imitation.new_model(_cfg(init=str(base), model={**TINY, "dim": 32}))


def test_imitation_learns_the_expert_on_small_instances(tmp_path):
    """300 steps on TSP7 bring the greedy gap to LKH under 5 % (measured 2.8 %; untrained 25 %)."""
    cfg = _cfg(experts=250, epochs=2, steps_per_epoch=150, batch_size=32, lr=2e-3,
               model={"dim": 32, "layers": 2, "heads": 4, "ff": 64}, val_size=40)
    summary = imitation.train(cfg, tmp_path / "run")
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert len(rows) == 3 and "val_greedy_gap_pct" in rows[0]
    insts = imitation.validation_instances("tsp", 7, 40, cfg.val_seed)
    refs = json.loads((tmp_path / "run" / "reference.json").read_text())["objectives"]
    untrained, _ = imitation.evaluate_gap(imitation.new_model(cfg).eval(), insts, refs)
    assert summary["best_val_greedy_gap_pct"] < 5.0 and untrained > 4 * summary["best_val_greedy_gap_pct"]
    model, meta = bq.load(tmp_path / "run" / "best.pt")
    assert meta["size"] == 7 and meta["val_greedy_gap_pct"] == summary["best_val_greedy_gap_pct"]


def test_learned_tsp_bq_solver_and_bad_checkpoints(tmp_path):
    model = _model()
    path = tmp_path / "p.pt"
    save_atomic(bq.payload(model, 20, knn=5), path)
    inst = generate_uniform(12, np.random.default_rng(3))
    for decode in ("greedy", "multistart", "aug8", "beam"):
        res = solvers.solve("tsp", inst, "learned-tsp-bq", checkpoint=str(path), decode=decode)
        assert res.feasible and res.stats["knn"] == 5 and res.stats["decode"] == decode
    res = solvers.solve("tsp", inst, "learned-tsp-bq", checkpoint=str(path), decode="beam", beam_width=3, starts=2)
    assert res.feasible and res.stats["beam_width"] == 3 and res.stats["starts"] == 2
    res = solvers.solve("tsp", inst, "learned-tsp-bq", checkpoint=str(path), knn=20)
    assert res.feasible and res.stats["knn"] == 20
    with pytest.raises(InputError, match="unknown decode"):
        solvers.solve("tsp", inst, "learned-tsp-bq", checkpoint=str(path), decode="sample")
    (tmp_path / "bad.pt").write_bytes(path.read_bytes()[:100])
    with pytest.raises(InputError, match="corrupted, truncated"):
        solvers.solve("tsp", inst, "learned-tsp-bq", checkpoint=str(tmp_path / "bad.pt"))
    pomo = Path(solvers.__file__).resolve().parents[2] / "solvers" / "learned" / "tsp20-pomo.pt"
    with pytest.raises(InputError, match="not a coptim BQ policy"):
        solvers.solve("tsp", inst, "learned-tsp-bq", checkpoint=str(pomo))
    obj = read_file(path, bq.FORMAT, "x")
    obj["model"]["head.weight"] = torch.zeros(3, 3)
    save_atomic(obj, tmp_path / "arch.pt")
    with pytest.raises(InputError, match="does not match its declared architecture"):
        solvers.solve("tsp", inst, "learned-tsp-bq", checkpoint=str(tmp_path / "arch.pt"))
    tiny = generate_uniform(3, np.random.default_rng(4))
    assert solvers.solve("tsp", tiny, "learned-tsp-bq", checkpoint=str(path)).feasible
    from coptim.problems.tsp import TSPInstance

    dup = TSPInstance("dup", np.array([[5.0, 5.0]] * 6 + [[0.0, 0.0], [9.0, 1.0]]), "EUC_2D")
    for decode in ("greedy", "beam"):
        assert solvers.solve("tsp", dup, "learned-tsp-bq", checkpoint=str(path), decode=decode).feasible
    explicit = TSPInstance("e", None, "EXPLICIT", np.array([[0, 1, 2], [1, 0, 1], [2, 1, 0]]))
    with pytest.raises(InputError, match="coordinates"):
        solvers.solve("tsp", explicit, "learned-tsp-bq", checkpoint=str(path))


def test_train_cli_imitation(tmp_path):
    from typer.testing import CliRunner

    from coptim import train_cli

    args = ["tsp", "--method", "imitation", "--size", "6", "--experts", "10", "--epochs", "1", "--steps-per-epoch",
            "2", "--batch-size", "4", "--val-size", "3", "--layers", "1", "--dim", "16", "--heads", "2",
            "--knn", "4", "--out", str(tmp_path), "--json"]
    res = CliRunner().invoke(train_cli.app, args)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["step"] == 2 and (tmp_path / "experts" / "experts.json").is_file()
    assert bq.load(tmp_path / "best.pt")[1]["knn"] == 4
    # --init continues from BQ weights: their architecture and knn, a clash refused
    res = CliRunner().invoke(train_cli.app, [*args[:-5], "--init", str(tmp_path / "best.pt"), "--out",
                                             str(tmp_path / "cont"), "--json"])
    assert res.exit_code == 0, res.output
    assert bq.load(tmp_path / "cont" / "policy.pt")[1]["knn"] == 4
    res = CliRunner().invoke(train_cli.app, [*args[:-3], "--init", str(tmp_path / "best.pt"), "--dim", "32",
                                             "--out", str(tmp_path / "clash")])
    assert isinstance(res.exception, InputError) and "dim" in str(res.exception)
    for bad in (["tsp", "--method", "imitation", "--capacity", "50:60"],
                ["tsp", "--method", "imitation", "--augment", "8"],
                ["tsp", "--knn", "5"]):
        res = CliRunner().invoke(train_cli.app, [*bad, "--size", "6", "--out", str(tmp_path / "x")])
        assert isinstance(res.exception, InputError), bad


@pytest.mark.parametrize("solver", ["learned-ortools", "learned-ls"])
def test_bq_tour_seeds_ortools_and_local_search(tmp_path, solver):
    path = tmp_path / "p.pt"
    save_atomic(bq.payload(_model(), 20, knn=5), path)
    inst = generate_uniform(25, np.random.default_rng(4))
    res = solvers.solve("tsp", inst, solver, policy="bq", checkpoint=str(path), time_limit=0.5)
    assert res.feasible and res.stats["policy"] == "bq" and res.stats["knn"] == 5
    assert res.objective <= res.stats["learned_objective"]
    with pytest.raises(InputError, match="policy"):
        solvers.solve("tsp", inst, solver, policy="lkh", checkpoint=str(path), time_limit=0.5)
    with pytest.raises(InputError, match="policy"):  # the CVRP seeded solvers have no BQ policy
        solvers.solve("cvrp", problems.get("cvrp").generators["uniform"](8, np.random.default_rng(0)), solver,
                      policy="bq", checkpoint=str(path), time_limit=0.5)


SHIPPED_BQ = Path(__file__).resolve().parents[1] / "solvers" / "learned" / "tsp100-bq.pt"


@pytest.mark.skipif(not SHIPPED_BQ.is_file(), reason="no shipped BQ weights")
def test_shipped_bq_weights_solve_a_tsplib_instance_from_the_cli():
    import subprocess
    import sys

    root = SHIPPED_BQ.parents[2]
    proc = subprocess.run([sys.executable, "-m", "coptim", "--threads", "1", "solve", "tsp",
                           str(root / "instances" / "tsp" / "tsplib" / "st70.tsp"), "--solver", "learned-tsp-bq",
                           "--json"], capture_output=True, text=True, cwd=root)
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["feasible"] and payload["solver"] == "learned-tsp-bq"
    assert payload["gap_pct"] < 15.0  # 3.4 % measured (greedy); a broken policy is far above
