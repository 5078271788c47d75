"""CVRP problem module: instances, CVRPLIB reading and writing, solutions, checker, generators."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coptim import problems
from coptim.errors import InputError
from coptim.problems import cvrp
from coptim.problems.cvrp import CVRPInstance


@pytest.fixture(scope="module")
def cdir(data_dir):
    return data_dir / "cvrp"


def small(**changes) -> CVRPInstance:
    """Depot at the origin and four customers on the axes, capacity 10."""
    fields = dict(name="small", coords=[[0, 0], [3, 0], [0, 4], [-3, 0], [0, -4]],
                  demands=[0, 4, 4, 4, 4], capacity=10)
    fields.update(changes)
    return CVRPInstance(**fields)


# ----------------------------------------------------------------------------- reading


def test_read_a_n32_k5(cdir):
    inst = cvrp.read(cdir / "A-n32-k5.vrp")
    assert inst.name == "A-n32-k5"
    assert inst.n == 31 and inst.capacity == 100
    assert inst.coords.shape == (32, 2) and tuple(inst.coords[0]) == (82, 76)
    assert inst.demands[0] == 0 and inst.demands[1] == 19 and inst.total_demand == 410
    assert inst.edge_weight_type == "EUC_2D" and inst.num_vehicles is None
    d = inst.distance_matrix()
    assert d.dtype == np.int64 and d.shape == (32, 32)
    # node 1 (82, 76) to node 2 (96, 44): sqrt(14^2 + 32^2) = 34.93 -> 35
    assert d[0, 1] == 35 and d[1, 0] == 35
    assert inst.distance_matrix() is d  # cached


def test_read_explicit_lower_row(cdir):
    inst = cvrp.read(cdir / "E-n13-k4.vrp")
    assert inst.n == 12 and inst.edge_weight_type == "EXPLICIT" and inst.coords is None
    d = inst.distance_matrix()
    assert np.array_equal(d, d.T) and np.all(np.diag(d) == 0)
    # LOWER_ROW starts with d(2,1) = 9, d(3,1) = 14, d(3,2) = 21
    assert (d[1, 0], d[2, 0], d[2, 1]) == (9, 14, 21)


def test_x_solution_reproduces_its_cost(cdir):
    inst = cvrp.read(cdir / "X-n101-k25.vrp")
    stated = cvrp.read_solution(cdir / "X-n101-k25.sol", inst)
    assert stated.cost == 27591 and len(stated.routes) == 26
    verdict = cvrp.check(inst, stated.routes)
    # 26 routes although the name says k25: the k is not a fleet limit
    assert verdict.feasible and verdict.violations == () and verdict.objective == 27591


def _vrp(body: str) -> str:
    return body.strip() + "\n"


BASE = _vrp("""
NAME : tiny
TYPE : CVRP
DIMENSION : 4
EDGE_WEIGHT_TYPE : EUC_2D
CAPACITY : 100
NODE_COORD_SECTION
1 0 0
2 3 4
3 6 8
4 0 5
DEMAND_SECTION
1 0
2 30
3 40
4 50
DEPOT_SECTION
1
-1
EOF
""")


def _write(tmp_path, text, name="bad.vrp"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_read_tiny_and_depot_elsewhere(tmp_path):
    inst = cvrp.read(_write(tmp_path, BASE, "tiny.vrp"))
    assert inst.n == 3 and list(inst.demands) == [0, 30, 40, 50]
    moved = BASE.replace("1 0\n2 30", "1 30\n2 0").replace("DEPOT_SECTION\n1\n", "DEPOT_SECTION\n2\n")
    inst = cvrp.read(_write(tmp_path, moved))
    # file node 2 becomes index 0, the others keep their order
    assert inst.coords.tolist() == [[3, 4], [0, 0], [6, 8], [0, 5]]
    assert list(inst.demands) == [0, 30, 40, 50]


def test_read_vehicles_is_a_fleet_limit(tmp_path):
    inst = cvrp.read(_write(tmp_path, BASE.replace("CAPACITY", "VEHICLES : 2\nCAPACITY")))
    assert inst.num_vehicles == 2
    verdict = cvrp.check(inst, [[1], [2], [3]])
    assert not verdict.feasible and verdict.violations == ("3 routes but the fleet has 2 vehicles",)


def test_backhaul_section_is_ignored_with_a_warning(tmp_path):
    text = BASE.replace("DEPOT_SECTION", "BACKHAUL_SECTION\n2 4\nDEPOT_SECTION")
    path = _write(tmp_path, text)
    with pytest.warns(UserWarning, match=r"bad.vrp:16: BACKHAUL_SECTION ignored"):
        inst = cvrp.read(path)
    assert inst.n == 3


MALFORMED = [
    # (replace this, with this, message pattern, line)
    ("4 0 5\n", "", r"NODE_COORD_SECTION has 3 nodes but DIMENSION is 4 \(node 4 missing; file truncated\?\)", 18),
    ("DIMENSION : 4", "DIMENSION : 5", r"node 5 missing", 19),
    ("DIMENSION : 4", "DIMENSION : 3", r"node id 4 is outside 1\.\.3", 10),
    ("DIMENSION : 4", "DIMENSION : four", r"DIMENSION must be an integer, got 'four'", 3),
    ("DIMENSION : 4", "DIMENSION : 1", r"DIMENSION must be at least 2", 3),
    ("3 6 8", "3 6 eight", r"y must be a number, got 'eight'", 9),
    ("3 40", "3 forty", r"demand must be an integer, got 'forty'", 14),
    ("3 40", "3 -4", r"node 3 has a negative demand \(-4\)", 14),
    ("3 40", "3 140", r"node 3 has demand 140 above CAPACITY 100", 14),
    ("3 40", "3 40 7", r"DEMAND_SECTION line must be 'node demand', got 3 fields", 14),
    ("3 40", "9 40", r"node id 9 is outside 1\.\.4", 14),
    ("4 50\n", "", r"DEMAND_SECTION has 3 nodes but DIMENSION is 4 \(node 4 missing", 14),
    ("1 0\n2 30", "1 5\n2 30", r"the depot \(node 1\) has demand 5", 12),
    ("CAPACITY : 100", "CAPACITY : 0", r"CAPACITY must be at least 1, got 0", 5),
    ("CAPACITY : 100", "CAPACITY : lots", r"CAPACITY must be an integer", 5),
    ("CAPACITY : 100\n", "", r"missing required entry CAPACITY", None),
    ("EDGE_WEIGHT_TYPE : EUC_2D", "EDGE_WEIGHT_TYPE : SPHERE", r"unsupported EDGE_WEIGHT_TYPE 'SPHERE'", 4),
    ("EDGE_WEIGHT_TYPE : EUC_2D\n", "", r"missing required entry EDGE_WEIGHT_TYPE", None),
    ("TYPE : CVRP", "TYPE : TSP", r"TYPE must be CVRP, got 'TSP'", 2),
    ("DEMAND_SECTION\n1 0\n2 30\n3 40\n4 50\n", "", r"missing DEMAND_SECTION", None),
    ("DEPOT_SECTION\n1\n-1\n", "", r"missing DEPOT_SECTION", None),
    ("1\n-1\nEOF", "1\nEOF", r"DEPOT_SECTION does not end with -1 \(file truncated\?\)", 17),
    ("1\n-1\nEOF", "1\n3\n-1\nEOF", r"a second depot \(node 3\) is not supported", 18),
    ("1\n-1\nEOF", "-1\nEOF", r"DEPOT_SECTION names no depot", 17),
    ("1\n-1\nEOF", "1\n-1 2\nEOF", r"unexpected '2' after the -1", 18),
    ("1\n-1\nEOF", "one\n-1\nEOF", r"depot id must be an integer, got 'one'", 17),
    ("DEPOT_SECTION", "TIME_WINDOW_SECTION\n1 0 10\nDEPOT_SECTION", r"TIME_WINDOW_SECTION is not supported", 16),
    ("NODE_COORD_SECTION", "SOME GARBAGE\nNODE_COORD_SECTION", r"unexpected line 'SOME GARBAGE'", 6),
]


@pytest.mark.parametrize("old, new, pattern, line", MALFORMED, ids=[m[2][:40] for m in MALFORMED])
def test_malformed_files_name_file_and_line(tmp_path, old, new, pattern, line):
    assert old in BASE
    path = _write(tmp_path, BASE.replace(old, new, 1))
    with pytest.raises(InputError, match=pattern) as info:
        cvrp.read(path)
    assert info.value.path == str(path)
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}:{line}: " if line else f"{path}: ")


def test_truncated_file_in_the_middle_of_coordinates(tmp_path, cdir):
    text = (cdir / "A-n32-k5.vrp").read_text()
    path = _write(tmp_path, text[: text.index(" 20 ")])  # cut inside NODE_COORD_SECTION
    with pytest.raises(InputError, match=r"has 19 nodes but DIMENSION is 32 \(node 20 missing; file truncated\?\)"):
        cvrp.read(path)


EXPLICIT = _vrp("""
NAME : ex
TYPE : CVRP
DIMENSION : 3
EDGE_WEIGHT_TYPE : EXPLICIT
EDGE_WEIGHT_FORMAT : LOWER_ROW
CAPACITY : 10
EDGE_WEIGHT_SECTION
4
5 6
DEMAND_SECTION
1 0
2 3
3 4
DEPOT_SECTION
1
-1
""")


def test_explicit_malformed(tmp_path):
    inst = cvrp.read(_write(tmp_path, EXPLICIT, "ok.vrp"))
    assert inst.distance_matrix().tolist() == [[0, 4, 5], [4, 0, 6], [5, 6, 0]]
    with pytest.raises(InputError, match=r"EDGE_WEIGHT_SECTION has 2 numbers but LOWER_ROW") as info:
        cvrp.read(_write(tmp_path, EXPLICIT.replace("5 6\n", "5\n")))
    assert info.value.path.endswith("bad.vrp") and info.value.line == 9
    with pytest.raises(InputError, match=r"edge weight 4.5 \(node 1 to 2\) is not an integer") as info:
        cvrp.read(_write(tmp_path, EXPLICIT.replace("4\n5 6", "4.5\n5 6")))
    assert info.value.line == 7
    with pytest.raises(InputError, match=r"missing required entry EDGE_WEIGHT_FORMAT"):
        cvrp.read(_write(tmp_path, EXPLICIT.replace("EDGE_WEIGHT_FORMAT : LOWER_ROW\n", "")))
    full = EXPLICIT.replace("LOWER_ROW", "FULL_MATRIX").replace("4\n5 6", "0 4 5\n4 0 6\n5 7 0")
    with pytest.raises(InputError, match=r"not symmetric \(node 2 to 3\); asymmetric CVRP is not supported"):
        cvrp.read(_write(tmp_path, full))


def test_empty_and_missing_files(tmp_path):
    with pytest.raises(InputError, match="empty file"):
        cvrp.read(_write(tmp_path, "\n\n"))
    with pytest.raises(InputError, match="file not found") as info:
        cvrp.read(tmp_path / "nope.vrp")
    assert info.value.path == str(tmp_path / "nope.vrp")


# ----------------------------------------------------------------------------- writing


@pytest.mark.parametrize("fixture", ["A-n32-k5.vrp", "E-n13-k4.vrp", "X-n101-k25.vrp"])
def test_write_read_round_trip(tmp_path, cdir, fixture):
    inst = cvrp.read(cdir / fixture)
    cvrp.write(inst, tmp_path / "out.vrp")
    back = cvrp.read(tmp_path / "out.vrp")
    assert back == inst
    assert np.array_equal(back.distance_matrix(), inst.distance_matrix())


def test_write_round_trip_keeps_float_coordinates_fleet_and_display(tmp_path):
    inst = small(coords=[[0.5, 0.25], [1e-7, 3.0], [12345.678, -4.0], [-3.0, 0.0], [0.0, -4.5]], num_vehicles=3)
    cvrp.write(inst, tmp_path / "f.vrp")
    assert cvrp.read(tmp_path / "f.vrp") == inst
    ex = CVRPInstance("ex", [[0, 0], [1, 1], [2, 2]], [0, 1, 1], 2, "EXPLICIT",
                      matrix=[[0, 3, 4], [3, 0, 5], [4, 5, 0]])
    cvrp.write(ex, tmp_path / "ex.vrp")
    back = cvrp.read(tmp_path / "ex.vrp")
    assert back == ex and back.coords.tolist() == [[0, 0], [1, 1], [2, 2]]


def test_write_to_bad_path_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot write file"):
        cvrp.write(small(), tmp_path / "no" / "such" / "dir.vrp")


# ----------------------------------------------------------------------------- solutions


def test_solution_round_trip(tmp_path):
    inst = small()
    cvrp.write_solution(inst, [[1, 2], [], [3, 4]], tmp_path / "s.sol", None)
    assert (tmp_path / "s.sol").read_text() == "Route #1: 1 2\nRoute #2: 3 4\nCost 24\n"
    back = cvrp.read_solution(tmp_path / "s.sol", inst)
    assert back.routes == [[1, 2], [3, 4]] and back.cost == 24
    cvrp.write_solution(inst, [[1, 2], [3, 4]], tmp_path / "t.sol", 24.5)
    assert cvrp.read_solution(tmp_path / "t.sol", inst).cost == 24.5


@pytest.mark.parametrize("text, pattern, line", [
    ("Route #1: 1 2\nRoute #2: 3 x\n", r"customer 'x' is not an integer", 2),
    ("Route #1: 1 2 5\n", r"customer 5 is outside 1\.\.4", 1),
    ("Route #1: 0 1\n", r"customer 0 is outside 1\.\.4", 1),
    ("Route 1 2\n", r"route line must look like 'Route #1: 3 5 1'", 1),
    ("Route #1: 1\nCost abc\n", r"Cost must be a number, got 'abc'", 2),
    ("Route #1: 1\nCost 3\nCost 4\n", r"Cost is given twice", 3),
    ("Route #1: 1\nhello\n", r"unexpected line 'hello'", 2),
    ("Cost 12\n", r"no route found", None),
])
def test_malformed_solution_files(tmp_path, text, pattern, line):
    path = tmp_path / "bad.sol"
    path.write_text(text)
    with pytest.raises(InputError, match=pattern) as info:
        cvrp.read_solution(path, small())
    assert info.value.path == str(path) and info.value.line == line


def test_write_solution_refuses_unreadable_routes(tmp_path):
    with pytest.raises(InputError, match="route 1 contains unknown index 9"):
        cvrp.write_solution(small(), [[9]], tmp_path / "s.sol", None)


# ----------------------------------------------------------------------------- checker


def test_check_feasible_and_objective_by_hand():
    inst = small()
    # 0 -> 1 -> 2 -> 0: 3 + 5 + 4 = 12; 0 -> 3 -> 4 -> 0: 3 + 5 + 4 = 12
    verdict = cvrp.check(inst, [[1, 2], [3, 4]])
    assert verdict.feasible and verdict.objective == 24.0 and verdict.violations == ()
    # numpy routes, empty routes and any route order are fine
    assert cvrp.check(inst, [np.array([4, 3]), [], np.array([2, 1])]).objective == 24.0
    assert cvrp.check(inst, [[1], [2], [3], [4]]).objective == 2 * (3 + 4 + 3 + 4)


@pytest.mark.parametrize("routes, violation", [
    ([[1, 2], [3]], "1 customer(s) not visited: 4"),
    ([[1, 2], [3, 4, 1]], "customer 1 is visited 2 times"),
    ([[1, 2, 3], [4]], "route 1 carries 12, above the capacity 10"),
    ([[1, 0, 2], [3, 4]], "route 1 contains the depot (index 0); routes list customers only"),
    ([[1, 2], [3, 7]], "route 2 contains unknown index 7 (customers are 1..4)"),
    ([[1, 2], [3, -1]], "route 2 contains unknown index -1 (customers are 1..4)"),
    ([[1, 2.0], [3, 4]], "route 1 contains 2.0, not an integer customer index"),
    ([[1, True], [3, 4]], "route 1 contains True, not an integer customer index"),
    ([[1, 2], 3], "route 2 must be a list of customer indices, got int"),
    ("1 2 3 4", "the solution must be a list of routes, got str"),
    (None, "the solution must be a list of routes, got NoneType"),
])
def test_check_violations_in_words(routes, violation):
    verdict = cvrp.check(small(), routes)
    assert not verdict.feasible
    assert violation in verdict.violations


def test_check_objective_of_infeasible_but_readable_solution():
    verdict = cvrp.check(small(), [[1, 2, 3, 4]])
    assert not verdict.feasible and verdict.objective == 3 + 5 + 5 + 5 + 4
    assert cvrp.check(small(), [[1, 9]]).objective is None


def test_fleet_limit_only_when_stated():
    assert cvrp.check(small(), [[1], [2], [3], [4]]).feasible
    verdict = cvrp.check(small(num_vehicles=2), [[1], [2], [3], [4]])
    assert verdict.violations == ("4 routes but the fleet has 2 vehicles",)


def test_long_violation_lists_are_cut():
    inst = CVRPInstance("many", np.zeros((31, 2)), [0] + [1] * 30, 100)
    verdict = cvrp.check(inst, [[1]])
    assert verdict.violations == ("29 customer(s) not visited: 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 19 more",)


# ----------------------------------------------------------------------------- instance validation


@pytest.mark.parametrize("changes, pattern", [
    (dict(coords=[[0, 0]], demands=[0]), "needs a depot and at least one customer"),
    (dict(coords=np.zeros((0, 2)), demands=[]), "needs a depot and at least one customer"),
    (dict(demands=[0, 4, 4, 11, 4]), "customer 3 has demand 11 above the vehicle capacity 10"),
    (dict(demands=[0, 4, -1, 4, 4]), r"the demand of node 2 is negative \(-1\)"),
    (dict(demands=[0, 4, 2.5, 4, 4]), "the demand of node 2 is 2.5, not an integer"),
    (dict(demands=[0, 4, np.nan, 4, 4]), "the demand of node 2 is nan"),
    (dict(demands=[1, 4, 4, 4, 4]), "the depot .index 0. must have demand 0"),
    (dict(demands=[0, 4, 4, 4]), r"coordinates must have shape \(4, 2\)"),
    (dict(capacity=0), "capacity must be positive"),
    (dict(capacity=2.5), "capacity must be a positive integer"),
    (dict(capacity=True), "capacity must be an integer, not a boolean"),
    (dict(coords=[[0, 0], [3, 0], [0, np.inf], [-3, 0], [0, -4]]), "node 2 has a non-finite coordinate"),
    (dict(coords=[[0, 0], [3, 0], [np.nan, 0], [-3, 0], [0, -4]]), "node 2 has a non-finite coordinate"),
    (dict(coords=[[0, 0], [3, 0], [2e12, 0], [-3, 0], [0, -4]]), "node 2 has a coordinate beyond 1e12"),
    (dict(edge_weight_type="SPHERE"), "unknown edge-weight type 'SPHERE'"),
    (dict(matrix=np.zeros((5, 5))), "a distance matrix is only allowed with EXPLICIT"),
    (dict(edge_weight_type="EXPLICIT"), "an EXPLICIT instance needs a distance matrix"),
    (dict(coords=None), "a EUC_2D instance needs coordinates"),
    (dict(num_vehicles=1), "the total demand 16 exceeds what 1 vehicles of capacity 10 can carry"),
    (dict(num_vehicles=0), "number of vehicles must be positive"),
    (dict(name=""), "name must be a non-empty single line"),
])
def test_invalid_instances(changes, pattern):
    with pytest.raises(InputError, match=pattern):
        small(**changes)


def test_invalid_matrices():
    def ex(matrix):
        return CVRPInstance("ex", None, [0, 1, 1], 5, "EXPLICIT", matrix=matrix)

    assert ex([[7, 1, 2], [1, 7, 3], [2, 3, 7]]).distance_matrix().tolist() == [[0, 1, 2], [1, 0, 3], [2, 3, 0]]
    with pytest.raises(InputError, match="not symmetric"):
        ex([[0, 1, 2], [1, 0, 3], [2, 4, 0]])
    with pytest.raises(InputError, match=r"distance from node 0 to node 1 is negative"):
        ex([[0, -1, 2], [-1, 0, 3], [2, 3, 0]])
    with pytest.raises(InputError, match="is 1.5, not an integer"):
        ex([[0, 1.5, 2], [1.5, 0, 3], [2, 3, 0]])
    with pytest.raises(InputError, match="NaN or infinite"):
        ex([[0, np.nan, 2], [np.nan, 0, 3], [2, 3, 0]])
    with pytest.raises(InputError, match=r"must have shape \(3, 3\)"):
        ex([[0, 1], [1, 0]])


def test_instance_is_read_only_and_allows_duplicate_points():
    inst = small(coords=[[0, 0], [1, 1], [1, 1], [1, 1], [0, 0]])
    assert cvrp.check(inst, [[1, 2], [3, 4]]).objective == 2 + 0 + 1 + 1 + 0 + 0
    with pytest.raises(ValueError):
        inst.demands[1] = 3
    with pytest.raises(ValueError):
        inst.distance_matrix()[0, 1] = 3


# ----------------------------------------------------------------------------- generators


def test_uniform_generator():
    inst = cvrp.generate_uniform(20, np.random.default_rng(5))
    assert inst.n == 20 and inst.capacity == 30 and inst.edge_weight_type == "EUC_2D"
    assert np.all(inst.coords == np.round(inst.coords))
    assert inst.coords.min() >= 0 and inst.coords.max() <= 1_000_000
    assert inst.demands[0] == 0 and inst.demands[1:].min() >= 1 and inst.demands[1:].max() <= 9
    same = cvrp.generate_uniform(20, 5)
    assert same == inst and inst.name.startswith("uniform-n20-")
    assert cvrp.generate_uniform(20, 6) != inst
    big = cvrp.generate_uniform(2000, 0, scale=100)
    assert big.coords.max() <= 100 and set(np.unique(big.demands[1:])) == set(range(1, 10))


@pytest.mark.parametrize("size, capacity", [(1, 20), (10, 20), (20, 30), (30, 33), (50, 40), (75, 45),
                                            (100, 50), (1000, 50)])
def test_uniform_capacity_rule(size, capacity):
    assert cvrp.uniform_capacity(size) == capacity


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(size=0), "number of customers must be a positive integer"),
    (dict(size=2.5), "number of customers must be a positive integer"),
    (dict(size=5, capacity=8), "capacity must be between 9"),
    (dict(size=5, scale=0), "scale must be between 1"),
])
def test_uniform_bad_options(kwargs, pattern):
    size = kwargs.pop("size")
    with pytest.raises(InputError, match=pattern):
        cvrp.generate_uniform(size, 0, **kwargs)


@pytest.mark.parametrize("depot", cvrp.X_DEPOTS)
@pytest.mark.parametrize("customers", cvrp.X_CUSTOMERS)
def test_x_generator_positions(depot, customers):
    inst = cvrp.generate_x(60, 1, depot=depot, customers=customers, demand="unitary", route_size=7)
    assert inst.n == 60 and inst.capacity == 7 and list(np.unique(inst.demands[1:])) == [1]
    xy = inst.coords
    assert np.all(xy == np.round(xy)) and xy.min() >= 0 and xy.max() <= 1000
    if depot == "central":
        assert tuple(xy[0]) == (500, 500)
    elif depot == "eccentric":
        assert tuple(xy[0]) == (0, 0)


def test_x_clustered_customers_are_closer_together():
    def mean_nearest(inst):
        d = inst.distance_matrix()[1:, 1:].astype(float)
        np.fill_diagonal(d, np.inf)
        return d.min(axis=1).mean()

    clustered = cvrp.generate_x(300, 2, customers="clustered", demand="unitary")
    spread = cvrp.generate_x(300, 2, customers="random", demand="unitary")
    # seeds pull customers within about 80 grid units (density exp(-d / 40))
    assert mean_nearest(clustered) < 0.7 * mean_nearest(spread)
    assert clustered.name.startswith("x-n300-") and "-cC-" in clustered.name


@pytest.mark.parametrize("demand, low, high", [
    ("unitary", 1, 1), ("small_large_variance", 1, 10), ("small_small_variance", 5, 10),
    ("large_large_variance", 1, 100), ("large_small_variance", 50, 100),
    ("quadrant", 1, 100), ("many_small_few_large", 1, 100),
])
def test_x_demands_and_capacity_rule(demand, low, high):
    inst = cvrp.generate_x(400, 3, demand=demand, route_size=12.5)
    q = inst.demands[1:]
    assert q.min() >= low and q.max() <= high
    assert inst.capacity == max(math.ceil(12.5 * q.sum() / 400), q.max())
    if demand == "quadrant":
        xy = inst.coords[1:]
        large = (xy[:, 0] >= 500) == (xy[:, 1] >= 500)
        assert q[large].min() >= 51 and q[~large].max() <= 50
    if demand == "many_small_few_large":
        assert np.all((q <= 10) | (q >= 50))
        assert 0.6 < np.mean(q <= 10) < 0.99


def test_x_route_size_choices():
    r = [cvrp.generate_x(100, s, demand="unitary").capacity for s in range(30)]
    assert 3 <= min(r) and max(r) <= 25 and len(set(r)) > 3  # triangular T(3, 6, 25)
    caps = [cvrp.generate_x(100, s, demand="unitary", route_size="very_long").capacity for s in range(10)]
    assert all(16 <= c <= 25 for c in caps)
    assert cvrp.generate_x(100, 0, demand="unitary", route_size="4").capacity == 4


def test_x_generator_is_deterministic_and_handles_one_customer():
    assert cvrp.generate_x(50, 9) == cvrp.generate_x(50, 9)
    assert cvrp.generate_x(5, 9, name="mine").name == "mine" == cvrp.generate_uniform(5, 9, name="mine").name
    one = cvrp.generate_x(1, 0, customers="clustered")
    assert one.n == 1 and one.capacity >= one.demands[1]


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(depot="north"), "unknown depot type 'north'; choose one of central, eccentric, random"),
    (dict(customers="grid"), "unknown customers type 'grid'"),
    (dict(demand="huge"), "unknown demand type 'huge'"),
    (dict(route_size="tiny"), "unknown route size 'tiny'"),
    (dict(route_size=0.5), "route size must be a number of at least 1"),
])
def test_x_bad_options(kwargs, pattern):
    with pytest.raises(InputError, match=pattern):
        cvrp.generate_x(10, 0, **kwargs)


# ----------------------------------------------------------------------------- problem entry


def test_problem_entry():
    prob = problems.get("cvrp")
    assert prob is cvrp.PROBLEM
    assert prob.suffixes == (".vrp",) and prob.sense == "min"
    assert set(prob.generators) == {"uniform", "x"}
    assert prob.solution_to_json([np.array([3, 1]), [2]]) == [[3, 1], [2]]
    inst = prob.generators["uniform"](10, np.random.default_rng(0))
    assert prob.check(inst, [[c] for c in range(1, 11)]).feasible


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    coords=st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)), min_size=2, max_size=12),
    capacity=st.integers(1, 1000),
    data=st.data(),
)
def test_write_read_round_trip_random(tmp_path_factory, coords, capacity, data):
    demands = data.draw(st.lists(st.integers(0, capacity), min_size=len(coords) - 1, max_size=len(coords) - 1))
    inst = CVRPInstance("random", np.array(coords), [0, *demands], capacity)
    path = tmp_path_factory.mktemp("rt") / "r.vrp"
    cvrp.write(inst, path)
    back = cvrp.read(path)
    assert back == inst
    routes = [[c] for c in range(1, inst.n + 1)]
    assert cvrp.check(back, routes).objective == cvrp.check(inst, routes).objective
