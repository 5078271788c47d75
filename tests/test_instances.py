"""The shipped instances, their manifest and suites, and turning a spec into files."""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import pytest

from coptim import instances, problems
from coptim.errors import InputError

ROOT = instances.instances_dir()
PROBLEM_DIRS = ("tsp", "cvrp", "knapsack", "milp")


@pytest.fixture(autouse=True)
def _fresh_manifest(monkeypatch):
    monkeypatch.delenv(instances.ENV_VAR, raising=False)
    instances.clear_cache()
    yield
    instances.clear_cache()


def _problem_or_skip(name: str):
    try:
        return problems.get(name)
    except ModuleNotFoundError:
        pytest.skip(f"coptim.problems.{name} is not written yet")


# ----------------------------------------------------------------------------- manifest integrity


def test_every_manifest_path_exists_and_reference_is_finite():
    entries = instances.load_manifest()
    assert len(entries) > 300
    for e in entries:
        assert e.path.is_file(), e.name
        assert e.path.is_relative_to(ROOT)
        assert math.isfinite(e.reference), e.name
        assert e.reference_kind in ("optimal", "bks"), e.name
        assert e.problem in problems.names(), e.name
        assert e.size > 0 and e.suites and e.source and e.licence, e.name
        assert instances.instance_name(e.path) == e.name
        if e.solution is not None:
            assert e.solution.is_file(), e.name
        if e.problem == "milp":
            assert e.rows and e.cols == e.size


def test_names_are_unique():
    names = [e.name for e in instances.load_manifest()]
    assert len(names) == len(set(names))


def test_no_instance_file_is_missing_from_the_manifest():
    listed = set()
    for e in instances.load_manifest():
        listed.add(e.path)
        if e.solution is not None:
            listed.add(e.solution)
    on_disk = {p for d in PROBLEM_DIRS for p in (ROOT / d).rglob("*") if p.is_file()}
    assert on_disk == listed


def test_shipped_data_stays_small():
    total = sum(p.stat().st_size for d in PROBLEM_DIRS for p in (ROOT / d).rglob("*") if p.is_file())
    assert total < 15 * 2**20


def test_suites_hold_one_problem_and_respect_their_size_rules():
    table = instances.suites()
    for name in ("tsplib-small", "tsplib", "tsplib-explicit", "x-small", "x", "cvrp-abep",
                 "knapsack-pisinger", "knapsack-large", "knapsack-lowdim", "miplib-easy"):
        assert table[name], name
    for name, entries in table.items():
        assert len({e.problem for e in entries}) == 1, name
    assert all(e.size <= 200 for e in table["tsplib-small"])
    assert all(e.size <= 1002 for e in table["tsplib"])
    assert not set(table["tsplib"]) & set(table["tsplib-explicit"])
    assert all(e.size + 1 <= 201 for e in table["x-small"])
    assert all(e.size + 1 <= 401 for e in table["x"])
    assert {e.path.parent.name for e in table["cvrp-abep"]} == {"A", "B", "E", "P"}
    assert len(table["knapsack-pisinger"]) == 50 and len(table["knapsack-large"]) == 21
    assert all(e.reference_kind == "optimal" for e in table["tsplib"] + table["miplib-easy"])


def test_every_suite_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for name in instances.suites():
        assert f"`{name}`" in readme, name


def test_known_references():
    assert instances.reference("berlin52") == (7542.0, "optimal")
    assert instances.reference("X-n284-k15") == (20215.0, "optimal")  # lower than the shipped .sol
    assert instances.reference("X-n401-k29")[1] == "bks"
    assert instances.reference("knapPI_11_20_1000_1") == (1428.0, "optimal")  # "napPI" fixed
    assert instances.reference("no-such-instance") is None


@pytest.mark.parametrize("problem", PROBLEM_DIRS)
def test_every_instance_reads_with_its_problem_reader(problem):
    prob = _problem_or_skip(problem)
    for e in instances.load_manifest():
        if e.problem != problem:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            inst = prob.read(e.path)
        if problem == "milp":
            assert (inst.n_vars, inst.n_rows) == (e.cols, e.rows), e.name
        else:
            assert inst.n == e.size, e.name


