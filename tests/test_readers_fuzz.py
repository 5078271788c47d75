"""Property-based tests: readers given random or mutated files either read them or raise InputError.

Any other exception (IndexError, ValueError from numpy, a crash in a library) is a bug: bad input
must always come back as one clear sentence.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coptim import problems
from coptim.errors import InputError

DATA = Path(__file__).resolve().parent / "data"
SEEDS = {
    "tsp": [DATA / "tsp" / "burma14.tsp", DATA / "tsp" / "gr17.tsp"],
    "cvrp": [DATA / "cvrp" / "E-n13-k4.vrp", DATA / "cvrp" / "A-n32-k5.vrp"],
    "knapsack": [DATA / "knapsack" / "pisinger_two_blocks.csv", DATA / "knapsack" / "f1_l-d_kp_10_269.kp"],
}
TOKENS = ["", "-1", "0", "1", "3.5", "nan", "inf", "-inf", "1e400", "abc", ":", "EOF", "DIMENSION : 3",
          "NODE_COORD_SECTION", "EDGE_WEIGHT_TYPE : FOO", "DEMAND_SECTION", "DEPOT_SECTION", "CAPACITY : 0",
          "n 0", "c -5", "z x", "1,2", "1,2,3,4", "-----", "\x00", "é"]


def _mutate(text: str, data: st.DataObject) -> str:
    lines = text.splitlines()
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        if not lines:
            break
        i = data.draw(st.integers(0, len(lines) - 1), label="line")
        action = data.draw(st.sampled_from(["delete", "replace", "truncate", "token", "duplicate"]), label="action")
        if action == "delete":
            del lines[i]
        elif action == "replace":
            lines[i] = data.draw(st.sampled_from(TOKENS), label="replacement")
        elif action == "truncate":
            lines = lines[: i + 1]
            lines[-1] = lines[-1][: data.draw(st.integers(0, len(lines[-1])), label="cut")]
        elif action == "token":
            parts = lines[i].split()
            if parts:
                j = data.draw(st.integers(0, len(parts) - 1), label="token")
                parts[j] = data.draw(st.sampled_from(TOKENS), label="value")
                lines[i] = " ".join(parts)
        else:
            lines.insert(i, lines[i])
    return "\n".join(lines) + "\n"


def _read_or_input_error(problem: str, path: Path) -> None:
    try:
        instance = problems.get(problem).read(path)
    except InputError as exc:
        assert str(exc).strip() and "\n" not in str(exc).strip()
        return
    assert instance is not None


@pytest.mark.parametrize("problem", sorted(SEEDS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_files(problem, data, tmp_path_factory):
    source = data.draw(st.sampled_from(SEEDS[problem]), label="seed file")
    text = _mutate(source.read_text(), data)
    path = tmp_path_factory.mktemp("fuzz") / source.name
    path.write_text(text, encoding="utf-8")
    _read_or_input_error(problem, path)


@pytest.mark.parametrize("problem", sorted(SEEDS))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=300))
def test_random_bytes(problem, content, tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / ("x" + problems.get(problem).suffixes[0])
    path.write_bytes(content)
    _read_or_input_error(problem, path)
