"""MILP: instance validation, MPS/LP reading and writing, checker, set cover generator, SCIP solver."""

from __future__ import annotations

import gzip
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from coptim import problems, solvers
from coptim.errors import InputError
from coptim.problems import milp
from coptim.problems.milp import MILPInstance
from coptim.solvers import milp_scip

DATA = Path(__file__).parent / "data" / "milp"
FLUGPL_OPTIMUM = 1201500.0  # MIPLIB 2017 solu file


def tiny(**changes) -> MILPInstance:
    """max 3x + 2y + 1  s.t.  1 <= x + y <= 4,  x - y <= 2,  x integer in [0, 3], y continuous >= 0."""
    fields = dict(
        name="tiny", var_names=("x", "y"), vtypes=("integer", "continuous"),
        lb=[0.0, 0.0], ub=[3.0, np.inf], obj=[3.0, 2.0],
        row_ptr=[0, 2, 4], col_idx=[0, 1, 0, 1], coefs=[1.0, 1.0, 1.0, -1.0],
        lhs=[1.0, -np.inf], rhs=[4.0, 2.0], row_names=("range", "diff"),
        sense="maximize", obj_offset=1.0,
    )
    fields.update(changes)
    return MILPInstance(**fields)


# ----------------------------------------------------------------------------- instance


def test_instance_basics():
    inst = tiny()
    assert (inst.n_vars, inst.n_rows, inst.nnz) == (2, 2, 4)
    assert inst.integer_mask.tolist() == [True, False]
    assert inst.activities(np.array([2.0, 1.0])).tolist() == [3.0, 1.0]
    assert inst.dense_matrix().tolist() == [[1.0, 1.0], [1.0, -1.0]]
    assert inst == tiny() and inst != tiny(obj=[3.0, 2.5])
    with pytest.raises(ValueError):
        inst.obj[0] = 1.0  # read-only
    assert MILPInstance(**{**_fields(tiny()), "row_names": ()}).row_names == ("c0", "c1")


def _fields(inst: MILPInstance) -> dict:
    return {f: getattr(inst, f) for f in inst.__dataclass_fields__}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"var_names": ("x", "x")}, "variable name 'x' is used twice"),
        ({"var_names": ("x", "y z")}, "without spaces"),
        ({"vtypes": ("integer", "real")}, "unknown variable type 'real'"),
        ({"vtypes": ("integer",)}, "2 variables but 1 variable types"),
        ({"lb": [0.0, np.nan]}, "lower bounds is nan"),
        ({"lb": [4.0, 0.0]}, "bounds of variable x are crossed"),
        ({"ub": [-np.inf, 1.0], "lb": [-np.inf, 0.0]}, "infinite bound on the wrong side"),
        ({"vtypes": ("binary", "continuous")}, "binary variable x has bounds [0.0, 3.0]"),
        ({"obj": [1.0, np.inf]}, "must be finite"),
        ({"row_ptr": [0, 3, 2]}, "never decrease"),
        ({"row_ptr": [0, 2, 5]}, "last row pointer is 5"),
        ({"col_idx": [0, 1, 0, 7]}, "column index is out of range"),
        ({"col_idx": [0, 0, 0, 1]}, "appears twice in the same row"),
        ({"lhs": [5.0, -np.inf]}, "sides of row range are crossed"),
        ({"rhs": [4.0]}, "expected 2 row right-hand sides"),
        ({"row_names": ("a",)}, "2 rows but 1 row names"),
        ({"sense": "max"}, "'minimize' or 'maximize'"),
        ({"obj_offset": math.nan}, "offset must be a finite number"),
        ({"name": ""}, "instance name"),
        ({"var_names": (), "vtypes": (), "lb": [], "ub": [], "obj": [], "row_ptr": [0], "col_idx": [],
          "coefs": [], "lhs": [], "rhs": [], "row_names": ()}, "at least one variable"),
    ],
)
def test_instance_rejects_bad_fields(changes, message):
    with pytest.raises(InputError) as info:
        tiny(**changes)
    assert message in str(info.value)


# ----------------------------------------------------------------------------- reading


