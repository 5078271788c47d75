"""TSPLIB95 file parsing and distance functions shared by the TSP and CVRP formats.

Distances follow Reinelt's TSPLIB95 definitions exactly: ``nint`` rounding for EUC_2D,
ceiling for CEIL_2D, the pseudo-Euclidean ATT distance and the GEO great-circle distance
on degrees.minutes coordinates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from coptim.errors import InputError

COORD_TYPES = ("EUC_2D", "CEIL_2D", "ATT", "GEO", "MAN_2D", "MAX_2D")
MATRIX_FORMATS = (
    "FULL_MATRIX", "UPPER_ROW", "LOWER_ROW", "UPPER_DIAG_ROW", "LOWER_DIAG_ROW",
    "UPPER_COL", "LOWER_COL", "UPPER_DIAG_COL", "LOWER_DIAG_COL",
)


@dataclass
class TsplibFile:
    """A TSPLIB-style file split into specification entries and data sections.

    ``specs`` maps upper-case keys to their values; ``spec_lines`` gives their line
    numbers; ``sections`` maps a section name (``NODE_COORD_SECTION``) to the list of
    ``(line_number, tokens)`` lines that follow it.
    """

    path: str
    specs: dict[str, str] = field(default_factory=dict)
    spec_lines: dict[str, int] = field(default_factory=dict)
    sections: dict[str, list[tuple[int, list[str]]]] = field(default_factory=dict)
    section_lines: dict[str, int] = field(default_factory=dict)
    last_line: int = 0

    def error(self, message: str, line: int | None = None) -> InputError:
        """An :class:`InputError` located in this file."""
        return InputError(message, self.path, line)

    def require(self, key: str) -> str:
        """The value of specification ``key``, or an error naming the missing key."""
        if key not in self.specs:
            raise self.error(f"missing required entry {key}")
        return self.specs[key]

    def integer(self, key: str, minimum: int | None = None) -> int:
        """Specification ``key`` as an integer, validated against ``minimum``."""
        raw = self.require(key)
        line = self.spec_lines.get(key)
        try:
            value = int(raw)
        except ValueError:
            try:
                as_float = float(raw)
            except ValueError:
                raise self.error(f"{key} must be an integer, got {raw!r}", line) from None
            if not as_float.is_integer():
                raise self.error(f"{key} must be an integer, got {raw!r}", line) from None
            value = int(as_float)
        if minimum is not None and value < minimum:
            raise self.error(f"{key} must be at least {minimum}, got {value}", line)
        return value


def parse(path: str | Path, sections: tuple[str, ...]) -> TsplibFile:
    """Split a TSPLIB-style file into specification entries and the named data sections.

    Parameters
    ----------
    path
        The file to read.
    sections
        Names of the data sections this format knows (``NODE_COORD_SECTION``, ...).
        Any other line that is not ``KEY : value`` is an error.

    Raises
    ------
    InputError
        If the file cannot be read, is empty or has a line that is neither a
        specification entry nor part of a known section.
    """
    path = str(path)
    lines = read_lines(path)
    tf = TsplibFile(path)
    current: str | None = None
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text:
            continue
        tf.last_line = number
        upper = text.upper()
        if upper == "EOF":
            break
        head = upper.split(":")[0].split()[0] if upper.split(":")[0].split() else ""
        if head in sections and (":" not in text or not text.split(":", 1)[1].strip()):
            current = head
            if head in tf.sections:
                raise tf.error(f"section {head} appears twice", number)
            tf.sections[head] = []
            tf.section_lines[head] = number
            continue
        if ":" in text and not _numeric_start(text):
            key, value = text.split(":", 1)
            key = key.strip().upper()
            if key and key.replace("_", "").isalnum() and not key[0].isdigit():
                tf.specs[key] = value.strip()
                tf.spec_lines[key] = number
                current = None
                continue
        if current is None:
            raise tf.error(f"unexpected line {text[:40]!r} (not a 'KEY : value' entry or part of a known section)", number)
        tf.sections[current].append((number, text.split()))
    if not tf.specs and not tf.sections:
        raise InputError("empty file", path)
    return tf


def read_lines(path: str | Path) -> list[str]:
    """The lines of a UTF-8 text file, or an :class:`InputError` saying why it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="strict") as fh:
            return fh.read().splitlines()
    except FileNotFoundError:
        raise InputError("file not found", path) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a file", path) from None
    except UnicodeDecodeError:
        raise InputError("not a text file (cannot decode as UTF-8)", path) from None
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror}", path) from None


