"""The TSP problem module: instances, TSPLIB reading and writing, tours, checker, generators."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coptim import problems
from coptim.errors import InputError
from coptim.problems import tsp

DATA = Path(__file__).resolve().parent / "data" / "tsp"
HEADER = "NAME : t\nTYPE : TSP\nDIMENSION : {n}\nEDGE_WEIGHT_TYPE : {ewt}\n"


def _write(tmp_path: Path, text: str, name: str = "t.tsp") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _coords_file(tmp_path: Path, rows: str, n: int = 3, ewt: str = "EUC_2D", extra: str = "") -> Path:
    return _write(tmp_path, HEADER.format(n=n, ewt=ewt) + extra + "NODE_COORD_SECTION\n" + rows + "EOF\n")


# ------------------------------------------------------------------------------------------
# Reading the fixtures


@pytest.mark.parametrize(("name", "n", "ewt"), [
    ("burma14", 14, "GEO"), ("ulysses16", 16, "GEO"), ("att48", 48, "ATT"), ("berlin52", 52, "EUC_2D"),
    ("gr17", 17, "EXPLICIT"), ("fri26", 26, "EXPLICIT"), ("bayg29", 29, "EXPLICIT"), ("bays29", 29, "EXPLICIT"),
])
def test_read_fixtures(name, n, ewt):
    inst = tsp.read(DATA / f"{name}.tsp")
    assert (inst.name, inst.n, inst.edge_weight_type) == (name, n, ewt)
    d = inst.distance_matrix()
    assert d.shape == (n, n) and d.dtype == np.int64 and np.array_equal(d, d.T) and not np.diagonal(d).any()
    assert d is inst.distance_matrix()  # cached
    assert not d.flags.writeable


def test_explicit_display_data_is_kept_for_drawing():
    assert tsp.read(DATA / "bayg29.tsp").coords.shape == (29, 2)
    assert tsp.read(DATA / "bays29.tsp").coords.shape == (29, 2)
    assert tsp.read(DATA / "gr17.tsp").coords is None


@pytest.mark.parametrize(("name", "optimum"), [("att48", 10628), ("berlin52", 7542)])
def test_optimal_tours_give_the_published_optimum(name, optimum):
    inst = tsp.read(DATA / f"{name}.tsp")
    tour = tsp.read_tour(DATA / f"{name}.opt.tour", inst)
    verdict = tsp.check(inst, tour)
    assert verdict.feasible and verdict.objective == optimum and isinstance(verdict.objective, int)


def test_type_with_an_author_note_is_accepted(tmp_path):
    path = _write(tmp_path, "NAME: s\nTYPE: TSP (M.~Hofmeister)\nDIMENSION: 2\nEDGE_WEIGHT_TYPE: EXPLICIT\n"
                            "EDGE_WEIGHT_FORMAT: UPPER_DIAG_ROW\nEDGE_WEIGHT_SECTION\n0 7 0\nEOF\n")
    assert tsp.read(path).distance_matrix().tolist() == [[0, 7], [7, 0]]


def test_float_coordinates_of_any_scale_and_duplicates(tmp_path):
    path = _coords_file(tmp_path, "1 0.5 1e-3\n2 2.5e9 -3.25e9\n3 0.5 1e-3\n")
    inst = tsp.read(path)
    assert inst.coords[1].tolist() == [2.5e9, -3.25e9]
    d = inst.distance_matrix()
    assert d[0, 2] == 0 and d[0, 1] == round(float(np.hypot(2.5e9 - 0.5, -3.25e9 - 1e-3)))


def test_name_defaults_to_the_file_stem(tmp_path):
    path = _write(tmp_path, "TYPE : TSP\nDIMENSION : 2\nEDGE_WEIGHT_TYPE : EUC_2D\nNODE_COORD_SECTION\n1 0 0\n2 1 1\n",
                  "nameless.tsp")
    assert tsp.read(path).name == "nameless"


# ------------------------------------------------------------------------------------------
# Malformed files: every error names the file and, where known, the line


@pytest.mark.parametrize(("text", "message"), [
    ("", r"t\.tsp: empty file"),
    ("NAME : t\nTYPE : ATSP\nDIMENSION : 2\n", r"t\.tsp:2: TYPE 'ATSP' is not supported; .*symmetric TSP"),
    ("NAME : t\nTYPE : HCP\nDIMENSION : 2\nEDGE_DATA_SECTION\n1 2\n-1\n", r"t\.tsp:2: TYPE 'HCP' is not supported"),
    ("NAME : t\nTYPE : CVRP\nDIMENSION : 2\nDEMAND_SECTION\n1 0\n", r"t\.tsp:2: TYPE 'CVRP' is not supported"),
    ("NAME : t\nDIMENSION : 2\nEDGE_WEIGHT_TYPE : EUC_2D\n", r"t\.tsp: missing required entry TYPE"),
    ("NAME : t\nTYPE : TSP\nEDGE_WEIGHT_TYPE : EUC_2D\n", r"t\.tsp: missing required entry DIMENSION"),
    ("NAME : t\nTYPE : TSP\nDIMENSION : 1\nEDGE_WEIGHT_TYPE : EUC_2D\nNODE_COORD_SECTION\n1 0 0\n",
     r"t\.tsp:3: DIMENSION must be at least 2, got 1"),
    ("NAME : t\nTYPE : TSP\nDIMENSION : two\n", r"t\.tsp:3: DIMENSION must be an integer, got 'two'"),
    ("NAME : t\nTYPE : TSP\nDIMENSION : 2\n", r"t\.tsp: missing required entry EDGE_WEIGHT_TYPE"),
    ("NAME : t\nTYPE : TSP\nDIMENSION : 2\nEDGE_WEIGHT_TYPE : EUC_3D\n",
     r"t\.tsp:4: unsupported EDGE_WEIGHT_TYPE 'EUC_3D'; supported: EUC_2D, CEIL_2D, ATT, GEO, MAN_2D, MAX_2D, EXPLICIT"),
    ("NAME : t\nTYPE : TSP\nDIMENSION : 2\nEDGE_WEIGHT_TYPE : EUC_2D\n", r"t\.tsp: missing NODE_COORD_SECTION"),
    ("NAME : t\nTYPE : TSP\nDIMENSION : 2\nEDGE_WEIGHT_TYPE : EUC_2D\nNODE_COORD_TYPE : THREED_COORDS\n",
     r"t\.tsp:5: NODE_COORD_TYPE THREED_COORDS is not supported"),
    ("NAME : t\nTYPE : TSP\nDIMENSION : 2\nEDGE_WEIGHT_TYPE : EUC_2D\nFIXED_EDGES_SECTION\n1 2\n-1\n",
     r"t\.tsp:5: FIXED_EDGES_SECTION is not supported"),
    ("NAME : t\nTYPE : TSP\nDIMENSION : 2\nEDGE_WEIGHT_TYPE : EXPLICIT\nEDGE_WEIGHT_SECTION\n0 1\n1 0\n",
     r"t\.tsp: missing required entry EDGE_WEIGHT_FORMAT"),
    ("NAME : t\nTYPE : TSP\nDIMENSION : 2\nEDGE_WEIGHT_TYPE : EXPLICIT\nEDGE_WEIGHT_FORMAT : FULL_MATRIX\n",
     r"t\.tsp: missing EDGE_WEIGHT_SECTION"),
])
def test_malformed_headers(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        tsp.read(_write(tmp_path, text))


@pytest.mark.parametrize(("rows", "message"), [
    ("1 0 0\n2 1 1\n", r"t\.tsp:7: NODE_COORD_SECTION has 2 lines but DIMENSION is 3 \(file truncated\?\)"),
    ("1 0 0\n2 1 1\n3 1 1\n4 2 2\n", r"t\.tsp:9: node id 4 is outside 1..3"),
    ("1 0 0\n2 1 1\n3 x 1\n", r"t\.tsp:8: x must be a number, got 'x'"),
    ("1 0 0\n2 1 1\n3 1 inf\n", r"t\.tsp:8: y must be finite"),
    ("1 0 0\n2 1 1\n3 1 nan\n", r"t\.tsp:8: y must be finite"),
    ("1 0 0\n2 1 1\n3 1 1e13\n", r"t\.tsp:8: coordinate of node 3 exceeds 1e\+12"),
    ("1 0 0\n2 1 1\n2 1 1\n", r"t\.tsp:8: node 2 appears twice"),
])
def test_malformed_coordinates(tmp_path, rows, message):
    with pytest.raises(InputError, match=message):
        tsp.read(_coords_file(tmp_path, rows))


def test_huge_dimension_is_a_truncation_error_not_a_memory_error(tmp_path):
    with pytest.raises(InputError, match=r"t\.tsp:7: NODE_COORD_SECTION has 2 lines but DIMENSION is 1000000000000"):
        tsp.read(_coords_file(tmp_path, "1 0 0\n2 1 1\n", n=10**12))


def _explicit_file(tmp_path: Path, body: str, fmt: str = "FULL_MATRIX", n: int = 3) -> Path:
    return _write(tmp_path, HEADER.format(n=n, ewt="EXPLICIT") + f"EDGE_WEIGHT_FORMAT : {fmt}\n"
                  "EDGE_WEIGHT_SECTION\n" + body + "EOF\n")


@pytest.mark.parametrize(("body", "message"), [
    ("0 1 2\n1 0 3\n2 3 0\n", None),
    ("0 1 2\n1 0 -3\n2 3 0\n", r"t\.tsp:8: EDGE_WEIGHT_SECTION has a negative weight -3"),
    ("0 1 2\n1 0 3\n2 4 0\n",
     r"t\.tsp:8: EDGE_WEIGHT_SECTION is not symmetric: weight\(2,3\) = 3 but weight\(3,2\) = 4 .*ATSP"),
    ("0 1 2\n1 0 3.5\n2 3.5 0\n", r"t\.tsp:8: edge weight 3\.5 is not an integer"),
    ("0 1 2\n1 0 2e12\n2 2e12 0\n", r"t\.tsp:8: edge weight 2e12 exceeds 1e\+12"),
    ("0 1 2\n1 0 x\n2 3 0\n", r"t\.tsp:8: edge weight must be a number, got 'x'"),
    ("0 1 2\n1 0 3\n", r"t\.tsp:8: EDGE_WEIGHT_SECTION has 6 numbers but FULL_MATRIX with DIMENSION 3 needs 9"),
])
def test_explicit_weights(tmp_path, body, message):
    path = _explicit_file(tmp_path, body)
    if message is None:
        assert tsp.read(path).distance_matrix().tolist() == [[0, 1, 2], [1, 0, 3], [2, 3, 0]]
    else:
        with pytest.raises(InputError, match=message):
            tsp.read(path)


def test_nonzero_explicit_diagonal_is_ignored(tmp_path):
    path = _explicit_file(tmp_path, "5 1 2\n1 5 3\n2 3 5\n")
    assert not np.diagonal(tsp.read(path).distance_matrix()).any()


# ------------------------------------------------------------------------------------------
# Instances built in code


def test_instance_validation():
    ok = np.array([[0, 0], [1, 1]])
    cases = [
        (dict(name="", coords=ok, edge_weight_type="EUC_2D"), "name must be a non-empty"),
        (dict(name="a", coords=ok, edge_weight_type="euc_2d"), "unsupported edge weight type 'euc_2d'"),
        (dict(name="a", coords=ok[:1], edge_weight_type="EUC_2D"), "at least 2 nodes, got 1"),
        (dict(name="a", coords=np.zeros((0, 2)), edge_weight_type="EUC_2D"), "at least 2 nodes, got 0"),
        (dict(name="a", coords=[[0, 0], [np.nan, 1]], edge_weight_type="EUC_2D"), "node 1 are not finite"),
        (dict(name="a", coords=[[0, 0], [np.inf, 1]], edge_weight_type="GEO"), "node 1 are not finite"),
        (dict(name="a", coords=[[0, 0, 0], [1, 1, 1]], edge_weight_type="EUC_2D"), r"shape \(n, 2\)"),
        (dict(name="a", coords=[["x", 0], [1, 1]], edge_weight_type="EUC_2D"), "must be numeric"),
        (dict(name="a", coords=None, edge_weight_type="EUC_2D"), "needs coordinates"),
        (dict(name="a", coords=ok, edge_weight_type="EUC_2D", matrix=np.zeros((2, 2))), "only allowed with EXPLICIT"),
        (dict(name="a", coords=None, edge_weight_type="EXPLICIT"), "needs a distance matrix"),
        (dict(name="a", coords=None, edge_weight_type="EXPLICIT", matrix=[[0]]), "at least 2 nodes, got 1"),
        (dict(name="a", coords=None, edge_weight_type="EXPLICIT", matrix=[[0, 1, 2]]), "must be square"),
        (dict(name="a", coords=None, edge_weight_type="EXPLICIT", matrix=[[0, -1], [-1, 0]]), "negative weight"),
        (dict(name="a", coords=None, edge_weight_type="EXPLICIT", matrix=[[0, 1], [2, 0]]), "not symmetric"),
        (dict(name="a", coords=None, edge_weight_type="EXPLICIT", matrix=[[0, 0.5], [0.5, 0]]), "must be integers"),
        (dict(name="a", coords=[[0, 0]], edge_weight_type="EXPLICIT", matrix=[[0, 1], [1, 0]]), "have 1 rows"),
        (dict(name="a", coords=ok, edge_weight_type="EUC_2D", comment="two\nlines"), "single-line"),
    ]
    for kwargs, message in cases:
        with pytest.raises(InputError, match=message):
            tsp.TSPInstance(**kwargs)


def test_instance_arrays_are_private_copies():
    coords = np.array([[0.0, 0.0], [3.0, 4.0]])
    inst = tsp.TSPInstance("a", coords, "EUC_2D")
    coords[1] = (30.0, 40.0)
    assert inst.distance_matrix()[0, 1] == 5
    with pytest.raises(ValueError):
        inst.coords[0, 0] = 1.0


def test_distance_matrix_refuses_huge_instances_but_the_checker_still_measures():
    n = tsp.MAX_MATRIX_NODES + 1
    coords = np.column_stack([np.arange(n, dtype=float), np.zeros(n)])
    inst = tsp.TSPInstance("line", coords, "EUC_2D")
    with pytest.raises(InputError, match=f"has {n} nodes, too many for a dense distance matrix"):
        inst.distance_matrix()
    assert tsp.check(inst, np.arange(n)).objective == 2 * (n - 1)


# ------------------------------------------------------------------------------------------
# Writing and tours


@pytest.mark.parametrize("name", ["burma14", "att48", "gr17", "bayg29", "bays29"])
def test_write_read_round_trip(tmp_path, name):
    inst = tsp.read(DATA / f"{name}.tsp")
    out = tmp_path / "copy.tsp"
    tsp.write(inst, out)
    again = tsp.read(out)
    assert (again.name, again.edge_weight_type, again.comment) == (inst.name, inst.edge_weight_type, inst.comment)
    assert np.array_equal(again.distance_matrix(), inst.distance_matrix())
    assert (again.coords is None) == (inst.coords is None)
    if inst.coords is not None:
        assert np.array_equal(again.coords, inst.coords)


def test_write_keeps_float_coordinates_exactly(tmp_path):
    inst = tsp.TSPInstance("f", np.array([[0.1, 1e-7], [123456.789, 3.0]]), "CEIL_2D")
    tsp.write(inst, tmp_path / "f.tsp")
    assert np.array_equal(tsp.read(tmp_path / "f.tsp").coords, inst.coords)


def test_write_to_a_missing_folder_is_an_input_error(tmp_path):
    inst = tsp.read(DATA / "burma14.tsp")
    with pytest.raises(InputError, match="cannot write file"):
        tsp.write(inst, tmp_path / "no" / "such" / "x.tsp")


def test_write_solution_and_read_tour_round_trip(tmp_path):
    inst = tsp.read(DATA / "berlin52.tsp")
    tour = list(np.random.default_rng(0).permutation(52))
    path = tmp_path / "s.tour"
    tsp.write_solution(inst, tour, path, objective=123.0)
    text = path.read_text().splitlines()
    assert text[:2] == ["NAME : berlin52.tour", "TYPE : TOUR"] and "COMMENT : Length = 123" in text
    assert text[-2:] == ["-1", "EOF"] and text[text.index("TOUR_SECTION") + 1] == str(tour[0] + 1)
    assert tsp.read_tour(path, inst) == [int(i) for i in tour]


def test_write_solution_refuses_an_invalid_tour(tmp_path):
    inst = tsp.read(DATA / "burma14.tsp")
    with pytest.raises(InputError, match="cannot write an invalid tour: tour has 3 nodes but the instance has 14"):
        tsp.write_solution(inst, [0, 1, 2], tmp_path / "bad.tour")


@pytest.mark.parametrize(("body", "message"), [
    ("TYPE : TOUR\nDIMENSION : 4\nTOUR_SECTION\n1\n2\n3\n-1\n", r"s\.tour:2: tour DIMENSION 4 does not match the instance's 3"),
    ("TYPE : TSP\nTOUR_SECTION\n1\n2\n3\n-1\n", r"s\.tour:1: TYPE 'TSP' is not a tour file"),
    ("TYPE : TOUR\n", r"s\.tour: missing TOUR_SECTION"),
    ("TOUR_SECTION\n1\n2\nx\n-1\n", r"s\.tour:4: tour node must be an integer, got 'x'"),
    ("TOUR_SECTION\n1\n2\n4\n-1\n", r"s\.tour:4: tour node 4 is outside 1..3"),
    ("TOUR_SECTION\n1\n2\n2\n-1\n", r"s\.tour:4: tour node 2 appears twice"),
    ("TOUR_SECTION\n1 2\n-1\n", r"s\.tour:3: TOUR_SECTION lists 2 nodes but the instance has 3"),
    ("TOUR_SECTION\n1 2 -1\n3 -1\n", r"s\.tour:3: only one tour per file is supported"),
])
def test_malformed_tours(tmp_path, body, message):
    inst = tsp.TSPInstance("t", np.array([[0, 0], [1, 0], [0, 1]]), "EUC_2D")
    path = _write(tmp_path, body, "s.tour")
    with pytest.raises(InputError, match=message):
        tsp.read_tour(path, inst)


def test_tour_on_one_line_without_eof(tmp_path):
    inst = tsp.TSPInstance("t", np.array([[0, 0], [1, 0], [0, 1]]), "EUC_2D")
    assert tsp.read_tour(_write(tmp_path, "TOUR_SECTION\n3 1 2 -1\n", "s.tour"), inst) == [2, 0, 1]


# ------------------------------------------------------------------------------------------
# Checker


def test_check_reports_what_is_wrong():
    inst = tsp.TSPInstance("sq", np.array([[0, 0], [0, 3], [4, 3], [4, 0]]), "EUC_2D")
    good = tsp.check(inst, [0, 1, 2, 3])
    assert good.feasible and good.objective == 14 and good.violations == ()
    assert tsp.check(inst, np.array([0, 2, 1, 3])).objective == 5 + 4 + 5 + 4
    assert tsp.check(inst, [0, 1, 2]).violations == ("tour has 3 nodes but the instance has 4", "nodes never visited: 3")
    assert tsp.check(inst, [0, 1, 1, 3]).violations == ("nodes visited more than once: 1", "nodes never visited: 2")
    assert tsp.check(inst, [0, 1, 2, 7]).violations == ("node indices out of range 0..3: 7", "nodes never visited: 3")
    assert not tsp.check(inst, [0.0, 1.0, 2.0, 3.0]).feasible
    assert not tsp.check(inst, [[0, 1], [2, 3]]).feasible
    assert not tsp.check(inst, "0123").feasible
    assert tsp.check(inst, []).violations[0] == "tour has 0 nodes but the instance has 4"


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 30), seed=st.integers(0, 2**32 - 1), ewt=st.sampled_from(["EUC_2D", "CEIL_2D", "ATT", "GEO"]))
def test_checker_objective_equals_the_matrix_sum_and_ignores_rotation(n, seed, ewt):
    rng = np.random.default_rng(seed)
    inst = tsp.TSPInstance("r", rng.uniform(-90, 90, size=(n, 2)), ewt)
    tour = rng.permutation(n)
    length = tsp.check(inst, tour).objective  # measured edge by edge from coordinates
    d = inst.distance_matrix()
    assert length == int(d[tour, np.roll(tour, -1)].sum())
    assert tsp.check(inst, np.roll(tour, 3)).objective == length
    assert tsp.check(inst, tour[::-1]).objective == length


# ------------------------------------------------------------------------------------------
# Generators and the problem object


@pytest.mark.parametrize("generator", ["uniform", "clustered"])
def test_generators_are_seeded_and_stay_in_the_square(generator):
    gen = tsp.PROBLEM.generators[generator]
    a = gen(500, np.random.default_rng(4))
    b = gen(500, np.random.default_rng(4))
    c = gen(500, np.random.default_rng(5))
    assert np.array_equal(a.coords, b.coords) and not np.array_equal(a.coords, c.coords)
    assert a.n == 500 and a.edge_weight_type == "EUC_2D"
    assert a.coords.min() >= 0 and a.coords.max() <= 1_000_000
    assert np.array_equal(a.coords, np.round(a.coords))
    small = gen(2, np.random.default_rng(0), scale=10)
    assert small.n == 2 and small.coords.max() <= 10
    named = gen(20, 7, name="mine")  # an integer seed works like default_rng(seed)
    assert named.name == "mine" and np.array_equal(named.coords, gen(20, np.random.default_rng(7)).coords)


def test_clustered_points_gather_around_few_centres():
    inst = tsp.generate_clustered(1000, np.random.default_rng(0), clusters=3, std=1000.0)
    uniform = tsp.generate_uniform(1000, np.random.default_rng(0))
    from coptim.solvers.tsp_construction import nearest_neighbour

    def nn_length(i):
        return tsp.check(i, nearest_neighbour(i.distance_matrix())).objective

    assert nn_length(inst) < nn_length(uniform) / 5


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(size=1), "size must be an integer of at least 2, got 1"),
    (dict(size=2.5), "size must be an integer"),
    (dict(size=True), "size must be an integer"),
    (dict(size=5, scale=0), "scale must be an integer between 1"),
    (dict(size=5, scale=10**13), "scale must be an integer between 1"),
])
def test_generator_arguments(kwargs, message):
    for gen in (tsp.generate_uniform, tsp.generate_clustered):
        with pytest.raises(InputError, match=message):
            gen(rng=np.random.default_rng(0), **kwargs)
    with pytest.raises(InputError, match="rng must be a numpy Generator or a non-negative integer seed"):
        tsp.generate_uniform(5, "seed")
    with pytest.raises(InputError, match="name must be a non-empty single-line string"):
        tsp.generate_clustered(5, 0, name="")
    with pytest.raises(InputError, match="clusters must be an integer between 1 and the size 5"):
        tsp.generate_clustered(5, np.random.default_rng(0), clusters=6)
    with pytest.raises(InputError, match="std must be a positive number"):
        tsp.generate_clustered(5, np.random.default_rng(0), std=0)


def test_problem_registration():
    prob = problems.get("tsp")
    assert prob is tsp.PROBLEM and prob.suffixes == (".tsp",) and prob.sense == "min"
    assert prob.solution_to_json(np.array([2, 0, 1])) == [2, 0, 1]
    assert all(type(i) is int for i in prob.solution_to_json(np.array([2, 0, 1])))
    with pytest.raises(InputError, match="expected a TSP instance, got str"):
        tsp.as_instance("burma14")
