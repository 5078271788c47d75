"""The benchmark harness and the parallel runner, on a tiny fake knapsack-like problem.

The fake problem ``fakekp`` and its solvers live in this module. In this process a fixture
installs them (and removes them afterwards); worker processes of the local pool import this
module because the jobs name it, and install them at import time when ``COPTIM_TEST_FAKE=1``
is set (the fixture sets it, and spawned workers inherit it).
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from coptim import bench, instances, parallel, plots, problems, solvers
from coptim.errors import InputError
from coptim.problems import Problem
from coptim.result import Check, SolverOutput

FAKE = "fakekp"
ENV_FLAG = "COPTIM_TEST_FAKE"
CALLS: list[tuple[str, str, int]] = []  # (solver, instance, seed) of every solve in this process


# ----------------------------------------------------------------------------- the fake problem


@dataclass(frozen=True)
class FakeInstance:
    name: str
    values: tuple[int, ...]
    weights: tuple[int, ...]
    capacity: int


def fake_read(path: str | Path) -> FakeInstance:
    """First line the capacity, then one ``value weight`` line per item."""
    lines = Path(path).read_text().split("\n")
    try:
        capacity = int(lines[0])
        pairs = [tuple(int(t) for t in line.split()) for line in lines[1:] if line.strip()]
    except ValueError:
        raise InputError("not a fake knapsack file", path, 1) from None
    return FakeInstance(Path(path).stem, tuple(v for v, _ in pairs), tuple(w for _, w in pairs), capacity)


def fake_write(instance: FakeInstance, path: str | Path) -> None:
    Path(path).write_text("\n".join([str(instance.capacity)] + [f"{v} {w}" for v, w in
                                                                 zip(instance.values, instance.weights)]))


def fake_check(instance: FakeInstance, solution: list[int]) -> Check:
    weight = sum(instance.weights[i] for i in solution)
    value = sum(instance.values[i] for i in solution)
    ok = weight <= instance.capacity and len(set(solution)) == len(solution)
    return Check(ok, float(value), () if ok else ("overweight",))


PROBLEM = Problem(name=FAKE, suffixes=(".fkp",), read=fake_read, write=fake_write, check=fake_check, sense="max")


def _fill(instance: FakeInstance, order: list[int], limit: int | None) -> list[int]:
    chosen, weight = [], 0
    for i in order:
        if limit is not None and len(chosen) >= limit:
            break
        if weight + instance.weights[i] <= instance.capacity:
            chosen.append(i)
            weight += instance.weights[i]
    return sorted(chosen)


def fake_greedy(instance: FakeInstance, *, time_limit=None, seed=0, limit: int | None = None) -> SolverOutput:
    CALLS.append(("fake-greedy", instance.name, seed))
    order = sorted(range(len(instance.values)), key=lambda i: -instance.values[i] / instance.weights[i])
    return SolverOutput(_fill(instance, order, limit), status="feasible", stats={"nodes": 3})


def fake_random(instance: FakeInstance, *, time_limit=None, seed=0) -> SolverOutput:
    CALLS.append(("fake-random", instance.name, seed))
    order = list(np.random.default_rng(seed).permutation(len(instance.values)))
    return SolverOutput(_fill(instance, order, None), status="feasible")


def fake_fail(instance: FakeInstance, *, time_limit=None, seed=0) -> SolverOutput:
    CALLS.append(("fake-fail", instance.name, seed))
    raise RuntimeError("boom\nsecond line")


def _install() -> None:
    problems._MODULES[FAKE] = __name__
    solvers.register(FAKE, "fake-greedy", "value/weight greedy")(fake_greedy)
    solvers.register(FAKE, "fake-random", "random order, seeded")(fake_random)
    solvers.register(FAKE, "fake-fail", "always raises")(fake_fail)


if os.environ.get(ENV_FLAG) == "1":  # a worker process importing this module for its jobs
    _install()


# Instance a: optimum 10 = items 0 and 2; greedy takes items 0 and 2 -> gap 0.
# Instance b: optimum 6 = items 1 and 2; greedy takes item 0 only (value 5) -> gap 100/6 %.
INSTANCES = {"a": "5\n6 3\n5 3\n4 2\n", "b": "4\n5 3\n3 2\n3 2\n"}
REFERENCES = {"a": 10, "b": 6}


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Install the fake problem and its solvers; return the two instance paths."""
    solvers.available()  # load the real solver modules first, so the copy below has them
    monkeypatch.setattr(solvers, "_REGISTRY", dict(solvers._REGISTRY))
    monkeypatch.setitem(problems._MODULES, FAKE, __name__)
    monkeypatch.setenv(ENV_FLAG, "1")
    solvers.register(FAKE, "fake-greedy", "value/weight greedy")(fake_greedy)
    solvers.register(FAKE, "fake-random", "random order, seeded")(fake_random)
    solvers.register(FAKE, "fake-fail", "always raises")(fake_fail)
    folder = tmp_path / "inst"
    folder.mkdir()
    for name, text in INSTANCES.items():
        (folder / f"{name}.fkp").write_text(text)
    (folder / "references.csv").write_text("name,reference,reference_kind\n" +
                                           "".join(f"{k},{v},optimal\n" for k, v in REFERENCES.items()))
    CALLS.clear()
    return sorted(folder.glob("*.fkp"))