def test_read_mps_with_offset_range_and_markers():
    inst = milp.read(DATA / "knapsack_mip.mps")
    assert inst.name == "knapsack_mip" and inst.path == (DATA / "knapsack_mip.mps").resolve()
    assert inst.sense == "maximize" and inst.obj_offset == 5.0
    assert inst.var_names == ("a", "b", "c", "d", "k")
    assert inst.vtypes == ("binary",) * 4 + ("integer",)
    assert inst.ub.tolist() == [1, 1, 1, 1, 3]
    assert inst.row_names == ("cap", "count")
    assert inst.lhs.tolist() == [-np.inf, 2.0] and inst.rhs.tolist() == [10.0, 3.0]
    assert inst.dense_matrix().tolist() == [[4, 6, 3, 5, 2], [1, 1, 1, 1, 0]]


def test_read_lp_and_gzip(tmp_path):
    inst = milp.read(DATA / "lp_only.lp")
    assert inst.vtypes == ("continuous", "continuous") and inst.sense == "minimize"
    packed = tmp_path / "copy.mps.gz"
    with open(DATA / "knapsack_mip.mps", "rb") as src, gzip.open(packed, "wb") as dst:
        shutil.copyfileobj(src, dst)
    again = milp.read(packed)
    assert again.name == "copy" and again.obj_offset == 5.0 and again.n_vars == 5


def test_read_flugpl():
    inst = milp.read(DATA / "flugpl.mps")
    assert (inst.n_vars, inst.n_rows, inst.nnz) == (18, 18, 46)
    assert inst.vtypes.count("integer") == 11


def test_malformed_mps_names_file_and_line(capfd):
    with pytest.raises(InputError) as info:
        milp.read(DATA / "malformed.mps")
    assert info.value.path == str(DATA / "malformed.mps") and info.value.line == 10
    assert "syntax error" in info.value.message
    out, err = capfd.readouterr()
    assert "ERROR" not in out + err  # SCIP's own message is swallowed


def test_malformed_lp_gives_scip_detail(tmp_path):
    path = tmp_path / "bad.lp"
    path.write_text("Minimize\n obj: x + y\nSubject To\n c1: x + y >=\nEnd\n")
    with pytest.raises(InputError, match="expected value as right hand side") as info:
        milp.read(path)
    assert info.value.line == 5


def test_nonlinear_constraint_is_refused():
    with pytest.raises(InputError, match="constraint quad is of type 'nonlinear'; only linear"):
        milp.read(DATA / "quadratic.lp")


def test_indicator_constraint_is_refused(tmp_path):
    path = tmp_path / "ind.lp"
    path.write_text("Minimize\n obj: x + y\nSubject To\n c1: x + y >= 2\n ind: z = 1 -> x + y <= 3\n"
                    "Binaries\n z\nEnd\n")
    with pytest.raises(InputError, match="'indicator'"):
        milp.read(path)