def test_stated_knapsack_optima_and_cvrp_solutions_check():
    knapsack = _problem_or_skip("knapsack")
    cvrp = _problem_or_skip("cvrp")
    from coptim.problems import cvrp as cvrp_module
    from coptim.problems import knapsack as knapsack_module

    for e in instances.load_manifest():
        if e.problem == "knapsack":
            (record,) = knapsack_module.read_all(e.path)
            verdict = knapsack.check(record.instance, record.solution)
            assert verdict.feasible and verdict.objective == e.reference == record.optimum, e.name
        elif e.problem == "cvrp" and e.solution is not None:
            inst = cvrp.read(e.path)
            stated = cvrp_module.read_solution(e.solution, inst)
            verdict = cvrp.check(inst, stated.routes)
            assert verdict.feasible and verdict.objective >= e.reference, e.name


# ----------------------------------------------------------------------------- resolve


def test_resolve_suite_gives_manifest_paths_in_order():
    paths = instances.resolve("tsp-smoke", "tsp")
    assert paths == [e.path for e in instances.suites()["tsp-smoke"]]
    assert all(p.suffix == ".tsp" for p in paths)


def test_resolve_suite_of_another_problem_is_an_error():
    with pytest.raises(InputError, match="holds cvrp instances, not tsp"):
        instances.resolve("x-small", "tsp")


def test_resolve_folder_keeps_only_instance_files_sorted():
    paths = instances.resolve(str(ROOT / "cvrp" / "X"), "cvrp")
    assert len(paths) == 59 and paths == sorted(paths)
    assert all(p.suffix == ".vrp" for p in paths)  # not the .sol files


def test_resolve_glob_and_single_file(tmp_path, monkeypatch):
    paths = instances.resolve(str(ROOT / "tsp" / "tsplib" / "kro*.tsp"), "tsp")
    assert [p.name for p in paths] == ["kroA100.tsp", "kroA150.tsp", "kroA200.tsp", "kroB100.tsp",
                                        "kroB150.tsp", "kroB200.tsp", "kroC100.tsp", "kroD100.tsp",
                                        "kroE100.tsp"]
    recursive = instances.resolve(str(ROOT / "milp" / "**" / "*"), "milp")
    assert len(recursive) == len(instances.suites()["miplib-easy"])
    one = ROOT / "tsp" / "tsplib" / "eil51.tsp"
    assert instances.resolve(str(one), "tsp") == [one]
    monkeypatch.chdir(ROOT)
    assert instances.resolve("tsp/tsplib/eil51.tsp", "tsp") == [Path("tsp/tsplib/eil51.tsp")]


def test_resolve_nothing_names_the_suites():
    with pytest.raises(InputError) as err:
        instances.resolve("tsplib-huge", "tsp")
    message = str(err.value)
    assert "'tsplib-huge' is not a suite, file, folder or pattern" in message
    assert "tsplib-small" in message and "x-small" not in message


def test_resolve_empty_folder_and_unmatched_glob(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match="has no tsp instances"):
        instances.resolve(str(tmp_path), "tsp")
    with pytest.raises(InputError, match="matches no tsp instances"):
        instances.resolve(str(tmp_path / "*.txt"), "tsp")


def test_resolve_unknown_problem():
    with pytest.raises(InputError, match="unknown problem"):
        instances.resolve("tsplib", "nosuch")


# ----------------------------------------------------------------------------- references


def test_reference_by_path_relative_or_absolute(monkeypatch):
    assert instances.reference(ROOT / "milp" / "miplib" / "air03.mps.gz") == (340160.0, "optimal")
    monkeypatch.chdir(ROOT / "cvrp")
    assert instances.reference("A/A-n32-k5.vrp") == (784.0, "optimal")


