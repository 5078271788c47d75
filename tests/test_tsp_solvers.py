"""Classical TSP solvers: construction heuristics, local search, OR-Tools, LKH and exact."""

from __future__ import annotations

import time

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coptim import solvers
from coptim.errors import InputError
from coptim.problems import tsp
from coptim.solvers import tsp_construction, tsp_exact, tsp_local_search, tsp_lkh, tsp_ortools

DATA = Path(__file__).resolve().parent / "data" / "tsp"
NAMES = ["nn", "farthest-insertion", "cheapest-insertion", "2opt", "2opt-oropt", "ortools", "lkh", "exact"]
FAST = {"ortools": 0.3}  # solvers that use their whole time limit


def _solve(inst, name, **options):
    return solvers.solve("tsp", inst, name, time_limit=FAST.get(name, 2.0), seed=0, **options)


def _uniform(n, seed=0, scale=1000):
    return tsp.generate_uniform(n, np.random.default_rng(seed), scale=scale)


def _brute_force(d: np.ndarray) -> int:
    n = len(d)
    return min(int(d[[0, *p], np.roll([0, *p], -1)].sum()) for p in itertools.permutations(range(1, n)))


def _best_two_opt_gain(tour, d) -> int:
    t = np.asarray(tour)
    nxt = np.roll(t, -1)
    e = d[t, nxt]
    gain = e[:, None] + e[None, :] - d[np.ix_(t, t)] - d[np.ix_(nxt, nxt)]
    np.fill_diagonal(gain, 0)
    return int(gain.max())


def _best_or_opt_gain(tour, d) -> int:
    """Largest gain of any segment move (length 1..3, both orientations), by enumeration."""
    t = list(tour)
    n = len(t)
    best = 0
    for i in range(n):
        for length in (1, 2, 3):
            if n < length + 3:
                break
            seg = [t[(i + k) % n] for k in range(length)]
            prev, after = t[i - 1], t[(i + length) % n]
            rest = [t[(i + length + k) % n] for k in range(n - length)]
            base = d[prev, seg[0]] + d[seg[-1], after] - d[prev, after]
            for u, v in zip(rest, rest[1:]):
                best = max(best, base + d[u, v] - d[u, seg[0]] - d[seg[-1], v],
                           base + d[u, v] - d[u, seg[-1]] - d[seg[0], v])
    return int(best)


# ------------------------------------------------------------------------------------------
# Every solver on edge cases


