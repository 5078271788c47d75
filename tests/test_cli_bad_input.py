"""Every kind of bad input named by the foundation issue gives exit code 2 and one clear line.

Each case breaks a small valid file the way users break files: truncation, a wrong
DIMENSION, a non-numeric field, a missing section, an unknown edge-weight type, a demand
above capacity, an empty or one-node instance, negative or NaN values.
"""

from __future__ import annotations

import pytest

from coptim.cli import main

TSP = """NAME : tiny
TYPE : TSP
DIMENSION : 4
EDGE_WEIGHT_TYPE : EUC_2D
NODE_COORD_SECTION
1 0 0
2 3 0
3 3 4
4 0 4
EOF
"""
CVRP = """NAME : tiny
TYPE : CVRP
DIMENSION : 4
EDGE_WEIGHT_TYPE : EUC_2D
CAPACITY : 10
NODE_COORD_SECTION
1 0 0
2 3 0
3 3 4
4 0 4
DEMAND_SECTION
1 0
2 4
3 5
4 6
DEPOT_SECTION
1
-1
EOF
"""


def _edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


CASES = {
    # name: (problem, file text, words the message must contain, line number expected in the message)
    "tsp truncated": ("tsp", TSP.split("3 3 4")[0], ["DIMENSION"], None),
    "tsp wrong dimension": ("tsp", _edit(TSP, "DIMENSION : 4", "DIMENSION : 5"), ["DIMENSION"], None),
    "tsp non-numeric": ("tsp", _edit(TSP, "2 3 0", "2 three 0"), ["three"], 7),
    "tsp missing section": ("tsp", TSP.split("NODE_COORD_SECTION")[0], ["NODE_COORD_SECTION"], None),
    "tsp unknown edge type": ("tsp", _edit(TSP, "EUC_2D", "EUC_5D"), ["EUC_5D"], 4),
    "tsp one node": ("tsp", "NAME : one\nTYPE : TSP\nDIMENSION : 1\nEDGE_WEIGHT_TYPE : EUC_2D\n"
                            "NODE_COORD_SECTION\n1 0 0\nEOF\n", ["DIMENSION"], None),
    "tsp empty": ("tsp", "", ["empty"], None),
    "tsp nan": ("tsp", _edit(TSP, "3 3 4", "3 nan 4"), ["nan"], 8),
    "tsp negative dimension": ("tsp", _edit(TSP, "DIMENSION : 4", "DIMENSION : -4"), ["DIMENSION"], 3),
    "cvrp demand above capacity": ("cvrp", _edit(CVRP, "4 6\n", "4 16\n"), ["capacity"], None),
    "cvrp negative demand": ("cvrp", _edit(CVRP, "3 5\n", "3 -5\n"), ["-5"], None),
    "cvrp missing demands": ("cvrp", CVRP.split("DEMAND_SECTION")[0], ["DEMAND_SECTION"], None),
    "cvrp depot only": ("cvrp", "NAME : d\nTYPE : CVRP\nDIMENSION : 1\nEDGE_WEIGHT_TYPE : EUC_2D\nCAPACITY : 5\n"
                                "NODE_COORD_SECTION\n1 0 0\nDEMAND_SECTION\n1 0\nDEPOT_SECTION\n1\n-1\nEOF\n",
                        ["customer"], None),
    "cvrp zero capacity": ("cvrp", _edit(CVRP, "CAPACITY : 10", "CAPACITY : 0"), ["CAPACITY"], 5),
    "knapsack negative weight": ("knapsack", "3\n10\n5 -4\n6 3\n7 2\n", ["negative"], None),
    "knapsack truncated": ("knapsack", "3\n10\n5 4\n6 3\n", ["3"], None),
    "knapsack non-numeric": ("knapsack", "2\n10\n5 4\nsix 3\n", ["six"], 4),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_file_exits_2_with_one_clear_line(case, tmp_path, capsys):
    problem, text, words, line = CASES[case]
    suffix = {"tsp": ".tsp", "cvrp": ".vrp", "knapsack": ".kp"}[problem]
    path = tmp_path / f"bad{suffix}"
    path.write_text(text)
    with pytest.raises(SystemExit) as exc:
        main(["solve", problem, str(path), "--json"])
    out, err = capsys.readouterr()
    assert exc.value.code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    message = lines[0]
    assert str(path) in message
    for word in words:
        assert word.lower() in message.lower(), message
    if line is not None:
        assert f"{path}:{line}:" in message, message


@pytest.mark.parametrize("problem, text, suffix", [("tsp", TSP, ".tsp"), ("cvrp", CVRP, ".vrp")])
def test_the_unbroken_files_solve(problem, text, suffix, tmp_path, capsys):
    path = tmp_path / f"good{suffix}"
    path.write_text(text)
    with pytest.raises(SystemExit) as exc:
        main(["solve", problem, str(path), "--solver", "ortools", "--time-limit", "1", "--json"])
    out, err = capsys.readouterr()
    assert exc.value.code == 0, err
    assert '"feasible": true' in out
