"""The command-line contract: one JSON object, exit codes 0/1/2, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from coptim.cli import main


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_solve_knapsack_json(capsys, data_dir):
    code, out, err = run(capsys, "solve", "knapsack", str(data_dir / "knapsack" / "knapPI_1_100_1000_1.kp"),
                         "--solver", "dp", "--time-limit", "10", "--seed", "3", "--json")
    assert code == 0, err
    payload = json.loads(out)  # exactly one JSON object
    for key in ("problem", "instance", "solver", "objective", "feasible", "time_s", "solution", "status"):
        assert key in payload
    assert payload["problem"] == "knapsack" and payload["solver"] == "dp" and payload["seed"] == 3
    assert payload["feasible"] is True and payload["status"] == "optimal"
    assert payload["objective"] == 9147  # knapPI_1_100_1000_1's optimum


def test_solve_milp_json_has_bounds(capsys, data_dir):
    code, out, err = run(capsys, "solve", "milp", str(data_dir / "milp" / "flugpl.mps"), "--solver", "scip",
                         "--branching", "pscost", "--time-limit", "30", "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert payload["objective"] == pytest.approx(1201500)
    assert payload["status"] == "optimal"
    assert payload["dual_bound"] == pytest.approx(1201500)
    assert payload["nodes"] >= 1


def test_solve_writes_solution_file(capsys, tmp_path, data_dir):
    out_file = tmp_path / "sol" / "knap.csv"
    code, _, err = run(capsys, "solve", "knapsack", str(data_dir / "knapsack" / "knapPI_1_100_1000_1.kp"),
                       "--solver", "greedy", "--out", str(out_file))
    assert code == 0, err
    assert out_file.is_file() and out_file.read_text().strip()
    assert not list(out_file.parent.glob(".*tmp*"))


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["solve", "knapsack", "missing.kp"], "missing.kp"),
        (["solve", "nosuch", "x"], "unknown problem"),
        (["solve", "knapsack", "{kp}", "--solver", "nosuch"], "unknown solver 'nosuch'"),
        (["solve", "knapsack", "{kp}", "--time-limit", "0"], "time limit"),
        (["solve", "knapsack", "{kp}", "--time-limit", "-1"], "time limit"),
        (["solve", "knapsack", "{kp}", "-O", "nosuchoption=1"], "no option nosuchoption"),
        (["solve", "knapsack", "{kp}", "-O", "novalue"], "key=value"),
        (["solve", "knapsack", "{kp}", "--branching", "pscost"], "milp only"),
        (["solve", "milp", "{mps}", "--branching", "nosuch"], "nosuch"),
        (["generate", "knapsack", "--size", "0", "--out", "{tmp}"], "--size"),
        (["generate", "knapsack", "--size", "5", "--kind", "nosuch", "--out", "{tmp}"], "unknown generator"),
        (["nosuchcommand"], "No such command"),
        (["solve", "knapsack"], "Missing argument"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, data_dir, args, fragment):
    subst = {"{kp}": str(data_dir / "knapsack" / "knapPI_1_100_1000_1.kp"),
             "{mps}": str(data_dir / "milp" / "flugpl.mps"), "{tmp}": str(tmp_path)}
    code, out, err = run(capsys, *[subst.get(a, a) for a in args])
    assert code == 2
    assert out == ""
    assert fragment in err
    assert "Traceback" not in err


def test_malformed_file_names_file_and_line(capsys, data_dir):
    path = data_dir / "milp" / "malformed.mps"
    code, out, err = run(capsys, "solve", "milp", str(path))
    assert code == 2
    line = err.strip().splitlines()[-1]
    assert str(path) in line and "Traceback" not in err


def test_generate_is_seeded_and_resumable(capsys, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run(capsys, "generate", "knapsack", "--size", "20", "--count", "3", "--seed", "7", "--out", str(a))[0] == 0
    assert run(capsys, "generate", "knapsack", "--size", "20", "--count", "2", "--seed", "7", "--out", str(b))[0] == 0
    files = sorted(p.name for p in a.iterdir())
    assert len(files) == 3
    for name in sorted(p.name for p in b.iterdir()):  # instance i does not depend on --count
        assert (a / name).read_text() == (b / name).read_text()
    code, _, err = run(capsys, "generate", "knapsack", "--size", "20", "--count", "3", "--seed", "7", "--out", str(a))
    assert code == 0 and "0 knapsack instance(s)" in err


def test_solvers_lists_every_problem(capsys):
    code, out, _ = run(capsys, "solvers")
    assert code == 0
    for name in ("tsp", "cvrp", "knapsack", "milp", "lkh", "pyvrp", "scip", "dp"):
        assert name in out


def test_help_and_python_dash_m(root):
    proc = subprocess.run([sys.executable, "-m", "coptim", "--help"], capture_output=True, text=True, cwd=root)
    assert proc.returncode == 0
    for command in ("solve", "generate", "bench", "solvers", "train", "inventory"):
        assert command in proc.stdout
    for command in ("solve", "generate", "bench", "solvers", "train", "inventory"):
        sub = subprocess.run([sys.executable, "-m", "coptim", command, "--help"], capture_output=True, text=True)
        assert sub.returncode == 0 and "Usage" in sub.stdout


def test_threads_option_sets_the_thread_pools(capsys, monkeypatch):
    import torch

    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    before = torch.get_num_threads()
    try:
        code, _, _ = run(capsys, "--threads", "1", "solvers", "knapsack")
        assert code == 0
        assert torch.get_num_threads() == 1 and __import__("os").environ["OMP_NUM_THREADS"] == "1"
        code, _, err = run(capsys, "--threads", "0", "solvers")
        assert code == 2 and "--threads" in err
    finally:
        torch.set_num_threads(before)