def test_all_solvers_are_registered():
    assert sorted(s.name for s in solvers.available("tsp")) == sorted(NAMES + ["learned-tsp", "learned-tsp-bq", "learned-ls", "learned-ortools"])
    assert [s.name for s in solvers.available("tsp") if s.exact] == ["exact"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("coords", [
    [[0, 0], [5, 5]],                                   # n = 2
    [[0, 0], [5, 5], [9, 1]],                           # n = 3
    [[0, 0], [0, 10], [10, 10], [10, 0], [5, 0]],       # n = 5
    [[1, 1]] * 6 + [[2, 2]] * 2,                        # duplicates: zero distances
    [[0.001, 0.002], [0.003, 0.0], [0.0, 0.004], [0.002, 0.002], [0.004, 0.001]],  # tiny floats: all distances 0
    [[0, 0], [9e11, 1e11], [3e11, 8e11], [1e11, 1e11], [7e11, 7e11], [5e11, 2e11]],  # huge scale
], ids=["n2", "n3", "n5", "duplicates", "tiny", "huge"])
def test_every_solver_handles_edge_cases(name, coords):
    inst = tsp.TSPInstance("e", np.array(coords, dtype=float), "EUC_2D")
    result = _solve(inst, name)
    assert result.feasible, result.violations
    if len(coords) <= 8:
        assert result.objective <= 2 * _brute_force(inst.distance_matrix()) or name in ("nn",)
    if name in ("exact", "lkh", "2opt", "2opt-oropt", "ortools") and len(coords) <= 3:
        assert result.objective == _brute_force(inst.distance_matrix())


@pytest.mark.parametrize("name", NAMES)
def test_every_solver_on_an_explicit_instance(name):
    inst = tsp.read(DATA / "gr17.tsp")
    result = _solve(inst, name)
    assert result.feasible and result.objective >= 2085
    if name in ("exact", "lkh"):
        assert result.objective == 2085


@pytest.mark.parametrize("name", NAMES)
def test_solvers_refuse_other_objects(name):
    with pytest.raises(InputError, match="expected a TSP instance"):
        solvers.get("tsp", name).fn([[0, 1], [1, 0]], time_limit=1.0, seed=0)


# ------------------------------------------------------------------------------------------
# Construction heuristics


@pytest.mark.parametrize("build", [tsp_construction.nearest_neighbour, tsp_construction.farthest_insertion,
                                   tsp_construction.cheapest_insertion])
def test_constructions_give_permutations_starting_at_start(build):
    d = _uniform(60, 2).distance_matrix()
    for start in (0, 17, 59):
        tour = build(d, start)
        assert sorted(tour.tolist()) == list(range(60)) and tour[0] == start
    with pytest.raises(InputError, match="start node must be an integer in 0..59"):
        build(d, 60)
    with pytest.raises(InputError, match="square"):
        build(np.zeros((3, 4)), 0)
    with pytest.raises(InputError, match="NaN or infinite"):
        build(np.full((3, 3), np.nan), 0)


def test_nearest_neighbour_follows_the_nearest_node():
    d = np.array([[0, 1, 5, 9], [1, 0, 2, 6], [5, 2, 0, 3], [9, 6, 3, 0]])
    assert tsp_construction.nearest_neighbour(d, 3).tolist() == [3, 2, 1, 0]


def test_insertion_heuristics_are_better_than_nearest_neighbour_on_average():
    totals = {"nn": 0, "farthest": 0, "cheapest": 0}
    for seed in range(4):
        inst = _uniform(150, seed, scale=1_000_000)
        d = inst.distance_matrix()
        totals["nn"] += tsp.check(inst, tsp_construction.nearest_neighbour(d)).objective
        totals["farthest"] += tsp.check(inst, tsp_construction.farthest_insertion(d)).objective
        totals["cheapest"] += tsp.check(inst, tsp_construction.cheapest_insertion(d)).objective
    assert totals["farthest"] < totals["nn"] and totals["cheapest"] < totals["nn"]


def test_cheapest_insertion_matches_a_naive_implementation():
    d = _uniform(25, 5).distance_matrix()
    second = int(np.argmin(np.where(np.arange(25) == 0, np.iinfo(np.int64).max, d[0])))
    tour = [0, second]
    while len(tour) < 25:
        options = [(d[tour[k], v] + d[v, tour[(k + 1) % len(tour)]] - d[tour[k], tour[(k + 1) % len(tour)]], v, k)
                   for v in range(25) if v not in tour for k in range(len(tour))]
        cost, v, k = min(options, key=lambda o: o[0])
        tour.insert(k + 1, v)
    naive = int(d[tour, np.roll(tour, -1)].sum())
    fast = tsp_construction.cheapest_insertion(d)
    assert int(d[fast, np.roll(fast, -1)].sum()) == naive


def test_construction_stops_at_the_time_limit():
    inst = _uniform(300, 1)
    for name in ("nn", "farthest-insertion", "cheapest-insertion"):
        result = solvers.solve("tsp", inst, name, time_limit=1e-9, seed=3)
        assert result.feasible and result.status == "time_limit" and result.solution[0] == 3


# ------------------------------------------------------------------------------------------
# Local search


@settings(max_examples=25, deadline=None)
@given(n=st.integers(4, 40), seed=st.integers(0, 2**32 - 1), floats=st.booleans())
def test_two_opt_reaches_a_two_opt_local_optimum(n, seed, floats):
    rng = np.random.default_rng(seed)
    d = _uniform(n, seed % 1000).distance_matrix()
    if floats:
        d = d / 7.0
    start = rng.permutation(n)
    before = start.copy()
    tour = tsp_local_search.two_opt(start, d, neighbours=3)
    assert np.array_equal(start, before)  # input untouched
    assert sorted(tour.tolist()) == list(range(n)) and tour[0] == start[0]
    assert _best_two_opt_gain(tour, d) <= 1e-9
    assert d[tour, np.roll(tour, -1)].sum() <= d[start, np.roll(start, -1)].sum()


@settings(max_examples=15, deadline=None)
@given(n=st.integers(4, 30), seed=st.integers(0, 2**32 - 1), neighbours=st.sampled_from([1, 3, 40]))
def test_or_opt_leaves_no_improving_segment_move(n, seed, neighbours):
    d = _uniform(n, seed % 1000).distance_matrix()
    start = np.random.default_rng(seed).permutation(n)
    tour = tsp_local_search.or_opt(start, d, neighbours=neighbours)
    assert sorted(tour.tolist()) == list(range(n)) and tour[0] == start[0]
    assert _best_or_opt_gain(tour, d) == 0
    both = tsp_local_search.local_search(start, d, neighbours=neighbours)
    assert _best_or_opt_gain(both, d) == 0 and _best_two_opt_gain(both, d) == 0


def test_local_search_is_at_least_as_good_as_two_opt_and_both_local_optima():
    inst = _uniform(200, 9, scale=1_000_000)
    d = inst.distance_matrix()
    nn = tsp_construction.nearest_neighbour(d)
    two = tsp_local_search.two_opt(nn, d)
    both = tsp_local_search.local_search(nn, d)
    length = lambda t: tsp.check(inst, t).objective  # noqa: E731
    assert length(both) <= length(two) < length(nn)
    assert _best_two_opt_gain(both, d) == 0


def test_max_iter_limits_the_moves():
    d = _uniform(80, 4).distance_matrix()
    nn = tsp_construction.nearest_neighbour(d)
    assert np.array_equal(tsp_local_search.two_opt(nn, d, max_iter=0), nn)
    one = tsp_local_search.two_opt(nn, d, max_iter=1)
    assert np.sum(one != nn) > 0
    full = tsp_local_search.two_opt(nn, d)
    cost = lambda t: d[t, np.roll(t, -1)].sum()  # noqa: E731
    assert cost(full) < cost(one) < cost(nn)


def test_local_search_argument_errors():
    d = _uniform(6).distance_matrix()
    for fn in (tsp_local_search.two_opt, tsp_local_search.or_opt, tsp_local_search.local_search):
        with pytest.raises(InputError, match="permutation of 0..5"):
            fn([0, 1, 2], d)
        with pytest.raises(InputError, match="repeated or out-of-range"):
            fn([0, 1, 2, 3, 4, 4], d)
        with pytest.raises(InputError, match="repeated or out-of-range"):
            fn([0, 1, 2, 3, 4, 6], d)
        with pytest.raises(InputError, match="time_limit must be a positive number"):
            fn(list(range(6)), d, time_limit=0)
        with pytest.raises(InputError, match="neighbours must be a positive integer"):
            fn(list(range(6)), d, neighbours=0)
    with pytest.raises(InputError, match="max_iter must be a non-negative integer"):
        tsp_local_search.two_opt(list(range(6)), d, max_iter=-1)


def test_neighbour_lists_are_sorted_and_exclude_the_node():
    d = np.array([[0, 3, 1, 2], [3, 0, 5, 4], [1, 5, 0, 6], [2, 4, 6, 0]])
    assert tsp_local_search.neighbour_lists(d, 10).tolist() == [[2, 3, 1], [0, 3, 2], [0, 1, 3], [0, 1, 2]]
    assert tsp_local_search.neighbour_lists(d, 1).tolist() == [[2], [0], [0], [0]]


def test_local_search_solvers_start_at_the_seed_node_and_report_stats():
    inst = _uniform(100, 2)
    result = solvers.solve("tsp", inst, "2opt-oropt", seed=205)
    assert result.status == "feasible" and result.solution[0] == 205 % 100
    assert result.stats["moves"] > 0 and result.stats["initial_length"] > result.objective


def test_two_opt_solver_stops_at_the_time_limit():
    result = solvers.solve("tsp", _uniform(400, 3), "2opt", time_limit=1e-9)
    assert result.feasible and result.status == "time_limit"


# ------------------------------------------------------------------------------------------
# OR-Tools


def test_ortools_from_an_initial_tour_never_gets_worse():
    inst = tsp.read(DATA / "att48.tsp")
    d = inst.distance_matrix()
    start = tsp_construction.nearest_neighbour(d, 5)
    out = tsp_ortools.solve_ortools(d, time_limit=0.3, initial_tour=start, metaheuristic="GREEDY_DESCENT")
    assert out.stats["first_solution"] == "INITIAL_TOUR" and out.solution[0] == 0
    assert tsp.check(inst, out.solution).objective <= tsp.check(inst, start).objective


def test_ortools_solver_option_is_passed():
    inst = tsp.read(DATA / "burma14.tsp")
    result = solvers.solve("tsp", inst, "ortools", time_limit=0.5, initial_tour=list(range(14)))
    assert result.feasible and result.stats["first_solution"] == "INITIAL_TOUR"
    assert result.objective <= tsp.check(inst, list(range(14))).objective


def test_ortools_argument_errors():
    d = _uniform(5).distance_matrix()
    with pytest.raises(InputError, match="unknown first-solution strategy 'FASTEST'; choose one of"):
        tsp_ortools.solve_ortools(d, time_limit=1, first_solution="FASTEST")
    with pytest.raises(InputError, match="unknown metaheuristic"):
        tsp_ortools.solve_ortools(d, time_limit=1, metaheuristic="ANNEAL")
    with pytest.raises(InputError, match="initial tour must be a permutation of 0..4"):
        tsp_ortools.solve_ortools(d, time_limit=1, initial_tour=[0, 1, 2, 3, 3])
    with pytest.raises(InputError, match="time_limit must be a positive number"):
        tsp_ortools.solve_ortools(d, time_limit=-1)
    with pytest.raises(InputError, match="non-negative"):
        tsp_ortools.solve_ortools(-d, time_limit=1)


# ------------------------------------------------------------------------------------------
# LKH


def test_lkh_finds_the_optimum_of_small_tsplib_instances():
    for name, optimum in (("burma14", 3323), ("ulysses16", 6859), ("fri26", 937)):
        result = solvers.solve("tsp", tsp.read(DATA / f"{name}.tsp"), "lkh", runs=1)
        assert result.objective == optimum and result.status == "feasible"
        assert result.stats == {"runs": 1, "scaled_by": 1.0}


def test_lkh_scales_large_weights_instead_of_crashing():
    inst = _uniform(40, 1, scale=10**9)
    result = solvers.solve("tsp", inst, "lkh", runs=2)
    assert result.feasible and result.stats["runs"] == 2
    assert result.stats["scaled_by"] < 1.0
    # The scaled problem is solved near-optimally for the true distances too.
    assert result.objective <= solvers.solve("tsp", inst, "2opt-oropt").objective * 1.01


def test_lkh_stops_at_the_time_limit():
    inst = _uniform(200, 2)
    start = time.perf_counter()
    result = solvers.solve("tsp", inst, "lkh", runs=100_000, time_limit=0.5)
    assert time.perf_counter() - start < 5  # 100,000 runs would take hours
    assert result.feasible


def test_lkh_is_deterministic_for_a_seed():
    inst = _uniform(60, 8)
    a = solvers.solve("tsp", inst, "lkh", seed=1, runs=1)
    b = solvers.solve("tsp", inst, "lkh", seed=1, runs=1)
    assert a.solution == b.solution


def test_lkh_runs_argument():
    for runs in (0, -1, 1.5, True):
        with pytest.raises(InputError, match="runs must be a positive integer"):
            tsp_lkh.solve(_uniform(5), time_limit=1, seed=0, runs=runs)


# ------------------------------------------------------------------------------------------
# Exact


def test_held_karp_matches_brute_force():
    rng = np.random.default_rng(11)
    for n in range(2, 9):
        inst = tsp.generate_uniform(n, rng, scale=50)
        d = inst.distance_matrix()
        tour, length = tsp_exact.held_karp(d)
        assert tour[0] == 0 and length == _brute_force(d) == tsp.check(inst, tour).objective


@pytest.mark.parametrize(("name", "optimum", "method"), [
    ("burma14", 3323, "held-karp"), ("ulysses16", 6859, "held-karp"),
    ("gr17", 2085, "cp-sat-circuit"), ("fri26", 937, "cp-sat-circuit"), ("bayg29", 1610, "cp-sat-circuit"),
])
def test_exact_proves_tsplib_optima(name, optimum, method):
    result = solvers.solve("tsp", tsp.read(DATA / f"{name}.tsp"), "exact", time_limit=2.0)
    assert (result.objective, result.status, result.dual_bound, result.gap) == (optimum, "optimal", optimum, 0.0)
    assert result.stats["method"] == method


def test_exact_reports_a_bound_when_time_runs_out():
    inst = tsp.read(DATA / "berlin52.tsp")
    result = solvers.solve("tsp", inst, "exact", time_limit=0.05)
    assert result.feasible and result.status in ("time_limit", "optimal")
    if result.status == "time_limit" and result.dual_bound is not None:
        assert result.dual_bound <= 7542 <= result.objective


def test_exact_refuses_large_instances():
    with pytest.raises(InputError, match="limited to 200 nodes; uniform-201 has 201"):
        solvers.solve("tsp", _uniform(201), "exact", time_limit=1)
    with pytest.raises(InputError, match="limited to 16 nodes"):
        tsp_exact.held_karp(_uniform(17).distance_matrix())
    with pytest.raises(InputError, match="workers must be a positive integer"):
        solvers.solve("tsp", _uniform(5), "exact", time_limit=1, workers=0)
