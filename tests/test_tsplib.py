"""TSPLIB95 parsing and distance functions (coptim.problems.tsplib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from coptim.errors import InputError
from coptim.problems import tsplib

DATA = Path(__file__).resolve().parent / "data" / "tsp"
SECTIONS = ("NODE_COORD_SECTION", "EDGE_WEIGHT_SECTION", "DISPLAY_DATA_SECTION")


def _write(tmp_path: Path, text: str, name: str = "x.tsp") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------------------------------------
# Distance functions


@pytest.mark.parametrize(("ewt", "a", "b", "expected"), [
    ("EUC_2D", (0, 0), (3, 4), 5),
    ("EUC_2D", (0, 0), (1, 1), 1),          # nint(1.414)
    ("EUC_2D", (0, 0), (1.5, 2), 3),        # nint(2.5) rounds half up
    ("CEIL_2D", (0, 0), (1, 1), 2),
    ("CEIL_2D", (0, 0), (3, 4), 5),
    ("ATT", (0, 0), (10, 0), 4),            # r = sqrt(10) = 3.16, nint = 3 < r, so 4
    ("ATT", (0, 0), (0, 0), 0),
    ("MAN_2D", (0, 0), (1.4, 2.4), 4),      # nint(3.8)
    ("MAX_2D", (0, 0), (1.4, 2.4), 2),      # max(nint(1.4), nint(2.4))
])
def test_pairwise_matches_tsplib_definitions(ewt, a, b, expected):
    assert tsplib.pairwise(np.array([a]), np.array([b]), ewt)[0, 0] == expected
    assert tsplib.edge_lengths(np.array([a]), np.array([b]), ewt)[0] == expected


def test_geo_distances_match_the_published_burma14_row():
    from coptim.problems import tsp

    d = tsp.read(DATA / "burma14.tsp").distance_matrix()
    assert d[0].tolist() == [0, 153, 510, 706, 966, 581, 455, 70, 160, 372, 157, 567, 342, 398]
    assert d.dtype == np.int64 and np.array_equal(d, d.T)


def test_geo_diagonal_is_zero_although_the_formula_gives_one():
    coords = np.array([[16.47, 96.10], [20.09, 92.54]])
    assert tsplib.pairwise(coords, coords, "GEO")[0, 0] == 0
    assert tsplib.distance_matrix(coords, "GEO")[1, 1] == 0


@pytest.mark.parametrize("ewt", tsplib.COORD_TYPES)
def test_edge_lengths_agree_with_the_matrix(ewt):
    rng = np.random.default_rng(3)
    coords = rng.uniform(-80, 80, size=(30, 2))
    d = tsplib.distance_matrix(coords, ewt)
    tour = rng.permutation(30)
    nxt = np.roll(tour, -1)
    assert np.array_equal(tsplib.edge_lengths(coords[tour], coords[nxt], ewt), d[tour, nxt])
    assert np.array_equal(d, d.T) and d.dtype == np.int64 and not np.diagonal(d).any()


def test_unknown_distance_type_is_a_value_error():
    with pytest.raises(ValueError, match="EUC_3D"):
        tsplib.pairwise(np.zeros((1, 2)), np.zeros((1, 2)), "EUC_3D")


# ------------------------------------------------------------------------------------------
# Explicit matrices


def _weights(m: np.ndarray, fmt: str) -> list[int]:
    """The numbers of ``m`` in the order TSPLIB95 defines for ``fmt`` (written out independently)."""
    n = len(m)
    order = {
        "FULL_MATRIX": [(i, j) for i in range(n) for j in range(n)],
        "UPPER_ROW": [(i, j) for i in range(n) for j in range(i + 1, n)],
        "LOWER_ROW": [(i, j) for i in range(n) for j in range(i)],
        "UPPER_DIAG_ROW": [(i, j) for i in range(n) for j in range(i, n)],
        "LOWER_DIAG_ROW": [(i, j) for i in range(n) for j in range(i + 1)],
        "UPPER_COL": [(i, j) for j in range(n) for i in range(j)],
        "LOWER_COL": [(i, j) for j in range(n) for i in range(j + 1, n)],
        "UPPER_DIAG_COL": [(i, j) for j in range(n) for i in range(j + 1)],
        "LOWER_DIAG_COL": [(i, j) for j in range(n) for i in range(j, n)],
    }[fmt]
    return [int(m[i, j]) for i, j in order]


@pytest.mark.parametrize("fmt", tsplib.MATRIX_FORMATS)
def test_every_edge_weight_format(tmp_path, fmt):
    rng = np.random.default_rng(1)
    upper = np.triu(rng.integers(1, 100, size=(6, 6)), 1)
    m = upper + upper.T
    values = _weights(m, fmt)
    # Three numbers per line, unrelated to rows, as TSPLIB allows.
    body = "\n".join(" ".join(map(str, values[k:k + 3])) for k in range(0, len(values), 3))
    path = _write(tmp_path, f"NAME : m\nTYPE : TSP\nDIMENSION : 6\nEDGE_WEIGHT_TYPE : EXPLICIT\n"
                            f"EDGE_WEIGHT_FORMAT : {fmt}\nEDGE_WEIGHT_SECTION\n{body}\nEOF\n")
    tf = tsplib.parse(path, SECTIONS)
    assert np.array_equal(tsplib.explicit_matrix(tf, 6), m)


def _explicit(tmp_path: Path, body: str, fmt: str = "UPPER_ROW", n: int = 3) -> tsplib.TsplibFile:
    path = _write(tmp_path, f"NAME : m\nTYPE : TSP\nDIMENSION : {n}\nEDGE_WEIGHT_TYPE : EXPLICIT\n"
                            f"EDGE_WEIGHT_FORMAT : {fmt}\nEDGE_WEIGHT_SECTION\n{body}EOF\n")
    return tsplib.parse(path, SECTIONS)


def test_negative_weight_names_its_own_line(tmp_path):
    tf = _explicit(tmp_path, "1 2\n-3\n")
    with pytest.raises(InputError, match=r"x\.tsp:8: EDGE_WEIGHT_SECTION has a negative weight -3"):
        tsplib.explicit_matrix(tf, 3)


def test_too_few_weights_point_at_the_last_line(tmp_path):
    tf = _explicit(tmp_path, "1 2\n")
    with pytest.raises(InputError, match=r"x\.tsp:7: .*has 2 numbers but UPPER_ROW with DIMENSION 3 needs 3.*truncated"):
        tsplib.explicit_matrix(tf, 3)


def test_too_many_weights_point_at_the_first_surplus_number(tmp_path):
    tf = _explicit(tmp_path, "1 2\n3\n4\n")
    with pytest.raises(InputError, match=r"x\.tsp:9: .*has 4 numbers"):
        tsplib.explicit_matrix(tf, 3)


def test_non_numeric_weight(tmp_path):
    tf = _explicit(tmp_path, "1 2\nthree\n")
    with pytest.raises(InputError, match=r"x\.tsp:8: edge weight must be a number, got 'three'"):
        tsplib.explicit_matrix(tf, 3)


def test_unsupported_and_missing_edge_weight_format(tmp_path):
    tf = _explicit(tmp_path, "1 2 3\n", fmt="FUNCTION")
    with pytest.raises(InputError, match=r"x\.tsp:5: unsupported EDGE_WEIGHT_FORMAT 'FUNCTION'"):
        tsplib.explicit_matrix(tf, 3)
    path = _write(tmp_path, "NAME : m\nDIMENSION : 3\nEDGE_WEIGHT_SECTION\n1 2 3\n", "y.tsp")
    with pytest.raises(InputError, match=r"y\.tsp: missing required entry EDGE_WEIGHT_FORMAT"):
        tsplib.explicit_matrix(tsplib.parse(path, SECTIONS), 3)


def test_section_value_line_counts_across_lines(tmp_path):
    tf = _explicit(tmp_path, "1 2\n3\n")
    assert [tsplib.section_value_line(tf, "EDGE_WEIGHT_SECTION", k) for k in range(3)] == [7, 7, 8]
    assert tsplib.section_value_line(tf, "EDGE_WEIGHT_SECTION", 99) == 6  # past the end: the header


# ------------------------------------------------------------------------------------------
# Parsing


def test_parse_splits_specs_and_sections_with_line_numbers(tmp_path):
    path = _write(tmp_path, "NAME: t\nCOMMENT : a: b\nTYPE : TSP\nDIMENSION: 2\nEDGE_WEIGHT_TYPE : EUC_2D\n"
                            "NODE_COORD_SECTION\n1 0 0\n\n2 3 4\nEOF\nignored after EOF\n")
    tf = tsplib.parse(path, SECTIONS)
    assert tf.specs["COMMENT"] == "a: b" and tf.spec_lines["DIMENSION"] == 4
    assert tf.sections["NODE_COORD_SECTION"] == [(7, ["1", "0", "0"]), (9, ["2", "3", "4"])]
    assert tsplib.node_coords(tf, 2).tolist() == [[0, 0], [3, 4]]


def test_missing_eof_is_fine(tmp_path):
    path = _write(tmp_path, "DIMENSION : 2\nNODE_COORD_SECTION\n1 0 0\n2 1 1\n")
    assert tsplib.node_coords(tsplib.parse(path, SECTIONS), 2).shape == (2, 2)


@pytest.mark.parametrize(("text", "message"), [
    ("", r"x\.tsp: empty file"),
    ("EOF\n", r"x\.tsp: empty file"),
    ("NAME : a\nthis is not a spec\n", r"x\.tsp:2: unexpected line 'this is not a spec'"),
    ("NAME : a\nNODE_COORD_SECTION\n1 0 0\nNODE_COORD_SECTION\n", r"x\.tsp:4: section NODE_COORD_SECTION appears twice"),
])
def test_parse_errors(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        tsplib.parse(_write(tmp_path, text), SECTIONS)


def test_unreadable_files(tmp_path):
    with pytest.raises(InputError, match=r"nope\.tsp: file not found"):
        tsplib.parse(tmp_path / "nope.tsp", SECTIONS)
    with pytest.raises(InputError, match="is a directory"):
        tsplib.parse(tmp_path, SECTIONS)
    binary = tmp_path / "b.tsp"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(InputError, match=r"b\.tsp: not a text file"):
        tsplib.parse(binary, SECTIONS)


@pytest.mark.parametrize(("rows", "message"), [
    ("1 0 0\n2 1\n", r"x\.tsp:4: NODE_COORD_SECTION line must be 'id x y', got 2 fields"),
    ("1 0 0\n1 1 1\n", r"x\.tsp:4: node 1 appears twice"),
    ("1 0 0\n3 1 1\n", r"x\.tsp:4: node id 3 is outside 1..2"),
    ("1 0 0\nb 1 1\n", r"x\.tsp:4: node id must be an integer, got 'b'"),
    ("1 0 0\n2 y 1\n", r"x\.tsp:4: x must be a number, got 'y'"),
    ("1 0 0\n2 1 nan\n", r"x\.tsp:4: y must be finite, got 'nan'"),
    ("1 0 0\n", r"x\.tsp:3: NODE_COORD_SECTION has 1 nodes but DIMENSION is 2 \(node 2 missing; file truncated\?\)"),
])
def test_node_coord_errors_name_the_line(tmp_path, rows, message):
    tf = tsplib.parse(_write(tmp_path, "DIMENSION : 2\nNODE_COORD_SECTION\n" + rows), SECTIONS)
    with pytest.raises(InputError, match=message):
        tsplib.node_coords(tf, 2)


@pytest.mark.parametrize(("value", "message"), [
    ("abc", r"x\.tsp:1: DIMENSION must be an integer, got 'abc'"),
    ("2.5", r"x\.tsp:1: DIMENSION must be an integer, got '2\.5'"),
    ("1", r"x\.tsp:1: DIMENSION must be at least 2, got 1"),
])
def test_integer_spec_errors(tmp_path, value, message):
    tf = tsplib.parse(_write(tmp_path, f"DIMENSION : {value}\n"), SECTIONS)
    with pytest.raises(InputError, match=message):
        tf.integer("DIMENSION", minimum=2)
    assert tsplib.parse(_write(tmp_path, "DIMENSION : 4.0\n"), SECTIONS).integer("DIMENSION") == 4