def _numeric_start(text: str) -> bool:
    first = text.split()[0]
    return first[0].isdigit() or first[0] in "+-."


def _number(tf: TsplibFile, token: str, line: int, what: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise tf.error(f"{what} must be a number, got {token!r}", line) from None
    if not math.isfinite(value):
        raise tf.error(f"{what} must be finite, got {token!r}", line)
    return value


def node_coords(tf: TsplibFile, dimension: int, section: str = "NODE_COORD_SECTION") -> np.ndarray:
    """The ``(dimension, 2)`` coordinates of ``section``, with node ids checked to be 1..dimension."""
    if section not in tf.sections:
        raise tf.error(f"missing {section}")
    rows = tf.sections[section]
    coords = np.full((dimension, 2), np.nan)
    seen = np.zeros(dimension, dtype=bool)
    for line, tokens in rows:
        if len(tokens) != 3:
            raise tf.error(f"{section} line must be 'id x y', got {len(tokens)} fields", line)
        node = _node_id(tf, tokens[0], line, dimension)
        if seen[node - 1]:
            raise tf.error(f"node {node} appears twice in {section}", line)
        seen[node - 1] = True
        coords[node - 1] = (_number(tf, tokens[1], line, "x"), _number(tf, tokens[2], line, "y"))
    if not seen.all():
        missing = int(np.flatnonzero(~seen)[0]) + 1
        raise tf.error(
            f"{section} has {int(seen.sum())} nodes but DIMENSION is {dimension} (node {missing} missing; file truncated?)",
            tf.last_line,
        )
    return coords


def _node_id(tf: TsplibFile, token: str, line: int, dimension: int) -> int:
    try:
        node = int(token)
    except ValueError:
        raise tf.error(f"node id must be an integer, got {token!r}", line) from None
    if not 1 <= node <= dimension:
        raise tf.error(f"node id {node} is outside 1..{dimension} (DIMENSION is {dimension})", line)
    return node


def explicit_matrix(tf: TsplibFile, dimension: int) -> np.ndarray:
    """The full symmetric ``(dimension, dimension)`` matrix of ``EDGE_WEIGHT_SECTION``."""
    fmt = tf.require("EDGE_WEIGHT_FORMAT").upper()
    if fmt not in MATRIX_FORMATS:
        raise tf.error(f"unsupported EDGE_WEIGHT_FORMAT {fmt!r}; supported: {', '.join(MATRIX_FORMATS)}",
                       tf.spec_lines.get("EDGE_WEIGHT_FORMAT"))
    if "EDGE_WEIGHT_SECTION" not in tf.sections:
        raise tf.error("missing EDGE_WEIGHT_SECTION")
    values: list[float] = []
    for line, tokens in tf.sections["EDGE_WEIGHT_SECTION"]:
        values.extend(_number(tf, t, line, "edge weight") for t in tokens)
    n = dimension
    diag = "DIAG" in fmt
    if fmt == "FULL_MATRIX":
        expected = n * n
    else:
        expected = n * (n + 1) // 2 if diag else n * (n - 1) // 2
    if len(values) != expected:
        # Point at the first surplus number, or at the last line when numbers are missing.
        rows = tf.sections["EDGE_WEIGHT_SECTION"]
        if len(values) > expected:
            line = section_value_line(tf, "EDGE_WEIGHT_SECTION", expected)
        else:
            line = rows[-1][0] if rows else tf.section_lines["EDGE_WEIGHT_SECTION"]
        raise tf.error(
            f"EDGE_WEIGHT_SECTION has {len(values)} numbers but {fmt} with DIMENSION {n} needs {expected}"
            + (" (file truncated?)" if len(values) < expected else ""),
            line,
        )
    arr = np.asarray(values)
    negative = np.flatnonzero(arr < 0)
    if negative.size:
        index = int(negative[0])
        raise tf.error(f"EDGE_WEIGHT_SECTION has a negative weight {arr[index]:g}",
                       section_value_line(tf, "EDGE_WEIGHT_SECTION", index))
    if fmt == "FULL_MATRIX":
        return arr.reshape(n, n)
    mat = np.zeros((n, n))
    # Row-wise upper == column-wise lower and vice versa; fill one triangle then mirror.
    k = 0 if diag else 1
    if fmt in ("UPPER_ROW", "UPPER_DIAG_ROW", "LOWER_COL", "LOWER_DIAG_COL"):
        rows, cols = np.triu_indices(n, k)
    else:
        rows, cols = np.tril_indices(n, -k)
    mat[rows, cols] = arr
    mat[cols, rows] = arr
    return mat


def section_value_line(tf: TsplibFile, section: str, index: int) -> int | None:
    """The line number of the ``index``-th (0-based) number in ``section``, counting across lines."""
    seen = 0
    for line, tokens in tf.sections.get(section, []):
        seen += len(tokens)
        if index < seen:
            return line
    return tf.section_lines.get(section)


def _geo_radians(coords: np.ndarray) -> np.ndarray:
    pi = 3.141592
    deg = np.trunc(coords)
    minutes = coords - deg
    return pi * (deg + 5.0 * minutes / 3.0) / 180.0


def _distances(
    ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray, edge_weight_type: str
) -> np.ndarray:
    """TSPLIB distances between points ``(ax, ay)`` and ``(bx, by)``; the arrays broadcast."""
    ewt = edge_weight_type.upper()
    if ewt == "GEO":
        rrr = 6378.388
        lat_a, lon_a = _geo_radians(ax), _geo_radians(ay)
        lat_b, lon_b = _geo_radians(bx), _geo_radians(by)
        q1 = np.cos(lon_a - lon_b)
        q2 = np.cos(lat_a - lat_b)
        q3 = np.cos(lat_a + lat_b)
        arg = np.clip(0.5 * ((1.0 + q1) * q2 - (1.0 - q1) * q3), -1.0, 1.0)
        return np.floor(rrr * np.arccos(arg) + 1.0)
    dx = ax - bx
    dy = ay - by
    if ewt == "EUC_2D":
        return np.floor(np.sqrt(dx * dx + dy * dy) + 0.5)
    if ewt == "CEIL_2D":
        return np.ceil(np.sqrt(dx * dx + dy * dy))
    if ewt == "MAN_2D":
        return np.floor(np.abs(dx) + np.abs(dy) + 0.5)
    if ewt == "MAX_2D":
        return np.maximum(np.floor(np.abs(dx) + 0.5), np.floor(np.abs(dy) + 0.5))
    if ewt == "ATT":
        r = np.sqrt((dx * dx + dy * dy) / 10.0)
        t = np.floor(r + 0.5)
        return np.where(t < r, t + 1.0, t)
    raise ValueError(f"unsupported EDGE_WEIGHT_TYPE {edge_weight_type!r}")


def pairwise(a: np.ndarray, b: np.ndarray, edge_weight_type: str) -> np.ndarray:
    """TSPLIB distances between every point of ``a`` (m, 2) and ``b`` (k, 2), shape (m, k).

    Integer-valued (returned as int64) for every TSPLIB type.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    d = _distances(a[:, None, 0], a[:, None, 1], b[None, :, 0], b[None, :, 1], edge_weight_type)
    if edge_weight_type.upper() == "GEO" and (a is b or (a.shape == b.shape and np.array_equal(a, b))):
        np.fill_diagonal(d, 0.0)
    return d.astype(np.int64)


def edge_lengths(a: np.ndarray, b: np.ndarray, edge_weight_type: str) -> np.ndarray:
    """TSPLIB distances between ``a[i]`` and ``b[i]`` for each row ``i``, shape (m,), int64.

    Use it to measure a tour on an instance too large for a full distance matrix.

    Parameters
    ----------
    a, b
        Arrays of shape (m, 2) with the coordinates of the two ends of each edge.
    edge_weight_type
        One of :data:`COORD_TYPES`.

    Returns
    -------
    numpy.ndarray
        The m distances, rounded as TSPLIB95 defines them.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return _distances(a[:, 0], a[:, 1], b[:, 0], b[:, 1], edge_weight_type).astype(np.int64)


def distance_matrix(coords: np.ndarray, edge_weight_type: str) -> np.ndarray:
    """The full TSPLIB distance matrix of ``coords`` (n, 2) as int64, zero diagonal."""
    d = pairwise(coords, coords, edge_weight_type)
    np.fill_diagonal(d, 0)
    return d


def format_number(value: float) -> str:
    """A coordinate as written to a file: integers without a decimal point."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))
