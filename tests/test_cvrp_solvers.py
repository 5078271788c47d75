"""CVRP solvers: savings, sweep, OR-Tools and PyVRP, through the registry's ``solve``."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coptim import solvers
from coptim.errors import InputError
from coptim.problems import cvrp
from coptim.problems.cvrp import CVRPInstance
from coptim.solvers import cvrp_heuristics, cvrp_ortools, cvrp_pyvrp

ALL = ("savings", "sweep", "ortools", "pyvrp")
OPTIMUM = {"E-n22-k4": 375, "A-n32-k5": 784, "E-n13-k4": 247}


@pytest.fixture(scope="module")
def read(data_dir):
    def _read(name: str) -> CVRPInstance:
        return cvrp.read(data_dir / "cvrp" / f"{name}.vrp")

    return _read


def run(instance, solver, time_limit=0.2, **options):
    result = solvers.solve("cvrp", instance, solver, time_limit=time_limit, seed=1, **options)
    assert result.feasible, (solver, result.violations, result.status)
    assert result.violations == ()
    return result


def test_registry_names():
    names = [s.name for s in solvers.available("cvrp")]
    assert names == sorted(ALL + ("learned-cvrp", "learned-ls", "learned-ortools"))
    assert solvers.get("cvrp", "savings").options == ("lam",)
    assert solvers.get("cvrp", "sweep").options == ("starts",)
    assert solvers.get("cvrp", "ortools").options == ("first_solution", "metaheuristic")
    assert solvers.get("cvrp", "pyvrp").options == ("max_iterations",)


# ----------------------------------------------------------------------------- edge cases, every solver

EDGE_CASES = {
    "one customer": CVRPInstance("one", [[0, 0], [3, 4]], [0, 5], 10),
    "all points equal": CVRPInstance("same", [[5, 5]] * 8, [0, 3, 3, 3, 3, 3, 3, 3], 7),
    "unit square": CVRPInstance("unit", np.random.default_rng(0).random((21, 2)), [0] + [1] * 20, 5),
    "scale 1e11": CVRPInstance("huge", np.random.default_rng(1).random((31, 2)) * 1e11, [0] + [2] * 30, 7),
    "negative coordinates": CVRPInstance("neg", np.random.default_rng(2).random((31, 2)) * 2e3 - 1e3,
                                         [0] + [2] * 30, 7),
    "explicit, no coordinates": CVRPInstance(
        "ex", None, [0, 1, 1, 1], 2, "EXPLICIT", matrix=[[0, 2, 3, 4], [2, 0, 1, 2], [3, 1, 0, 1], [4, 2, 1, 0]]),
    "zero demands": CVRPInstance("zero", [[0, 0], [1, 0], [0, 1], [1, 1]], [0, 0, 0, 0], 1),
}


@pytest.mark.parametrize("case", EDGE_CASES)
@pytest.mark.parametrize("solver", ALL)
def test_every_solver_handles_edge_cases(solver, case):
    inst = EDGE_CASES[case]
    result = run(inst, solver)
    assert sorted(c for r in result.solution for c in r) == list(range(1, inst.n + 1))
    assert all(len(r) > 0 for r in result.solution)
    if case == "one customer":
        assert result.solution == [[1]] and result.objective == 10
    if case == "all points equal":
        assert result.objective == 0


@pytest.mark.parametrize("solver", ALL)
def test_every_solver_on_a_generated_instance(solver):
    inst = cvrp.generate_x(40, 3, demand="large_large_variance", route_size=5)
    result = run(inst, solver, time_limit=0.3)
    assert result.solver == solver and result.instance == inst.name
    assert result.objective == cvrp.routes_length(inst, result.solution)


# ----------------------------------------------------------------------------- savings


def test_savings_quality_and_determinism(read):
    inst = read("E-n22-k4")
    first = run(inst, "savings", time_limit=None)
    assert first.objective <= 1.05 * OPTIMUM["E-n22-k4"]
    assert run(inst, "savings", time_limit=None).solution == first.solution
    other = run(inst, "savings", time_limit=None, lam=1.4)
    assert other.stats["lam"] == 1.4


def test_savings_merges_the_obvious_pairs():
    # Two customers at (10, 0), (10, 1) and two at (-10, 0), (-10, 1): merging within each
    # side saves about 19, across sides nothing.
    inst = CVRPInstance("pairs", [[0, 0], [10, 0], [10, 1], [-10, 0], [-10, 1]], [0, 1, 1, 1, 1], 10)
    result = run(inst, "savings")
    assert sorted(sorted(r) for r in result.solution) == [[1, 2], [3, 4]]
    assert result.objective == 2 * (10 + 1 + 10)


def test_savings_respects_capacity_and_a_hard_fleet():
    # Two customers on opposite sides of the depot save nothing by sharing a route, so
    # without a fleet limit each keeps its own; a fleet of one forces the merge.
    coords = [[0, 0], [10, 0], [-10, 0]]
    assert run(CVRPInstance("opposite", coords, [0, 3, 3], 6), "savings").solution == [[1], [2]]
    limited = run(CVRPInstance("opposite", coords, [0, 3, 3], 6, num_vehicles=1), "savings")
    assert len(limited.solution) == 1 and limited.objective == 40
    # Capacity: six customers of demand 3 around (20, 0), capacity 6 -> pairs only.
    inst = CVRPInstance("pairs", [[0, 0]] + [[20, k] for k in range(6)], [0] + [3] * 6, 6)
    result = run(inst, "savings")
    assert len(result.solution) == 3 and all(len(r) == 2 for r in result.solution)


def test_savings_bad_lambda():
    with pytest.raises(InputError, match="savings: lam must be a finite number >= 0, got -1"):
        solvers.solve("cvrp", EDGE_CASES["one customer"], "savings", lam=-1)
    with pytest.raises(InputError, match="has no option lamda"):
        solvers.solve("cvrp", EDGE_CASES["one customer"], "savings", lamda=1)


# ----------------------------------------------------------------------------- sweep


def test_two_opt_route_removes_a_crossing():
    inst = CVRPInstance("sq", [[0, 0], [0, 10], [10, 10], [10, 0]], [0, 1, 1, 1], 10)
    dist = inst.distance_matrix()
    # 0 -> (0,10) -> (10,0) -> (10,10) -> 0 crosses itself
    assert cvrp.routes_length(inst, [[1, 3, 2]]) > 40
    better = cvrp_heuristics.two_opt_route([1, 3, 2], dist)
    assert sorted(better) == [1, 2, 3] and cvrp.routes_length(inst, [better]) == 40
    assert cvrp_heuristics.two_opt_route([2, 1], dist) == [2, 1]


def test_sweep_routes_follow_the_angle():
    # Eight customers on a circle, capacity for two: the sweep pairs angular neighbours.
    angles = np.arange(8) * np.pi / 4
    coords = np.vstack([[0, 0], np.c_[np.cos(angles), np.sin(angles)] * 100])
    inst = CVRPInstance("circle", np.round(coords), [0] + [1] * 8, 2)
    result = run(inst, "sweep", time_limit=1.0)
    assert len(result.solution) == 4
    for route in result.solution:
        a, b = sorted(route)
        assert b - a in (1, 7)  # neighbours on the circle
    assert result.stats["sweeps"] == 16 and result.status == "feasible"


def test_sweep_quality_starts_and_explicit(read):
    inst = read("E-n22-k4")
    full = run(inst, "sweep", time_limit=2.0)
    assert full.objective <= 1.10 * OPTIMUM["E-n22-k4"] and full.stats["sweeps"] == 2 * inst.n
    one = run(inst, "sweep", starts=1)
    assert one.stats["sweeps"] == 1 and one.objective >= full.objective
    assert run(inst, "sweep", starts=1).solution == one.solution
    explicit = run(read("E-n13-k4"), "sweep", time_limit=1.0)  # planar embedding of the matrix
    assert explicit.objective <= 1.5 * OPTIMUM["E-n13-k4"]
    with pytest.raises(InputError, match="sweep: starts must be a positive integer, got 0"):
        solvers.solve("cvrp", inst, "sweep", starts=0)


def test_sweep_stops_at_the_time_limit(read):
    inst = read("X-n101-k25")
    result = run(inst, "sweep", time_limit=0.05)
    assert result.status == "time_limit" and 1 <= result.stats["sweeps"] < 2 * inst.n
    assert result.time_s < 0.5


# ----------------------------------------------------------------------------- OR-Tools


def test_ortools_quality_and_time_limit(read):
    inst = read("E-n22-k4")
    start = time.perf_counter()
    result = run(inst, "ortools", time_limit=1.0)
    assert time.perf_counter() - start < 2.0
    assert result.objective <= 1.03 * OPTIMUM["E-n22-k4"]
    assert result.status == "time_limit" and result.stats["first_solution"] == "path_cheapest_arc"
    other = run(inst, "ortools", time_limit=0.3, first_solution="savings", metaheuristic="greedy_descent")
    assert other.stats["metaheuristic"] == "greedy_descent"


def test_ortools_from_initial_routes(read):
    inst = read("A-n32-k5")
    start_routes, _ = cvrp_heuristics.savings_routes(inst)
    start_cost = cvrp.routes_length(inst, start_routes)
    out = cvrp_ortools.solve_ortools(inst, time_limit=0.5, initial_routes=start_routes)
    verdict = cvrp.check(inst, out.solution)
    assert verdict.feasible and verdict.objective <= start_cost
    assert out.stats["first_solution"] == "initial_routes" and out.stats["objective"] == verdict.objective


def test_ortools_rejects_bad_input(read):
    inst = read("E-n22-k4")
    with pytest.raises(InputError, match="initial_routes are not a feasible solution: .*not visited"):
        cvrp_ortools.solve_ortools(inst, time_limit=0.2, initial_routes=[[1, 2]])
    with pytest.raises(InputError, match="unknown first_solution 'magic'"):
        solvers.solve("cvrp", inst, "ortools", time_limit=0.2, first_solution="magic")
    with pytest.raises(InputError, match="unknown metaheuristic 'luck'"):
        solvers.solve("cvrp", inst, "ortools", time_limit=0.2, metaheuristic="luck")
    with pytest.raises(InputError, match="num_vehicles must be a positive integer"):
        cvrp_ortools.solve_ortools(inst, time_limit=0.2, num_vehicles=0)


def test_ortools_fleet():
    assert cvrp_ortools.first_fit_decreasing(np.array([6, 6, 4, 4, 3]), 10) == 3
    inst = cvrp.generate_x(30, 4, demand="small_small_variance", route_size=6)
    assert cvrp_ortools.fleet_size(inst) >= cvrp_ortools.first_fit_decreasing(inst.demands[1:], inst.capacity) + 3
    coords = [[0, 0], [10, 0], [-10, 0], [0, 10], [0, -10]]
    limited = CVRPInstance("cross", coords, [0, 3, 3, 3, 3], 6, num_vehicles=2)
    assert cvrp_ortools.fleet_size(limited) == 2
    result = run(limited, "ortools", time_limit=0.3)
    assert len(result.solution) == 2


def test_ortools_reports_no_solution_for_an_impossible_fleet():
    # Ten customers of demand 3 with capacity 10 need four routes; the fleet has three.
    inst = CVRPInstance("tight", np.arange(22).reshape(11, 2), [0] + [3] * 10, 10, num_vehicles=3)
    result = solvers.solve("cvrp", inst, "ortools", time_limit=0.3)
    assert result.solution is None and result.status == "no_solution" and not result.feasible


# ----------------------------------------------------------------------------- PyVRP


def test_pyvrp_quality_and_time_limit(read):
    inst = read("A-n32-k5")
    start = time.perf_counter()
    result = run(inst, "pyvrp", time_limit=1.0)
    assert time.perf_counter() - start < 2.0
    assert result.objective <= 1.02 * OPTIMUM["A-n32-k5"]
    assert result.stats["pyvrp_cost"] == result.objective and result.stats["load_scale"] == 1


def test_pyvrp_iteration_limit_is_reproducible_and_checked(read):
    inst = read("A-n32-k5")
    a = run(inst, "pyvrp", time_limit=30.0, max_iterations=200)
    b = run(inst, "pyvrp", time_limit=30.0, max_iterations=200)
    assert a.stats["iterations"] == 200 and a.solution == b.solution and a.objective == b.objective
    for bad in (0, -3, 2.5, True):
        with pytest.raises(InputError, match="max_iterations"):
            solvers.solve("cvrp", inst, "pyvrp", time_limit=1.0, max_iterations=bad)


def test_pyvrp_data_and_load_scaling():
    inst = EDGE_CASES["scale 1e11"]
    scale = cvrp_pyvrp.load_scale(inst)
    assert scale > 1000
    data = cvrp_pyvrp.problem_data(inst)
    assert data.num_clients == 30 and data.num_depots == 1
    assert data.vehicle_type(0).capacity == [7 * scale]
    assert data.clients()[0].delivery == [2 * scale]
    assert cvrp_pyvrp.load_scale(cvrp.generate_x(20, 0)) == 1


def test_pyvrp_respects_a_hard_fleet():
    coords = [[0, 0], [10, 0], [-10, 0], [0, 10], [0, -10]]
    limited = CVRPInstance("cross", coords, [0, 3, 3, 3, 3], 6, num_vehicles=2)
    assert len(run(limited, "pyvrp").solution) == 2


# ----------------------------------------------------------------------------- random small instances


@st.composite
def small_instances(draw):
    n = draw(st.integers(1, 15))
    capacity = draw(st.integers(1, 20))
    coords = draw(st.lists(st.tuples(st.integers(-5, 5), st.integers(-5, 5)), min_size=n + 1, max_size=n + 1))
    demands = draw(st.lists(st.integers(0, capacity), min_size=n, max_size=n))
    return CVRPInstance("random", np.array(coords, dtype=float), [0, *demands], capacity)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(small_instances())
def test_construction_heuristics_are_always_feasible(inst):
    for solver in ("savings", "sweep"):
        result = solvers.solve("cvrp", inst, solver, time_limit=1.0)
        assert result.feasible, (solver, result.violations)
        # never worse than one route per customer
        assert result.objective <= 2 * int(inst.distance_matrix()[0, 1:].sum())