def _bench(paths, out, solver_names=("fake-greedy",), **kw):
    kw = {"time_limit": 1, "seeds": 1, "workers": 1, "progress": False, **kw}
    return bench.run_bench(FAKE, paths, list(solver_names), out=out, **kw)


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# ----------------------------------------------------------------------------- rows and summary


def test_rows_are_written_with_objective_reference_and_gap(fake, tmp_path):
    out = tmp_path / "res.csv"
    _bench(fake, out, ("fake-greedy", "fake-random"), seeds=2)
    rows = _rows(out)
    assert out.read_text().splitlines()[0] == ",".join(bench.COLUMNS)
    assert len(rows) == 2 * 2 * 2
    assert {(r["instance"], r["solver"], r["seed"]) for r in rows} == {
        (i, s, str(k)) for i in "ab" for s in ("fake-greedy", "fake-random") for k in (0, 1)}
    greedy = {r["instance"]: r for r in rows if r["solver"] == "fake-greedy" and r["seed"] == "0"}
    assert float(greedy["a"]["objective"]) == 10 and float(greedy["b"]["objective"]) == 5
    assert float(greedy["b"]["reference"]) == 6
    assert float(greedy["b"]["gap_pct"]) == pytest.approx(100 / 6)
    assert float(greedy["a"]["gap_pct"]) == 0
    assert greedy["a"]["nodes"] == "3" and greedy["a"]["status"] == "feasible"
    assert all(r["feasible"] == "True" and r["error"] == "" and float(r["time_limit"]) == 1.0 for r in rows)
    assert all(Path(r["path"]).is_absolute() and r["problem"] == FAKE for r in rows)


def test_gap_follows_the_problem_sense(fake, tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "PROBLEM", dataclasses.replace(PROBLEM, sense="min"))
    out = tmp_path / "res.csv"
    _bench(fake, out)
    gaps = {r["instance"]: float(r["gap_pct"]) for r in _rows(out)}
    assert gaps["b"] == pytest.approx(-100 / 6)  # 5 against 6 is better when minimising


def test_summary_numbers_on_a_known_grid(fake, tmp_path):
    summary = _bench(fake, tmp_path / "res.csv", ("fake-greedy", "fake-fail"))
    got = summary.set_index("solver")
    assert list(summary["solver"]) == ["fake-greedy", "fake-fail"]
    assert got.loc["fake-greedy", ["runs", "feasible", "errors"]].tolist() == [2, 2, 0]
    assert got.loc["fake-greedy", "mean_gap_pct"] == pytest.approx(100 / 12)
    assert got.loc["fake-greedy", "max_gap_pct"] == pytest.approx(100 / 6)
    assert got.loc["fake-fail", ["runs", "feasible", "errors"]].tolist() == [2, 0, 2]
    assert math.isnan(got.loc["fake-fail", "mean_gap_pct"])
    times = bench.read_results(tmp_path / "res.csv").query("solver == 'fake-greedy'")["time_s"]
    assert got.loc["fake-greedy", "sgm_time_s"] == pytest.approx(bench.shifted_geometric_mean(times))


def test_shifted_geometric_mean():
    assert bench.shifted_geometric_mean([0.0, 3.0]) == pytest.approx(1.0)  # sqrt(1 * 4) - 1
    assert bench.shifted_geometric_mean([9.0], shift=1.0) == pytest.approx(9.0)
    assert math.isnan(bench.shifted_geometric_mean([]))