def test_bad_files(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        milp.read(tmp_path / "missing.mps")
    with pytest.raises(InputError, match="unknown MILP file suffix"):
        milp.read(tmp_path / "model.txt")
    (tmp_path / "empty.mps").write_text("")
    with pytest.raises(InputError, match="empty"):
        milp.read(tmp_path / "empty.mps")
    (tmp_path / "fake.mps.gz").write_text("not gzip")
    with pytest.raises(InputError, match="not a valid gzip file"):
        milp.read(tmp_path / "fake.mps.gz")
    (tmp_path / "junk.mps").write_text("hello world\n")
    with pytest.raises(InputError, match="line 1"):
        milp.read(tmp_path / "junk.mps")


# ----------------------------------------------------------------------------- writing


@pytest.mark.parametrize("suffix", [".mps", ".mps.gz", ".lp", ".lp.gz"])
def test_write_read_round_trip(tmp_path, suffix):
    inst = tiny()
    path = tmp_path / f"tiny{suffix}"
    milp.write(inst, path)
    back = milp.read(path)
    assert back.var_names == inst.var_names and back.vtypes == inst.vtypes
    assert back.sense == "maximize" and back.obj_offset == 1.0
    assert np.array_equal(back.obj, inst.obj) and np.array_equal(back.ub, inst.ub)
    solution = {"x": 3.0, "y": 1.0}
    assert milp.check(back, solution) == milp.check(inst, solution)
    assert milp.check(back, {"x": 3.0, "y": 1.5}).feasible is False
    if suffix.startswith(".mps"):
        assert back.row_names == inst.row_names and back.lhs.tolist() == [1.0, -np.inf]
    else:  # LP has no ranged rows: SCIP splits the range into two rows
        assert back.n_rows == 3


def test_write_errors(tmp_path):
    with pytest.raises(InputError, match="unknown MILP file suffix"):
        milp.write(tiny(), tmp_path / "x.cip")
    with pytest.raises(InputError, match="could not write"):
        milp.write(tiny(), tmp_path / "no" / "such" / "dir.mps")


def test_to_scip_model_matches_instance():
    inst = milp.read(DATA / "flugpl.mps")
    model = milp.to_scip_model(inst)
    assert milp.from_scip_model(model, name=inst.name) == inst


def test_write_solution(tmp_path):
    milp.write_solution(tiny(), {"x": 3.0, "y": 0.0}, tmp_path / "s.sol")
    assert (tmp_path / "s.sol").read_text() == "objective value: 10.0\nx 3.0\n"
    with pytest.raises(InputError, match="unknown variable 'z'"):
        milp.write_solution(tiny(), {"z": 1.0}, tmp_path / "s.sol")


# ----------------------------------------------------------------------------- checker


def test_checker_accepts_and_recomputes_objective_with_offset():
    inst = tiny()
    assert milp.check(inst, {"x": 3.0, "y": 1.0}) == milp.Check(True, 12.0)
    assert milp.check(inst, {"x": 2.0, "y": 2.0}).objective == 11.0
    assert milp.check(inst, {"x": 1.0}).objective == 4.0  # missing y counts as 0
    assert milp.check(inst, {"x": 3.0 + 5e-7, "y": 1.0}).feasible  # within tolerance
    assert milp.check(inst, {"x": 1.0, "y": 3.0 + 3e-6}).feasible  # 1e-6 relative to |4|


@pytest.mark.parametrize(
    ("solution", "message"),
    [
        ({"x": 4.0, "y": 0.0}, "x = 4 is above its upper bound 3"),
        ({"x": 1.0, "y": -1.0}, "y = -1 is below its lower bound 0"),
        ({"x": 1.5, "y": 0.0}, "x = 1.5 is not integral"),
        ({"x": 0.0, "y": 0.5}, "row range: activity 0.5 < lhs 1"),
        ({"x": 3.0, "y": 2.0}, "row range: activity 5 > rhs 4"),
        ({"x": 3.0, "y": 0.0}, "row diff: activity 3 > rhs 2"),
        ({"x": 1.0, "y": 1.0 + 2e-5}, None),  # passes: still inside
        ({"z": 1.0}, "unknown variable 'z'"),
        ({"x": float("nan")}, "must be a finite number"),
        ({"x": "1"}, "must be a finite number"),
        ([1.0, 2.0], "must be a dict"),
    ],
)
def test_checker_reports_violations(solution, message):
    check = milp.check(tiny(), solution)
    if message is None:
        assert check.feasible
        return
    assert not check.feasible and check.objective is None
    assert any(message in v for v in check.violations), check.violations


# ----------------------------------------------------------------------------- generator


def test_setcover_generator_properties():
    inst = milp.generate_setcover(100, np.random.default_rng(5), ncols=200, density=0.05)
    assert (inst.n_rows, inst.n_vars, inst.nnz) == (100, 200, 1000)
    a = inst.dense_matrix()
    assert (a.sum(axis=1) >= 1).all() and (a.sum(axis=0) >= 1).all()
    assert set(np.unique(a).tolist()) == {0.0, 1.0}
    assert inst.vtypes == ("binary",) * 200 and inst.sense == "minimize"
    assert inst.obj.min() >= 1 and inst.obj.max() <= 100 and (inst.obj == np.round(inst.obj)).all()
    assert (inst.lhs == 1).all() and np.isposinf(inst.rhs).all()
    same = milp.generate_setcover(100, np.random.default_rng(5), ncols=200, density=0.05)
    assert same == inst
    assert milp.generate_setcover(100, np.random.default_rng(6), ncols=200, density=0.05) != inst
    assert milp.check(inst, {n: 1.0 for n in inst.var_names}).objective == inst.obj.sum()


def test_setcover_default_size_and_bad_options():
    inst = problems.get("milp").generators["setcover"](500, 0)
    assert (inst.n_rows, inst.n_vars, inst.nnz) == (500, 1000, 25000)
    assert milp.generate_setcover(10, 0, ncols=20, density=0.5, name="sc").name == "sc"
    with pytest.raises(InputError, match="number of rows"):
        milp.generate_setcover(0, 0)
    with pytest.raises(InputError, match="density"):
        milp.generate_setcover(10, 0, density=1.5)
    with pytest.raises(InputError, match="too few|needs at least"):
        milp.generate_setcover(10, 0, ncols=20, density=0.01)


# ----------------------------------------------------------------------------- SCIP


def solve(path_or_inst, **options):
    inst = milp.read(DATA / path_or_inst) if isinstance(path_or_inst, str) else path_or_inst
    return solvers.solve("milp", inst, "scip", time_limit=2, **options)


def test_scip_solves_flugpl_to_the_miplib_optimum():
    result = solve("flugpl.mps")
    assert result.status == "optimal" and result.feasible
    assert result.objective == pytest.approx(FLUGPL_OPTIMUM, rel=1e-9)
    assert result.dual_bound == pytest.approx(FLUGPL_OPTIMUM, rel=1e-9)
    assert result.nodes >= 1 and result.stats["lp_iterations"] > 0
    assert result.stats["primal_bound"] == pytest.approx(FLUGPL_OPTIMUM)


def test_scip_knapsack_mip_with_offset():
    result = solve("knapsack_mip.mps")
    assert result.status == "optimal" and result.objective == pytest.approx(28.0)
    assert {k: round(v) for k, v in result.solution.items()} == {"a": 1, "b": 1, "c": 0, "d": 0, "k": 0}


def test_scip_pure_lp():
    result = solve("lp_only.lp")
    assert result.status == "optimal" and result.objective == pytest.approx(9.5)
    assert result.solution == pytest.approx({"x": 2.5, "y": 1.5})


def test_scip_infeasible_and_unbounded():
    infeasible = solve("infeasible.lp")
    assert infeasible.status == "infeasible" and infeasible.solution is None and infeasible.objective is None
    unbounded = solve("unbounded.lp")
    assert unbounded.status in ("unbounded", "inforunbd")


@pytest.mark.parametrize("rule", milp_scip.BRANCHING_RULES)
def test_every_branching_rule_solves_a_small_set_cover(rule):
    inst = milp.generate_setcover(60, np.random.default_rng(1), ncols=120, density=0.05)
    result = solve(inst, branching=rule, seed=3)
    assert result.status == "optimal" and result.feasible
    assert result.stats["branching"] == rule
    reference = solve(inst)
    assert result.objective == pytest.approx(reference.objective)


def test_scip_limits():
    inst = milp.generate_setcover(150, np.random.default_rng(2), ncols=300, density=0.05)
    nodes = solve(inst, node_limit=1, branching="mostinf")
    assert nodes.status in ("node_limit", "optimal") and nodes.nodes <= 1
    gap = solve(inst, gap_limit=0.5)
    assert gap.status in ("gap_limit", "optimal") and gap.gap is not None and gap.gap <= 0.5 + 1e-9


def test_build_model_sets_parameters():
    model = milp_scip.build_model(DATA / "flugpl.mps", branching="pscost", time_limit=1.5, seed=7,
                                  node_limit=10, gap_limit=0.01)
    assert model.getParam("branching/pscost/priority") == milp_scip.TOP_PRIORITY
    assert model.getParam("limits/time") == 1.5 and model.getParam("limits/nodes") == 10
    assert model.getParam("randomization/randomseedshift") == 7
    assert model.getParam("limits/gap") == 0.01
    assert model.getNVars() == 18


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"branching": "best"}, "unknown branching rule 'best'"),
        ({"node_limit": 0}, "node_limit must be a positive integer"),
        ({"gap_limit": -0.1}, "gap_limit must be a non-negative number"),
    ],
)
def test_scip_bad_options(options, message):
    with pytest.raises(InputError, match=message):
        solve(tiny(), **options)


def test_scip_output_is_silent_by_default(capfd):
    solve(tiny())
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_problem_is_registered():
    prob = problems.get("milp")
    assert prob.suffixes[0] == ".mps" and ".lp.gz" in prob.suffixes
    assert "setcover" in prob.generators
    assert prob.solution_to_json({"x": np.float64(1.0)}) == {"x": 1.0}
    assert solvers.get("milp", "scip").exact