def test_reference_from_references_csv(tmp_path):
    (tmp_path / "mine.tsp").write_text("NAME : mine\n")
    (tmp_path / "other.mps.gz").write_bytes(b"")
    (tmp_path / "references.csv").write_text("name,reference,reference_kind\nmine,123.5,optimal\nother,7,\n")
    assert instances.reference(tmp_path / "mine.tsp") == (123.5, "optimal")
    assert instances.reference(tmp_path / "other.mps.gz") == (7.0, "bks")
    (tmp_path / "unlisted.tsp").write_text("")
    assert instances.reference(tmp_path / "unlisted.tsp") is None


def test_reference_from_cvrp_sol_next_to_vrp(tmp_path):
    (tmp_path / "my.vrp").write_text("NAME : my\n")
    (tmp_path / "my.sol").write_text("Route #1: 1 2\nCost 321\n")
    assert instances.reference(tmp_path / "my.vrp") == (321.0, "bks")


def test_bad_sidecars_name_file_and_line(tmp_path):
    (tmp_path / "a.tsp").write_text("")
    (tmp_path / "references.csv").write_text("name,reference\na,12\nb,lots\n")
    with pytest.raises(InputError) as err:
        instances.reference(tmp_path / "a.tsp")
    assert err.value.path == str(tmp_path / "references.csv") and err.value.line == 3
    (tmp_path / "references.csv").write_text("instance,value\n")
    with pytest.raises(InputError, match="name,reference"):
        instances.reference(tmp_path / "a.tsp")
    (tmp_path / "references.csv").unlink()
    (tmp_path / "b.vrp").write_text("")
    (tmp_path / "b.sol").write_text("Route #1: 1\n")
    with pytest.raises(InputError, match="Cost"):
        instances.reference(tmp_path / "b.vrp")


# ----------------------------------------------------------------------------- another folder


def _manifest(folder: Path, rows: list[str]) -> None:
    header = ",".join(instances.COLUMNS)
    (folder / "manifest.csv").write_text("\n".join([header, *rows]) + "\n")


def test_env_var_points_at_another_folder(tmp_path, monkeypatch):
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "tiny.tsp").write_text("")
    _manifest(tmp_path, ["tiny,tsp,t/tiny.tsp,10,optimal,3,mine,me@1/tiny.tsp,CC0,,,"])
    monkeypatch.setenv(instances.ENV_VAR, str(tmp_path))
    assert instances.instances_dir() == tmp_path.resolve()
    (entry,) = instances.load_manifest()
    assert entry.path == tmp_path.resolve() / "t" / "tiny.tsp" and entry.suites == ("mine",)
    assert instances.resolve("mine", "tsp") == [entry.path]
    assert instances.reference(tmp_path / "t" / "tiny.tsp") == (10.0, "optimal")


@pytest.mark.parametrize("row, line, message", [
    ("a,tsp,a.tsp,ten,optimal,3,s,src,lic,,,", 2, "reference must be a finite number"),
    ("a,tsp,a.tsp,inf,optimal,3,s,src,lic,,,", 2, "reference must be a finite number"),
    ("a,tsp,a.tsp,10,best,3,s,src,lic,,,", 2, "reference_kind"),
    ("a,tsp,a.tsp,10,optimal,3", 2, "expected 12 fields"),
])
def test_malformed_manifest_names_the_line(tmp_path, monkeypatch, row, line, message):
    _manifest(tmp_path, [row])
    monkeypatch.setenv(instances.ENV_VAR, str(tmp_path))
    with pytest.raises(InputError, match=message) as err:
        instances.load_manifest()
    assert err.value.line == line and err.value.path.endswith("manifest.csv")


def test_missing_manifest(tmp_path, monkeypatch):
    monkeypatch.setenv(instances.ENV_VAR, str(tmp_path))
    with pytest.raises(InputError, match="no instance manifest"):
        instances.load_manifest()


def test_instance_name():
    assert instances.instance_name("x/air03.mps.gz") == "air03"
    assert instances.instance_name("X-n101-k25.vrp") == "X-n101-k25"
    assert instances.instance_name(Path(os.sep) / "a" / "noext") == "noext"