def test_summarize_groups_and_ignores_infeasible_gaps():
    df = pd.DataFrame({
        "solver": ["s", "s", "s", "t"], "time_limit": [1.0, 1.0, 1.0, 1.0],
        "feasible": [True, True, False, True], "status": ["optimal", "feasible", "error", "feasible"],
        "gap_pct": [0.0, 4.0, 50.0, float("nan")], "time_s": [0.0, 3.0, 1.0, 2.0],
    })
    s = bench.summarize(df, by=("solver", "time_limit")).set_index("solver")
    assert s.loc["s", ["runs", "feasible", "errors"]].tolist() == [3, 2, 1]
    assert s.loc["s", "mean_gap_pct"] == 2.0 and s.loc["s", "max_gap_pct"] == 4.0
    assert s.loc["s", "sgm_time_s"] == pytest.approx((1 * 4 * 2) ** (1 / 3) - 1)
    assert math.isnan(s.loc["t", "mean_gap_pct"])


def test_a_failing_run_is_an_error_row_and_the_others_go_on(fake, tmp_path):
    (fake[0].parent / "broken.fkp").write_text("not a number\n")
    paths = [*fake, fake[0].parent / "broken.fkp"]
    out = tmp_path / "res.csv"
    _bench(paths, out, ("fake-fail", "fake-greedy"))
    rows = {(r["instance"], r["solver"]): r for r in _rows(out)}
    assert len(rows) == 6
    assert rows[("a", "fake-fail")]["status"] == "error"
    assert rows[("a", "fake-fail")]["error"] == "RuntimeError: boom second line"
    assert rows[("a", "fake-fail")]["feasible"] == "False"
    assert "not a fake knapsack file" in rows[("broken", "fake-greedy")]["error"]
    assert rows[("b", "fake-greedy")]["status"] == "feasible"


def test_options_pass_through_to_the_solver_and_are_part_of_the_key(fake, tmp_path):
    out = tmp_path / "res.csv"
    _bench(fake[:1], out, options={"limit": 1})
    (row,) = _rows(out)
    assert float(row["objective"]) == 6 and row["options"] == '{"limit":1}'  # only item 0
    _bench(fake[:1], out)  # without the option: another run, not skipped
    _bench(fake[:1], out, options={"limit": 2})
    assert [r["options"] for r in _rows(out)] == ['{"limit":1}', "", '{"limit":2}']
    assert [float(r["objective"]) for r in _rows(out)] == [6, 10, 10]
    assert len(CALLS) == 3


# ----------------------------------------------------------------------------- resume and repair


def test_resume_skips_runs_already_done(fake, tmp_path):
    out = tmp_path / "res.csv"
    _bench(fake, out, ("fake-greedy", "fake-random"), seeds=1)
    assert len(_rows(out)) == 4 and len(CALLS) == 4
    CALLS.clear()
    summary = _bench(fake, out, ("fake-greedy", "fake-random"), seeds=2)
    assert sorted(CALLS) == [("fake-greedy", "a", 1), ("fake-greedy", "b", 1),
                             ("fake-random", "a", 1), ("fake-random", "b", 1)]
    assert len(_rows(out)) == 8 and summary["runs"].tolist() == [4, 4]
    CALLS.clear()
    _bench(fake, out, ("fake-greedy", "fake-random"), seeds=2)
    assert CALLS == [] and len(_rows(out)) == 8
    _bench(fake, out, ("fake-greedy",), time_limit=2)  # another time limit is another run
    assert len(CALLS) == 2 and len(_rows(out)) == 10


