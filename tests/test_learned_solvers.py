"""Learned solvers through the solver registry: feasible answers, clear errors on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from coptim import problems, solvers
from coptim.errors import InputError
from coptim.problems.cvrp import CVRPInstance
from coptim.problems.knapsack import KnapsackInstance
from coptim.problems.tsp import TSPInstance
from coptim.solvers import learned as learned_solvers
from coptim.training import TrainConfig, train

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parent.parent
TINY = {"dim": 16, "layers": 1, "heads": 2, "ff": 32}
SHIPPED_TSP = ROOT / "solvers" / "learned" / "tsp20-pomo.pt"


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    base = tmp_path_factory.mktemp("learned")
    paths = {}
    for problem, size in (("tsp", 8), ("cvrp", 6), ("knapsack", 8)):
        cfg = TrainConfig(problem, size, epochs=1, steps_per_epoch=2, batch_size=4, seed=0, max_nodes=60, model=TINY)
        train(cfg, base / problem, validate=False)
        paths[problem] = str(base / problem / "policy.pt")
    return paths


@pytest.mark.parametrize("decode", ["greedy", "multistart", "aug8", "sample", "beam"])
def test_learned_tsp_on_tsplib_files_of_every_distance_type(checkpoints, data_dir, decode):
    for name in ("burma14", "ulysses16", "att48", "berlin52"):  # GEO, GEO, ATT, EUC_2D
        inst = problems.get("tsp").read(data_dir / "tsp" / f"{name}.tsp")
        res = solvers.solve("tsp", inst, "learned-tsp", checkpoint=checkpoints["tsp"], decode=decode,
                            samples=2, beam_width=2)
        assert res.feasible and res.status == "feasible"
        assert res.objective == problems.get("tsp").check(inst, res.solution).objective
        assert res.stats["decode"] == decode


def test_learned_cvrp_and_knapsack(checkpoints, data_dir):
    inst = problems.get("cvrp").read(data_dir / "cvrp" / "E-n22-k4.vrp")
    for decode in ("greedy", "aug8", "beam"):
        res = solvers.solve("cvrp", inst, "learned-cvrp", checkpoint=checkpoints["cvrp"], decode=decode)
        assert res.feasible
    kp = problems.get("knapsack").generators["strongly-correlated"](30, np.random.default_rng(0))
    res = solvers.solve("knapsack", kp, "learned-knapsack", checkpoint=checkpoints["knapsack"])
    assert res.feasible and res.objective > 0
    with pytest.raises(InputError):
        solvers.solve("knapsack", kp, "learned-knapsack", checkpoint=checkpoints["knapsack"], decode="aug8")


@pytest.mark.parametrize("problem", ["tsp", "cvrp", "knapsack"])
def test_bf16_precision_gives_feasible_answers(checkpoints, problem):
    prob = problems.get(problem)
    gen = prob.generators["uniform" if problem != "knapsack" else "uncorrelated"]
    inst = gen(12, np.random.default_rng(0))
    res = solvers.solve(problem, inst, f"learned-{problem}", checkpoint=checkpoints[problem], precision="bf16",
                        decode="multistart")
    assert res.feasible and res.stats["precision"] == "bf16"
    with pytest.raises(InputError, match="precision"):
        solvers.solve(problem, inst, f"learned-{problem}", checkpoint=checkpoints[problem], precision="fp8")


def test_knapsack_items_heavier_than_the_capacity(checkpoints):
    kp = KnapsackInstance("heavy", [100, 1, 2, 50], [99, 1, 1, 10], 5)
    res = solvers.solve("knapsack", kp, "learned-knapsack", checkpoint=checkpoints["knapsack"], decode="greedy")
    assert res.feasible and res.solution == [1, 2] and res.objective == 3
    none_fits = KnapsackInstance("none", [3, 4], [9, 9], 2)
    res = solvers.solve("knapsack", none_fits, "learned-knapsack", checkpoint=checkpoints["knapsack"])
    assert res.feasible and res.solution == [] and res.objective == 0
    zero_cap = KnapsackInstance("zero", [3, 4, 5], [0, 2, 0], 0)
    res = solvers.solve("knapsack", zero_cap, "learned-knapsack", checkpoint=checkpoints["knapsack"])
    assert res.feasible and res.objective == 8


def test_duplicate_coordinates_and_tiny_or_huge_scales(checkpoints):
    coords = np.array([[5.0, 5.0]] * 5 + [[9.0, 1.0]] * 3 + [[0.0, 0.0]])
    for scale in (1e-3, 1.0, 1e9):
        inst = TSPInstance("dup", coords * scale, "EUC_2D")
        res = solvers.solve("tsp", inst, "learned-tsp", checkpoint=checkpoints["tsp"], decode="aug8")
        assert res.feasible
    same = TSPInstance("same", np.zeros((4, 2)), "EUC_2D")
    assert solvers.solve("tsp", same, "learned-tsp", checkpoint=checkpoints["tsp"]).objective == 0
    two = TSPInstance("two", [[0, 0], [3, 4]], "EUC_2D")
    assert solvers.solve("tsp", two, "learned-tsp", checkpoint=checkpoints["tsp"]).objective == 10
    cv = CVRPInstance("dupc", np.array([[1.0, 1.0]] * 6), [0, 3, 3, 3, 3, 3], 6)
    res = solvers.solve("cvrp", cv, "learned-cvrp", checkpoint=checkpoints["cvrp"])
    assert res.feasible and res.objective == 0


def test_bad_inputs_give_clear_errors(checkpoints, tmp_path, monkeypatch):
    inst = problems.get("tsp").generators["uniform"](10, np.random.default_rng(0))
    with pytest.raises(InputError, match="for problem 'cvrp', not 'tsp'"):
        solvers.solve("tsp", inst, "learned-tsp", checkpoint=checkpoints["cvrp"])
    big = problems.get("tsp").generators["uniform"](61, np.random.default_rng(0))
    with pytest.raises(InputError, match="above the learned policy's limit of 60"):
        solvers.solve("tsp", big, "learned-tsp", checkpoint=checkpoints["tsp"])
    data = Path(checkpoints["tsp"]).read_bytes()
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(data[:100])
    with pytest.raises(InputError, match="corrupted"):
        solvers.solve("tsp", inst, "learned-tsp", checkpoint=str(trunc))
    with pytest.raises(InputError, match="not found"):
        solvers.solve("tsp", inst, "learned-tsp", checkpoint=str(tmp_path / "nope.pt"))
    with pytest.raises(InputError, match="unknown decode"):
        solvers.solve("tsp", inst, "learned-tsp", checkpoint=checkpoints["tsp"], decode="magic")
    with pytest.raises(InputError, match="starts"):
        solvers.solve("tsp", inst, "learned-tsp", checkpoint=checkpoints["tsp"], decode="multistart", starts=0)
    explicit = TSPInstance("e", None, "EXPLICIT", np.array([[0, 1, 2], [1, 0, 1], [2, 1, 0]]))
    with pytest.raises(InputError, match="coordinates"):
        solvers.solve("tsp", explicit, "learned-tsp", checkpoint=checkpoints["tsp"])
    missing = tmp_path / "cvrp100-im-pomo.pt"
    monkeypatch.setitem(learned_solvers.DEFAULT_WEIGHTS, "cvrp", {100: missing})
    cv = problems.get("cvrp").generators["uniform"](5, np.random.default_rng(0))
    with pytest.raises(InputError, match=str(missing).replace(".", r"\.")):
        solvers.solve("cvrp", cv, "learned-cvrp")


def test_fleet_limit_is_never_violated(checkpoints):
    cv = CVRPInstance("fleet", np.random.default_rng(1).random((7, 2)) * 100, [0, 2, 2, 2, 2, 2, 2], 6,
                      num_vehicles=2)
    res = solvers.solve("cvrp", cv, "learned-cvrp", checkpoint=checkpoints["cvrp"], decode="greedy")
    assert res.solution is None or res.feasible


@pytest.mark.skipif(not SHIPPED_TSP.is_file(), reason="no shipped TSP weights")
def test_shipped_tsp_weights_are_close_to_lkh():
    prob = problems.get("tsp")
    gaps = []
    for i in range(10):
        inst = prob.generators["uniform"](20, np.random.default_rng([99, i]))
        ref = solvers.solve("tsp", inst, "lkh").objective
        res = solvers.solve("tsp", inst, "learned-tsp", decode="aug8")
        assert res.feasible
        gaps.append(100 * (res.objective - ref) / ref)
    assert np.mean(gaps) < 2.0


@pytest.mark.skipif(not SHIPPED_TSP.is_file(), reason="no shipped TSP weights")
def test_cli_solve_with_learned_tsp(data_dir):
    code = ("import sys, coptim.solvers.learned; from coptim.cli import main; "
            "main(sys.argv[1:])")
    proc = subprocess.run([sys.executable, "-c", code, "solve", "tsp", str(data_dir / "tsp" / "berlin52.tsp"),
                           "--solver", "learned-tsp", "-O", "decode=greedy", "--json"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["feasible"] and payload["solver"] == "learned-tsp"


@pytest.mark.parametrize("solver", ["learned-ortools", "learned-ls"])
def test_seeded_solvers_start_from_the_learned_solution_and_improve_it(checkpoints, solver):
    tsp = problems.get("tsp").generators["uniform"](30, np.random.default_rng(3))
    res = solvers.solve("tsp", tsp, solver, checkpoint=checkpoints["tsp"], decode="greedy", time_limit=0.5)
    assert res.feasible
    assert res.objective <= res.stats["learned_objective"]
    assert res.stats["decode"] == "greedy" and res.stats["inference_s"] > 0
    cv = problems.get("cvrp").generators["uniform"](12, np.random.default_rng(3))
    out = solvers.solve("cvrp", cv, solver, checkpoint=checkpoints["cvrp"], decode="greedy", time_limit=0.5)
    assert out.feasible
    assert out.objective <= out.stats["learned_objective"] + 1e-6
    if solver == "learned-ortools":
        assert res.stats["first_solution"] == "INITIAL_TOUR"
        assert out.stats["seeded"] and out.stats["first_solution"] == "initial_routes"


def test_seeded_ortools_falls_back_when_the_policy_breaks_the_fleet_limit(checkpoints, monkeypatch):
    from coptim.solvers import learned_seeded

    cv = CVRPInstance("fleet", np.random.default_rng(1).random((7, 2)) * 100, [0, 2, 2, 2, 2, 2, 2], 6,
                      num_vehicles=2)
    monkeypatch.setattr(learned_seeded, "_decode", lambda *a, **k: (
        learned_solvers.SolverOutput(None, "no_solution", stats={"routes": 3}), time.perf_counter()))
    res = solvers.solve("cvrp", cv, "learned-ortools", checkpoint=checkpoints["cvrp"], time_limit=0.5)
    assert res.feasible and res.stats["seeded"] is False
    assert solvers.solve("cvrp", cv, "learned-ls", checkpoint=checkpoints["cvrp"]).solution is None


def test_seeded_solvers_refuse_bad_input(checkpoints, tmp_path):
    tsp = problems.get("tsp").generators["uniform"](10, np.random.default_rng(0))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    for solver in ("learned-ortools", "learned-ls"):
        with pytest.raises(InputError):
            solvers.solve("tsp", tsp, solver, checkpoint=str(bad))
        with pytest.raises(InputError, match="decode"):
            solvers.solve("tsp", tsp, solver, checkpoint=checkpoints["tsp"], decode="nope")
    with pytest.raises(InputError, match="metaheuristic"):
        solvers.solve("tsp", tsp, "learned-ortools", checkpoint=checkpoints["tsp"], metaheuristic="nope")


def test_default_weights_are_those_of_the_nearest_training_size(monkeypatch):
    monkeypatch.setitem(learned_solvers.DEFAULT_WEIGHTS, "knapsack", {100: Path("a.pt"), 200: Path("b.pt")})
    pick = learned_solvers.default_weights
    assert [pick("knapsack", n).name for n in (None, 1, 100, 141, 142, 200, 5000)] == \
        ["a.pt", "a.pt", "a.pt", "a.pt", "b.pt", "b.pt", "b.pt"]


SHIPPED_KP = [ROOT / "solvers" / "learned" / f"knapsack{n}-pomo.pt" for n in (100, 200)]


@pytest.mark.skipif(not all(p.is_file() for p in SHIPPED_KP), reason="no shipped knapsack weights")
@pytest.mark.parametrize("size,weights", [(100, "knapsack100-pomo.pt"), (200, "knapsack200-pomo.pt")])
def test_shipped_knapsack_weights_are_near_optimal(size, weights):
    gen = problems.get("knapsack").generators["uncorrelated"]
    gaps = []
    for i in range(3):
        inst = gen(size, np.random.default_rng([5, i]))
        opt = solvers.solve("knapsack", inst, "dp").objective
        res = solvers.solve("knapsack", inst, "learned-knapsack", decode="greedy")
        assert res.feasible and res.stats["checkpoint"] == weights
        gaps.append(100 * (opt - res.objective) / opt)
    assert np.mean(gaps) < 0.5


SHIPPED_CVRP = ROOT / "solvers" / "learned" / "cvrp100-im-pomo.pt"


@pytest.mark.skipif(not SHIPPED_CVRP.is_file(), reason="no shipped CVRP weights")
def test_shipped_cvrp_weights_give_feasible_routes_near_pyvrp():
    inst = problems.get("cvrp").generators["uniform"](50, np.random.default_rng(11))
    ref = solvers.solve("cvrp", inst, "pyvrp", time_limit=2, seed=0).objective
    res = solvers.solve("cvrp", inst, "learned-cvrp", decode="multistart")
    assert res.feasible and res.stats["checkpoint"] == "cvrp100-im-pomo.pt"
    assert 100 * (res.objective - ref) / ref < 40.0  # about 10-15 % measured on CVRP100; untrained is far above
