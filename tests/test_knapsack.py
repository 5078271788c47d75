"""Knapsack: instance validation, file formats, generators, checker and solvers."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coptim import problems, solvers
from coptim.errors import InputError
from coptim.problems import knapsack as kp
from coptim.problems.knapsack import KnapsackInstance
from coptim.result import Check
from coptim.solvers import knapsack as kps

DATA = Path(__file__).parent / "data" / "knapsack"
EXACT = ("dp", "ortools", "cpsat")


def brute_force(inst: KnapsackInstance) -> int:
    best = 0
    for mask in itertools.product((0, 1), repeat=inst.n):
        x = np.array(mask, dtype=bool)
        if inst.weights[x].sum() <= inst.capacity:
            best = max(best, int(inst.values[x].sum()))
    return best


def small(values, weights, capacity, name="t") -> KnapsackInstance:
    return KnapsackInstance(name, np.array(values), np.array(weights), capacity)


# ----------------------------------------------------------------------------- instance


def test_instance_converts_and_freezes():
    inst = KnapsackInstance("a", [3, 4.0], np.array([1, 2], dtype=np.int32), 2.0)
    assert inst.values.dtype == np.int64 and inst.weights.dtype == np.int64
    assert inst.capacity == 2 and isinstance(inst.capacity, int)
    assert inst.n == 2
    with pytest.raises(ValueError):
        inst.values[0] = 7  # arrays are read-only
    assert inst == KnapsackInstance("a", [3, 4], [1, 2], 2)
    assert inst != KnapsackInstance("a", [3, 5], [1, 2], 2)


@pytest.mark.parametrize(
    ("values", "weights", "capacity", "message"),
    [
        ([1, 2], [1], 3, "2 values but 1 weights"),
        ([], [], 3, "at least one item"),
        ([1, float("nan")], [1, 1], 3, "values[1] is nan"),
        ([1, 2], [1, -4], 3, "weights[1] is negative"),
        ([1, 2.5], [1, 1], 3, "values[1] = 2.5 is not an integer"),
        ([1, 2], [1, 1], -1, "capacity must be non-negative"),
        ([1, 2], [1, 1], 2.5, "capacity must be a non-negative integer"),
        ([1, 2], [1, 1], float("nan"), "capacity must be a non-negative integer"),
        ([[1, 2]], [[1, 1]], 3, "flat list"),
        (["a", "b"], [1, 1], 3, "must be numbers"),
        ([2**62, 2**62], [1, 1], 3, "2**62"),
    ],
)
def test_instance_rejects_bad_fields(values, weights, capacity, message):
    with pytest.raises(InputError, match=re.escape(message)):
        KnapsackInstance("bad", values, weights, capacity)


def test_instance_rejects_bad_name():
    with pytest.raises(InputError, match="name"):
        KnapsackInstance("two\nlines", [1], [1], 1)


# ----------------------------------------------------------------------------- reading


def test_read_all_pisinger_blocks():
    records = kp.read_all(DATA / "pisinger_two_blocks.csv")
    assert [r.instance.name for r in records] == ["napPI_11_20_1000_1", "knapPI_11_20_1000_2"]
    first, second = records
    assert first.instance.n == 20 and first.instance.capacity == 970
    assert first.optimum == 1428 and first.solution == [8, 19]
    assert (first.instance.values[0], first.instance.weights[0]) == (114, 582)
    assert second.line == 28 and second.optimum == 3990
    assert int(second.instance.values[second.solution].sum()) == 3990


def test_read_refuses_multi_block_file():
    with pytest.raises(InputError, match="holds 2 instances"):
        kp.read(DATA / "pisinger_two_blocks.csv")


def test_read_plain_format_with_crlf():
    inst = kp.read(DATA / "f1_l-d_kp_10_269.kp")
    assert inst.name == "f1_l-d_kp_10_269"
    assert (inst.n, inst.capacity) == (10, 269)
    assert (inst.values[0], inst.weights[0]) == (55, 95)
    assert kp.read_all(DATA / "f1_l-d_kp_10_269.kp")[0].optimum is None


def test_read_plain_format_with_solution_vector():
    record = kp.read_all(DATA / "knapPI_1_100_1000_1.kp")[0]
    assert record.instance.n == 100 and record.instance.capacity == 995
    assert record.optimum == 9147  # stated in the benchmark's optimum file
    assert kp.check(record.instance, record.solution) == Check(True, 9147)


def test_format_is_picked_by_content(tmp_path):
    plain = tmp_path / "looks_like.csv"
    plain.write_text("2 5\n3 4\n2 3\n")
    assert kp.read(plain).capacity == 5
    pisinger = tmp_path / "named.kp"
    pisinger.write_text("123\nn 1\nc 5\nz 3\ntime 0\n1,3,4,1\n-----\n")
    assert kp.read(pisinger).name == "123"


PISINGER_OK = "inst\nn 2\nc 5\nz 3\ntime 0.00\n1,3,4,1\n2,2,3,0\n-----\n"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("inst\nn 2\nc 5\nz 3\ntime 0.00\n1,3,4,1\n", 6, "ends after 1 of its 2 items"),
        ("inst\nn 2\nc 5\nz 3\ntime 0.00\n1,3,4,1\n-----\n", 7, "declares n 2 but lists 1 items"),
        ("inst\nn 1\nc 5\nz 3\ntime 0.00\n1,3,4,1\n2,2,3,0\n-----\n", 7, "declares n 1 but lists more items"),
        ("inst\nn 2\nc 5\nz 3\ntime 0.00\n1,3,x,1\n2,2,3,0\n-----\n", 6, "weight of item 1 'x' is not a number"),
        ("inst\nn 2\nc 5\nz 3\ntime 0.00\n1,3,-4,1\n2,2,3,0\n-----\n", 6, "weight of item 1 is negative"),
        ("inst\nn 2\nc 5\nz 3\ntime 0.00\n1,3,4,1\n3,2,3,0\n-----\n", 7, "expected item number 2, found 3"),
        ("inst\nn 2\nc 5\nz 3\ntime 0.00\n1,3,4\n2,2,3,0\n-----\n", 6, "expected an item line"),
        ("inst\nn 2\nc 5\nz 3\ntime 0.00\n1,3,4,2\n2,2,3,0\n-----\n", 6, "x of item 1 must be 0 or 1"),
        ("inst\nn 2\nz 3\ntime 0.00\n1,3,4,1\n2,2,3,0\n-----\n", 1, "has no 'c' line"),
        ("inst\nn 2\nc -5\nz 3\ntime 0.00\n1,3,4,1\n2,2,3,0\n-----\n", 3, "capacity must be non-negative"),
        ("inst\nn two\nc 5\n1,3,4,1\n2,2,3,0\n-----\n", 2, "number of items 'two' is not a number"),
        ("inst\nn 2\nc 5\nweight 3\n1,3,4,1\n2,2,3,0\n-----\n", 4, "expected a header line"),
        ("inst\nn 2\nc 5\nz 4\ntime 0\n1,3,4,1\n2,2,3,0\n-----\n", 4, "has value 3 but z is 4"),
        ("inst\nn 2\nc 3\nz 3\ntime 0\n1,3,4,1\n2,2,3,0\n-----\n", 1, "weighs 4, more than the capacity 3"),
        (PISINGER_OK.replace("-----\n", "") + "next\n", 8, "expected a separator line"),
        ("n 2\nc 5\n1,3,4,1\n2,2,3,0\n-----\n", 1, "expected an instance name line"),
        (PISINGER_OK + "-----\n", 9, "separator line of dashes appears where an instance name"),
    ],
)
def test_pisinger_errors_name_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        kp.read_all(path)
    assert info.value.path == str(path)
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}:{line}: ")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("3\r\n10\r\n1 2\r\n3 4\r\n", 4, "ends after 2 of 3 value/weight pairs"),
        ("2\n10\n1 2\n3 x\n", 4, "weight of item 2 'x' is not a number"),
        ("2\n10\n1 2\n3 -4\n", 4, "weight of item 2 is negative"),
        ("2\n10\n1.5 2\n3 4\n", 3, "value of item 1 '1.5' is not an integer"),
        ("2\n-10\n1 2\n3 4\n", 2, "capacity must be non-negative"),
        ("0\n10\n", 1, "at least 1"),
        ("2\n10\n1 2\n3 4\n1 0 1\n", 5, "only an optimal 0/1 vector of 2 entries"),
        ("2\n10\n1 2\n3 4\n1 2\n", 5, "only an optimal 0/1 vector"),
        ("2\n5\n1 2\n3 4\n1 1\n", 5, "weighs 6, more than the capacity 5"),
    ],
)
def test_plain_errors_name_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "bad.kp"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        kp.read_all(path)
    assert info.value.line == line and info.value.path == str(path)


def test_missing_empty_and_binary_files(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        kp.read(tmp_path / "nope.kp")
    (tmp_path / "empty.kp").write_text("  \n\n")
    with pytest.raises(InputError, match="empty"):
        kp.read(tmp_path / "empty.kp")
    (tmp_path / "bin.kp").write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(InputError, match="not a text file"):
        kp.read(tmp_path / "bin.kp")


# ----------------------------------------------------------------------------- writing


@pytest.mark.parametrize("suffix", [".csv", ".kp"])
def test_write_read_round_trip(tmp_path, suffix):
    inst = kp.GENERATORS["uncorrelated"](12, np.random.default_rng(3))
    solution = kps.greedy_solution(inst)
    path = tmp_path / f"inst{suffix}"
    kp.write(inst, path, solution=solution)
    record = kp.read_all(path)[0]
    assert np.array_equal(record.instance.values, inst.values)
    assert np.array_equal(record.instance.weights, inst.weights)
    assert record.instance.capacity == inst.capacity
    assert record.solution == solution
    assert record.optimum == int(inst.values[solution].sum())
    if suffix == ".csv":
        assert record.instance == inst
    kp.write(inst, path)  # without a solution: x all zero (z 0), or no vector
    record = kp.read_all(path)[0]
    assert record.instance.capacity == inst.capacity
    assert record.solution in ([], None)


def test_write_rejects_bad_suffix_and_infeasible_solution(tmp_path):
    inst = small([3, 2], [4, 3], 5)
    with pytest.raises(InputError, match="unknown knapsack file suffix"):
        kp.write(inst, tmp_path / "x.txt")
    with pytest.raises(InputError, match="exceeds the capacity"):
        kp.write(inst, tmp_path / "x.csv", solution=[0, 1])


def test_write_solution(tmp_path):
    inst = small([3, 2, 9], [4, 3, 1], 5)
    kp.write_solution(inst, [2, 0], tmp_path / "s.txt")
    assert (tmp_path / "s.txt").read_text() == "name t\nobjective 12\nitems 0 2\n"


# ----------------------------------------------------------------------------- checker


def test_checker_accepts_and_recomputes():
    inst = small([3, 2, 9], [4, 3, 1], 5)
    assert kp.check(inst, [0, 2]) == Check(True, 12)
    assert kp.check(inst, []) == Check(True, 0)
    assert kp.check(inst, np.array([2])).objective == 9


@pytest.mark.parametrize(
    ("solution", "message"),
    [
        ([0, 1], "total weight 7 exceeds the capacity 5"),
        ([0, 0], "chosen more than once"),
        ([5], "out of range 0..2"),
        ([-1], "out of range"),
        ([1.0], "not an integer index"),
        ([True], "not an integer index"),
        ("02", "must be a list"),
        (None, "must be a list"),
    ],
)
def test_checker_reports_violations(solution, message):
    check = kp.check(small([3, 2, 9], [4, 3, 1], 5), solution)
    assert not check.feasible and check.objective is None
    assert any(message in v for v in check.violations)


# ----------------------------------------------------------------------------- generators


@pytest.mark.parametrize("kind", sorted(kp.GENERATORS))
def test_generators_are_seeded_and_follow_pisinger(kind):
    gen = kp.GENERATORS[kind]
    a, b = gen(200, np.random.default_rng(7)), gen(200, np.random.default_rng(7))
    assert a == b
    assert a != gen(200, np.random.default_rng(8))
    w, v = a.weights, a.values
    assert a.n == 200 and a.capacity == int(w.sum()) // 2
    assert (w >= 1).all() and (v >= 1).all()
    if kind == "inverse-strongly-correlated":
        assert (v <= 1000).all() and (w == v + 100).all()
    else:
        assert (w <= 1000).all()
    if kind == "strongly-correlated":
        assert (v == w + 100).all()
    if kind == "subset-sum":
        assert (v == w).all()
    if kind == "weakly-correlated":
        assert (np.abs(v - w) <= 100).all()
    if kind == "uncorrelated":
        assert (v <= 1000).all() and abs(np.corrcoef(v, w)[0, 1]) < 0.3


def test_generator_options():
    gen = kp.GENERATORS["strongly-correlated"]
    inst = gen(50, 1, coef_range=100, h=30, series=100)
    assert (inst.values == inst.weights + 10).all()
    assert inst.capacity == (30 * int(inst.weights.sum())) // 101
    with pytest.raises(InputError, match="number of items must be a positive integer"):
        gen(0, 1)
    with pytest.raises(InputError, match="coefficient range"):
        gen(5, 1, coef_range=-3)
    with pytest.raises(InputError, match="at most the series length"):
        gen(5, 1, h=101)
    assert gen(5, 1, name="mine").name == "mine"
    with pytest.raises(InputError, match="instance name"):
        gen(5, 1, name="")


def test_problem_is_registered():
    prob = problems.get("knapsack")
    assert prob.sense == "max" and prob.suffixes[0] == ".csv"
    assert set(prob.generators) == {
        "uncorrelated", "weakly-correlated", "strongly-correlated", "inverse-strongly-correlated", "subset-sum",
    }
    assert prob.solution_to_json([np.int64(2), 5]) == [2, 5]


# ----------------------------------------------------------------------------- solvers


@pytest.mark.parametrize("seed", range(6))
def test_exact_solvers_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    kind = sorted(kp.GENERATORS)[seed % 5]
    inst = kp.GENERATORS[kind](12, rng, coef_range=50)
    best = brute_force(inst)
    for name in EXACT:
        result = solvers.solve("knapsack", inst, name, time_limit=2, seed=seed)
        assert result.feasible and result.objective == best, name
        assert result.status == "optimal" and result.dual_bound == best
        assert result.solution == sorted(result.solution)
    greedy = solvers.solve("knapsack", inst, "greedy")
    assert greedy.feasible and 2 * greedy.objective >= best  # the 1/2 guarantee
    assert greedy.dual_bound >= best


def test_solvers_on_pisinger_hard_blocks():
    for record in kp.read_all(DATA / "pisinger_two_blocks.csv"):
        for name in EXACT:
            result = solvers.solve("knapsack", record.instance, name, time_limit=2)
            assert result.objective == record.optimum, name


def test_dp_on_a_100_item_instance():
    record = kp.read_all(DATA / "knapPI_1_100_1000_1.kp")[0]
    result = solvers.solve("knapsack", record.instance, "dp")
    assert result.objective == 9147 and result.status == "optimal"


def test_heavy_zero_weight_and_zero_value_items():
    # item 0 is heavier than the capacity, item 1 weighs nothing, item 2 is worthless
    inst = small([100, 5, 0, 4, 3], [11, 0, 1, 6, 4], 10)
    for name in (*EXACT, "greedy"):
        result = solvers.solve("knapsack", inst, name, time_limit=2)
        assert result.objective == 12, name
        assert 0 not in result.solution and 1 in result.solution


def test_nothing_fits():
    inst = small([5, 6], [8, 9], 3)
    for name in (*EXACT, "greedy"):
        result = solvers.solve("knapsack", inst, name, time_limit=2)
        assert result.solution == [] and result.objective == 0 and result.status == "optimal"


def test_greedy_takes_best_single_item_when_better():
    inst = small([2, 100], [1, 100], 100)  # ratio order takes item 0, then item 1 does not fit
    assert kps.greedy_solution(inst) == [1]
    assert kps.dantzig_bound(inst) == 2 + (100 * 99) // 100


def test_dp_refuses_huge_tables():
    inst = small([1, 2, 3], [1, 2, 10**9], 10**9)
    with pytest.raises(InputError, match="too large for the dp solver"):
        solvers.solve("knapsack", inst, "dp")


def test_dp_time_limit_returns_greedy(monkeypatch):
    inst = kp.GENERATORS["uncorrelated"](50, 0)
    clock = iter(float(t) for t in range(1000))
    monkeypatch.setattr(kps.time, "perf_counter", lambda: next(clock))
    out = kps.dp(inst, time_limit=3)
    assert out.status == "time_limit" and out.solution == kps.greedy_solution(inst)


def test_cpsat_rejects_bad_workers():
    with pytest.raises(InputError, match="workers"):
        solvers.solve("knapsack", small([1], [1], 1), "cpsat", workers=0)


def test_cpsat_is_deterministic_for_a_seed():
    inst = kp.GENERATORS["strongly-correlated"](60, 11)
    a = solvers.solve("knapsack", inst, "cpsat", time_limit=2, seed=4)
    b = solvers.solve("knapsack", inst, "cpsat", time_limit=2, seed=4)
    assert a.objective == b.objective and a.status == b.status


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    items=st.lists(st.tuples(st.integers(0, 30), st.integers(0, 25)), min_size=1, max_size=8),
    capacity=st.integers(0, 60),
)
def test_dp_and_greedy_properties(items, capacity):
    inst = small([v for v, _ in items], [w for _, w in items], capacity)
    best = brute_force(inst)
    out = kps.dp(inst)
    assert kp.check(inst, out.solution) == Check(True, best) and out.dual_bound == best
    greedy = kps.greedy_solution(inst)
    value = kp.check(inst, greedy).objective
    assert value is not None and 2 * value >= best and kps.dantzig_bound(inst) >= best