def test_a_cut_off_last_line_is_dropped_and_rerun(fake, tmp_path):
    out = tmp_path / "res.csv"
    _bench(fake, out, ("fake-greedy",), seeds=2)
    lines = out.read_text().splitlines(keepends=True)
    victim = lines[-1]
    out.write_text("".join(lines[:-1]) + victim[: len(victim) // 2])  # killed while writing
    CALLS.clear()
    _bench(fake, out, ("fake-greedy",), seeds=2)
    assert len(CALLS) == 1
    text = out.read_text()
    assert text.endswith("\n") and len(_rows(out)) == 4
    assert all(len(r) == len(bench.COLUMNS) and None not in r.values() for r in _rows(out))


def test_prepare_results_repairs_and_refuses(tmp_path):
    out = tmp_path / "sub" / "res.csv"
    assert bench.prepare_results(out) == set()  # makes the folder and writes the header
    header = out.read_text()
    assert header == ",".join(bench.COLUMNS) + "\n"
    row = bench._format_line({"path": "/x/a.fkp", "solver": "s", "seed": 0, "time_limit": 1.0})
    out.write_text(header + row + row[:5])
    assert bench.prepare_results(out) == {("/x/a.fkp", "s", "", 0, 1.0)}
    assert out.read_text() == header + row
    out.write_text(header + "a,b\n" + row)
    with pytest.raises(InputError) as err:
        bench.prepare_results(out)
    assert err.value.line == 2
    out.write_text("something,else\n")
    with pytest.raises(InputError, match="different header"):
        bench.prepare_results(out)
    with pytest.raises(InputError, match="is a folder"):
        bench.prepare_results(tmp_path)
    truncated_header = tmp_path / "t.csv"
    truncated_header.write_text("problem,inst")
    assert bench.prepare_results(truncated_header) == set()
    assert truncated_header.read_text() == header


# ----------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("change, message", [
    ({"solver_names": ["nope"]}, "unknown solver 'nope'"),
    ({"solver_names": []}, "at least one solver"),
    ({"time_limit": 0}, "time limit must be a positive"),
    ({"time_limit": -1.5}, "time limit must be a positive"),
    ({"time_limit": float("nan")}, "time limit must be a positive"),
    ({"seeds": 0}, "seeds must be a positive integer"),
    ({"workers": 0}, "workers must be a positive integer"),
    ({"backend": "mpi"}, "unknown backend"),
    ({"address": "auto"}, "only used with the ray backend"),
    ({"options": {"depth": 3}}, "has no option depth"),
    ({"paths": []}, "no instances"),
    ({"paths": ["/no/such/file.fkp"]}, "instance file not found"),
])
def test_bad_arguments_fail_before_any_work(fake, tmp_path, change, message):
    out = tmp_path / "res.csv"
    kw = {"paths": fake, "solver_names": ["fake-greedy"], **change}
    with pytest.raises(InputError, match=message):
        _bench(kw.pop("paths"), out, kw.pop("solver_names"), **kw)
    assert not out.exists() and CALLS == []


def test_unknown_problem(tmp_path):
    with pytest.raises(InputError, match="unknown problem"):
        bench.run_bench("nosuch", [], ["x"], time_limit=1, out=tmp_path / "r.csv")


# ----------------------------------------------------------------------------- parallel


def test_two_local_workers_give_the_same_rows_as_one(fake, tmp_path):
    kw = {"solver_names": ("fake-greedy", "fake-random", "fake-fail"), "seeds": 2}
    _bench(fake, tmp_path / "one.csv", **kw)
    _bench(fake, tmp_path / "two.csv", workers=2, progress=True, **kw)

    def table(name):
        df = bench.read_results(tmp_path / name).drop(columns=["time_s"])
        return df.sort_values(["instance", "solver", "seed"]).reset_index(drop=True)

    one, two = table("one.csv"), table("two.csv")
    assert len(one) == 12
    pd.testing.assert_frame_equal(one, two)


def test_parallel_run_reports_results_and_exceptions():
    jobs = [1.0, 4.0, -1.0, 9.0]
    for workers in (1, 2):
        got = dict(parallel.run(math.sqrt, jobs, workers=workers))
        assert set(got) == set(jobs)
        assert got[4.0] == 2.0 and got[9.0] == 3.0
        assert isinstance(got[-1.0], ValueError)
    assert [j for j, _ in parallel.run(math.sqrt, jobs, workers=1)] == jobs  # in order in-process
    assert list(parallel.run(math.sqrt, [], workers=2)) == []


def test_local_workers_use_one_thread(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    got = dict(parallel.run(os.getenv, ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"], workers=2))
    assert got == {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    assert "OMP_NUM_THREADS" not in os.environ  # the main process is left as it was


@pytest.mark.parametrize("kw, message", [
    ({"workers": 0}, "workers"), ({"workers": 1.5}, "workers"), ({"workers": True}, "workers"),
    ({"backend": "dask"}, "unknown backend"), ({"address": "auto"}, "ray backend"),
])
def test_parallel_run_checks_its_arguments(kw, message):
    with pytest.raises(InputError, match=message):
        list(parallel.run(math.sqrt, [1.0], **kw))


def test_ray_backend():
    pytest.importorskip("ray")
    got = dict(parallel.run(math.sqrt, [1.0, 4.0, -1.0], workers=2, backend="ray"))
    assert got[1.0] == 1.0 and got[4.0] == 2.0 and isinstance(got[-1.0], ValueError)


# ----------------------------------------------------------------------------- plots


PNG = b"\x89PNG\r\n\x1a\n"


def test_run_bench_writes_the_gap_plot(fake, tmp_path):
    _bench(fake, tmp_path / "res.csv", ("fake-greedy", "fake-random"), plot_dir=tmp_path / "plots")
    png = tmp_path / "plots" / f"{FAKE}_gap_vs_time.png"
    assert png.read_bytes().startswith(PNG)


def test_gap_plot_needs_a_gap(tmp_path):
    df = pd.DataFrame({"problem": ["p"], "instance": ["i"], "solver": ["s"], "feasible": [False],
                       "gap_pct": [float("nan")], "time_s": [1.0]})
    assert plots.gap_vs_time(df, tmp_path / "g.png") is False
    assert not (tmp_path / "g.png").exists()


def test_draw_tsp_tour_and_cvrp_routes(tmp_path):
    xy = np.array([[0, 0], [3, 0], [3, 4], [0, 4], [1, 2]], dtype=float)
    plots.draw_solution("tsp", SimpleNamespace(name="t5", coords=xy), [0, 1, 2, 4, 3], tmp_path / "t.png")
    plots.draw_solution("cvrp", SimpleNamespace(name="c5", coords=xy), [[1, 2], [3, 4]], tmp_path / "c.png")
    assert (tmp_path / "t.png").read_bytes().startswith(PNG)
    assert (tmp_path / "c.png").read_bytes().startswith(PNG)
    with pytest.raises(InputError, match="no coordinates"):
        plots.draw_solution("tsp", SimpleNamespace(name="m", coords=None), [0, 1], tmp_path / "m.png")
    with pytest.raises(InputError, match="cannot draw knapsack"):
        plots.draw_solution("knapsack", SimpleNamespace(coords=xy), [0], tmp_path / "k.png")


def test_resolve_finds_the_fake_instances_but_not_the_sidecar(fake):
    assert instances.resolve(str(fake[0].parent), FAKE) == fake


# ----------------------------------------------------------------------------- the README table


def _make_table_module():
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "bench" / "make_table.py"
    spec = importlib.util.spec_from_file_location("coptim_bench_make_table", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_table_rows_per_suite_solver_and_time_limit(fake, tmp_path):
    out = tmp_path / "fake-suite.csv"
    _bench(fake, out, ("fake-greedy", "fake-fail"))
    _bench(fake, out, ("fake-greedy",), time_limit=2, options={"limit": 1})
    text = _make_table_module().make_table([out], plot_dir=tmp_path / "plots")
    rows = [line for line in text.splitlines() if line.startswith(f"| {FAKE} ")]
    assert rows == [
        f"| {FAKE} | fake-suite (2) | fake-greedy | 1 s | 2 | 2 | – | 8.33 | 16.67 | < 0.01 |",
        f"| {FAKE} | fake-suite (2) | fake-fail | 1 s | 2 | 0 | – | – | – | < 0.01 |",
        f"| {FAKE} | fake-suite (2) | fake-greedy limit=1 | 2 s | 2 | 2 | – | 28.33 | 40.00 | < 0.01 |",
    ]
    assert (tmp_path / "plots" / "fake-suite_gap_vs_time.png").read_bytes().startswith(PNG)


def test_run_bench_draws_the_best_solution_of_the_first_instance(fake, tmp_path, monkeypatch):
    drawn = []
    monkeypatch.setattr(plots, "DRAWABLE", (*plots.DRAWABLE, FAKE))
    monkeypatch.setattr(plots, "draw_solution",
                        lambda problem, inst, solution, path: drawn.append((inst.name, solution, Path(path).name)))
    kw = {"solver_names": ("fake-random", "fake-greedy"), "seeds": 2, "plot_dir": tmp_path / "plots"}
    _bench(fake, tmp_path / "res.csv", **kw)
    assert len(CALLS) == 8  # the kept solution is drawn, nothing is solved again
    # Instance a: greedy finds the optimum 10; the first best row wins.
    best = [r for r in _rows(tmp_path / "res.csv") if r["instance"] == "a" and float(r["objective"]) == 10][0]
    assert drawn == [("a", [0, 2], f"{FAKE}_a_{best['solver']}.png")]
    CALLS.clear()
    _bench(fake, tmp_path / "res.csv", **kw)  # all resumed: the best run is solved again to draw it
    assert len(CALLS) == 1 and drawn[1][:2] == ("a", [0, 2])
    with pytest.raises(InputError, match="plot folder is a file"):
        _bench(fake, tmp_path / "res.csv", plot_dir=tmp_path / "res.csv")


def test_a_bad_references_file_fails_before_any_work(fake, tmp_path):
    (fake[0].parent / "references.csv").write_text("name,reference\na,ten\n")
    with pytest.raises(InputError, match="reference must be a finite number"):
        _bench(fake, tmp_path / "res.csv")
    assert not (tmp_path / "res.csv").exists() and CALLS == []
