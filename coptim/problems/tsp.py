"""The symmetric travelling salesman problem (TSP).

An instance is a set of ``n >= 2`` nodes with a symmetric integer distance: either computed
from 2-D coordinates with a TSPLIB95 distance function (``EUC_2D``, ``CEIL_2D``, ``ATT``,
``GEO``, ``MAN_2D``, ``MAX_2D``) or given as an explicit matrix (``EXPLICIT``). A solution is
a tour: a permutation of ``0..n-1`` (TSPLIB node ``i + 1`` is index ``i``); its objective is
the length of the closed tour under the instance's own (rounded) distance.

Files are TSPLIB95 ``.tsp`` files (TYPE TSP) and ``.tour`` files (TYPE TOUR).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from coptim.errors import InputError
from coptim.problems import Problem, tsplib
from coptim.result import Check

EDGE_WEIGHT_TYPES = (*tsplib.COORD_TYPES, "EXPLICIT")
#: Largest absolute coordinate or edge weight; keeps every tour length inside int64.
MAX_ABS_VALUE = 1e12
#: Largest instance for which :meth:`TSPInstance.distance_matrix` builds a dense matrix (1.8 GB).
MAX_MATRIX_NODES = 15_000

# Every TSPLIB section name, so that files of other types parse far enough to be refused clearly.
_SECTIONS = (
    "NODE_COORD_SECTION", "EDGE_WEIGHT_SECTION", "DISPLAY_DATA_SECTION", "FIXED_EDGES_SECTION",
    "EDGE_DATA_SECTION", "DEPOT_SECTION", "DEMAND_SECTION", "TOUR_SECTION",
)
_OTHER_SECTIONS = ("FIXED_EDGES_SECTION", "EDGE_DATA_SECTION", "DEPOT_SECTION", "DEMAND_SECTION", "TOUR_SECTION")
_MATRIX_BLOCK_ROWS = 512


@dataclass(frozen=True, eq=False)
class TSPInstance:
    """A symmetric TSP instance.

    Parameters
    ----------
    name
        Instance name (one line).
    coords
        ``(n, 2)`` node coordinates. Required for coordinate edge-weight types; optional
        display coordinates (used only for drawing) when ``edge_weight_type`` is ``EXPLICIT``.
    edge_weight_type
        One of :data:`EDGE_WEIGHT_TYPES` (upper case).
    matrix
        ``(n, n)`` symmetric non-negative integer distances; only for ``EXPLICIT``.
    comment
        Free text (one line).

    Raises
    ------
    InputError
        If the data do not describe a valid instance: fewer than 2 nodes, non-finite or
        too large values, a wrong shape, or a matrix that is negative, fractional or asymmetric.
    """

    name: str
    coords: np.ndarray | None
    edge_weight_type: str
    matrix: np.ndarray | None = None
    comment: str = ""
    _cache: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip() or "\n" in self.name:
            raise InputError(f"instance name must be a non-empty single-line string, got {self.name!r}")
        if not isinstance(self.comment, str) or "\n" in self.comment:
            raise InputError("instance comment must be a single-line string")
        ewt = self.edge_weight_type
        if not isinstance(ewt, str) or ewt not in EDGE_WEIGHT_TYPES:
            raise InputError(f"unsupported edge weight type {ewt!r}; supported: {', '.join(EDGE_WEIGHT_TYPES)}")
        if ewt == "EXPLICIT":
            if self.matrix is None:
                raise InputError("an EXPLICIT instance needs a distance matrix")
            matrix = _validated_matrix(self.matrix)
            object.__setattr__(self, "matrix", matrix)
            n = matrix.shape[0]
            if self.coords is not None:
                object.__setattr__(self, "coords", _validated_coords(self.coords, n, "display coordinates"))
        else:
            if self.matrix is not None:
                raise InputError(f"a distance matrix is only allowed with EXPLICIT edge weights, not {ewt}")
            if self.coords is None:
                raise InputError(f"an instance with {ewt} edge weights needs coordinates")
            object.__setattr__(self, "coords", _validated_coords(self.coords, None, "coordinates"))

    @property
    def n(self) -> int:
        """Number of nodes."""
        return int(self.matrix.shape[0]) if self.matrix is not None else int(self.coords.shape[0])

    def distance_matrix(self) -> np.ndarray:
        """The ``(n, n)`` int64 distance matrix (read-only, computed once).

        Returns
        -------
        numpy.ndarray
            Zero diagonal; TSPLIB rounding for coordinate types.

        Raises
        ------
        InputError
            If ``n`` exceeds :data:`MAX_MATRIX_NODES`.
        """
        if "d" not in self._cache:
            if self.matrix is not None:
                d = self.matrix
            else:
                if self.n > MAX_MATRIX_NODES:
                    raise InputError(
                        f"instance {self.name} has {self.n} nodes, too many for a dense distance matrix "
                        f"(limit {MAX_MATRIX_NODES})"
                    )
                d = _coordinate_matrix(self.coords, self.edge_weight_type)
                d.setflags(write=False)
            self._cache["d"] = d
        return self._cache["d"]


def as_instance(instance: Any) -> TSPInstance:
    """``instance`` itself if it is a :class:`TSPInstance`.

    Raises
    ------
    InputError
        If it is anything else (solvers call this on their argument).
    """
    if not isinstance(instance, TSPInstance):
        raise InputError(f"expected a TSP instance, got {type(instance).__name__}")
    return instance


def _validated_matrix(matrix: Any) -> np.ndarray:
    try:
        arr = np.array(matrix, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("distance matrix must be numeric") from None
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise InputError(f"distance matrix must be square, got shape {arr.shape}")
    n = arr.shape[0]
    if n < 2:
        raise InputError(f"a TSP instance needs at least 2 nodes, got {n}")
    if not np.all(np.isfinite(arr)):
        raise InputError("distance matrix has a NaN or infinite entry")
    np.fill_diagonal(arr, 0.0)
    if np.any(arr < 0):
        i, j = np.argwhere(arr < 0)[0]
        raise InputError(f"distance matrix has a negative weight {arr[i, j]:g} at ({i}, {j})")
    if np.any(arr > MAX_ABS_VALUE):
        raise InputError(f"distance matrix has a weight above {MAX_ABS_VALUE:g}")
    if np.any(arr != np.round(arr)):
        i, j = np.argwhere(arr != np.round(arr))[0]
        raise InputError(f"distance matrix weights must be integers, got {arr[i, j]:g} at ({i}, {j})")
    if not np.array_equal(arr, arr.T):
        i, j = np.argwhere(arr != arr.T)[0]
        raise InputError(
            f"distance matrix is not symmetric: ({i}, {j}) is {arr[i, j]:g} but ({j}, {i}) is {arr[j, i]:g}"
        )
    out = arr.astype(np.int64)
    out.setflags(write=False)
    return out


def _validated_coords(coords: Any, n: int | None, what: str) -> np.ndarray:
    try:
        arr = np.array(coords, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be numeric") from None
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise InputError(f"{what} must have shape (n, 2), got {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise InputError(f"{what} have {arr.shape[0]} rows but the matrix has {n}")
    if arr.shape[0] < 2:
        raise InputError(f"a TSP instance needs at least 2 nodes, got {arr.shape[0]}")
    if not np.all(np.isfinite(arr)):
        row = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
        raise InputError(f"{what} of node {row} are not finite: {arr[row].tolist()}")
    if np.any(np.abs(arr) > MAX_ABS_VALUE):
        row = int(np.flatnonzero((np.abs(arr) > MAX_ABS_VALUE).any(axis=1))[0])
        raise InputError(f"{what} of node {row} exceed {MAX_ABS_VALUE:g} in absolute value")
    arr.setflags(write=False)
    return arr


def _coordinate_matrix(coords: np.ndarray, edge_weight_type: str) -> np.ndarray:
    """The full matrix, computed in row blocks to bound temporary memory."""
    n = coords.shape[0]
    d = np.empty((n, n), dtype=np.int64)
    for start in range(0, n, _MATRIX_BLOCK_ROWS):
        stop = min(n, start + _MATRIX_BLOCK_ROWS)
        d[start:stop] = tsplib.pairwise(coords[start:stop], coords, edge_weight_type)
    np.fill_diagonal(d, 0)
    return d


def tour_length(instance: TSPInstance, tour: Sequence[int] | np.ndarray) -> int:
    """Length of the closed ``tour`` (assumed to be a valid permutation) under the instance's distance.

    Uses the coordinates edge by edge when no matrix has been built, so it also works on
    instances too large for :meth:`TSPInstance.distance_matrix`.
    """
    t = np.asarray(tour, dtype=np.int64)
    nxt = np.roll(t, -1)
    if instance.matrix is not None or "d" in instance._cache:
        d = instance.distance_matrix()
        return int(d[t, nxt].sum())
    coords = instance.coords
    return int(tsplib.edge_lengths(coords[t], coords[nxt], instance.edge_weight_type).sum())


# --------------------------------------------------------------------------------------------
# Reading and writing


def read(path: str | Path) -> TSPInstance:
    """Read a TSPLIB95 ``.tsp`` file of TYPE TSP.

    Parameters
    ----------
    path
        The file. Coordinate types EUC_2D, CEIL_2D, ATT, GEO, MAN_2D, MAX_2D and EXPLICIT
        matrices in every EDGE_WEIGHT_FORMAT are understood; a DISPLAY_DATA_SECTION of an
        EXPLICIT file is kept as drawing coordinates.

    Returns
    -------
    TSPInstance

    Raises
    ------
    InputError
        Naming the file and line: unreadable or empty file, TYPE other than TSP, bad or missing
        DIMENSION / EDGE_WEIGHT_TYPE / sections, non-numeric or non-finite fields, fewer nodes
        than DIMENSION, negative, fractional or asymmetric weights.
    """
    tf = tsplib.parse(path, _SECTIONS)
    kind_raw = tf.require("TYPE")
    kind = kind_raw.split()[0].upper() if kind_raw.split() else ""
    if kind != "TSP":
        raise tf.error(
            f"TYPE {kind_raw!r} is not supported; this reader takes symmetric TSP files (TYPE : TSP)",
            tf.spec_lines["TYPE"],
        )
    for section in _OTHER_SECTIONS:
        if section in tf.sections:
            raise tf.error(
                f"{section} is not supported in a TSP file (this reader has no forced edges, depots or demands)",
                tf.section_lines[section],
            )
    n = tf.integer("DIMENSION", minimum=2)
    ewt = tf.require("EDGE_WEIGHT_TYPE").upper()
    if ewt not in EDGE_WEIGHT_TYPES:
        raise tf.error(
            f"unsupported EDGE_WEIGHT_TYPE {ewt!r}; supported: {', '.join(EDGE_WEIGHT_TYPES)}",
            tf.spec_lines["EDGE_WEIGHT_TYPE"],
        )
    coord_type = tf.specs.get("NODE_COORD_TYPE", "TWOD_COORDS").upper()
    if coord_type not in ("TWOD_COORDS", "NO_COORDS"):
        raise tf.error(f"NODE_COORD_TYPE {coord_type} is not supported (only TWOD_COORDS)",
                       tf.spec_lines["NODE_COORD_TYPE"])
    matrix = None
    if ewt == "EXPLICIT":
        matrix = tsplib.explicit_matrix(tf, n)
        _check_weights(tf, matrix, n)
        if "DISPLAY_DATA_SECTION" in tf.sections:
            coords = _read_coords(tf, n, "DISPLAY_DATA_SECTION")
        elif "NODE_COORD_SECTION" in tf.sections:
            coords = _read_coords(tf, n, "NODE_COORD_SECTION")
        else:
            coords = None
    else:
        coords = _read_coords(tf, n, "NODE_COORD_SECTION")
    name = tf.specs.get("NAME", "").strip() or Path(path).stem
    if name.lower().endswith(".tsp") and len(name) > 4:  # ulysses16 says "NAME: ulysses16.tsp"
        name = name[:-4]
    try:
        return TSPInstance(name, coords, ewt, matrix, tf.specs.get("COMMENT", ""))
    except InputError as exc:  # everything is validated above; this is a safety net
        raise InputError(exc.message, path) from None


def _read_coords(tf: tsplib.TsplibFile, n: int, section: str) -> np.ndarray:
    rows = tf.sections.get(section)
    if rows is not None and len(rows) < n:  # say so before allocating for a huge DIMENSION
        raise tf.error(f"{section} has {len(rows)} lines but DIMENSION is {n} (file truncated?)",
                       rows[-1][0] if rows else tf.section_lines[section])
    coords = tsplib.node_coords(tf, n, section)
    too_big = np.abs(coords) > MAX_ABS_VALUE
    if too_big.any():
        node = int(np.flatnonzero(too_big.any(axis=1))[0]) + 1
        line = next(line for line, tokens in tf.sections[section] if int(tokens[0]) == node)
        raise tf.error(f"coordinate of node {node} exceeds {MAX_ABS_VALUE:g} in absolute value", line)
    return coords


def _check_weights(tf: tsplib.TsplibFile, matrix: np.ndarray, n: int) -> None:
    """Integer, bounded and (for FULL_MATRIX) symmetric weights, errors located by line."""
    section = "EDGE_WEIGHT_SECTION"
    if np.any(matrix != np.floor(matrix)) or np.any(matrix > MAX_ABS_VALUE):
        for line, tokens in tf.sections[section]:  # find the line of the first offending number
            for token in tokens:
                value = float(token)
                if value != math.floor(value):
                    raise tf.error(f"edge weight {token} is not an integer (TSPLIB weights are integers)", line)
                if value > MAX_ABS_VALUE:
                    raise tf.error(f"edge weight {token} exceeds {MAX_ABS_VALUE:g}", line)
    asym = matrix != matrix.T
    if asym.any():
        i, j = (int(k) for k in np.argwhere(asym)[0])
        raise tf.error(
            f"EDGE_WEIGHT_SECTION is not symmetric: weight({i + 1},{j + 1}) = {matrix[i, j]:g} but "
            f"weight({j + 1},{i + 1}) = {matrix[j, i]:g} (asymmetric instances are TYPE ATSP, not supported)",
            tsplib.section_value_line(tf, section, i * n + j),
        )
    np.fill_diagonal(matrix, 0.0)


def write(instance: TSPInstance, path: str | Path) -> None:
    """Write ``instance`` as a TSPLIB95 ``.tsp`` file.

    Coordinate instances get a NODE_COORD_SECTION; EXPLICIT ones a LOWER_DIAG_ROW
    EDGE_WEIGHT_SECTION and, when they have drawing coordinates, a DISPLAY_DATA_SECTION.

    Raises
    ------
    InputError
        If the file cannot be written.
    """
    n = instance.n
    lines = [f"NAME : {instance.name}", "TYPE : TSP"]
    if instance.comment:
        lines.append(f"COMMENT : {instance.comment}")
    lines += [f"DIMENSION : {n}", f"EDGE_WEIGHT_TYPE : {instance.edge_weight_type}"]
    if instance.matrix is not None:
        lines.append("EDGE_WEIGHT_FORMAT : LOWER_DIAG_ROW")
        if instance.coords is not None:
            lines.append("DISPLAY_DATA_TYPE : TWOD_DISPLAY")
        lines.append("EDGE_WEIGHT_SECTION")
        lines += [" ".join(map(str, instance.matrix[i, : i + 1].tolist())) for i in range(n)]
        if instance.coords is not None:
            lines.append("DISPLAY_DATA_SECTION")
            lines += _coord_lines(instance.coords)
    else:
        lines.append("NODE_COORD_SECTION")
        lines += _coord_lines(instance.coords)
    lines.append("EOF")
    _write_text(path, "\n".join(lines) + "\n")


def _coord_lines(coords: np.ndarray) -> list[str]:
    fmt = tsplib.format_number
    return [f"{i + 1} {fmt(x)} {fmt(y)}" for i, (x, y) in enumerate(coords.tolist())]


def _write_text(path: str | Path, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write file: {exc.strerror}", path) from None


def read_tour(path: str | Path, instance: TSPInstance) -> list[int]:
    """Read a TSPLIB95 ``.tour`` file (TOUR_SECTION of 1-based nodes ended by ``-1``).

    Parameters
    ----------
    path
        The tour file.
    instance
        The instance the tour belongs to (gives ``n``).

    Returns
    -------
    list[int]
        The tour as 0-based node indices.

    Raises
    ------
    InputError
        Naming file and line: TYPE other than TOUR, DIMENSION different from the instance,
        missing TOUR_SECTION, a non-integer, out-of-range or repeated node, a second tour,
        or too few / too many nodes.
    """
    tf = tsplib.parse(path, ("TOUR_SECTION",))
    if "TYPE" in tf.specs:
        kind = tf.specs["TYPE"].split()[0].upper() if tf.specs["TYPE"].split() else ""
        if kind != "TOUR":
            raise tf.error(f"TYPE {tf.specs['TYPE']!r} is not a tour file (expected TYPE : TOUR)",
                           tf.spec_lines["TYPE"])
    n = instance.n
    if "DIMENSION" in tf.specs:
        dim = tf.integer("DIMENSION", minimum=1)
        if dim != n:
            raise tf.error(f"tour DIMENSION {dim} does not match the instance's {n} nodes", tf.spec_lines["DIMENSION"])
    if "TOUR_SECTION" not in tf.sections:
        raise tf.error("missing TOUR_SECTION")
    seen = np.zeros(n, dtype=bool)
    nodes: list[int] = []
    ended = False
    for line, tokens in tf.sections["TOUR_SECTION"]:
        for token in tokens:
            try:
                node = int(token)
            except ValueError:
                raise tf.error(f"tour node must be an integer, got {token!r}", line) from None
            if node == -1:
                ended = True
                continue
            if ended:
                raise tf.error("only one tour per file is supported; found nodes after the closing -1", line)
            if not 1 <= node <= n:
                raise tf.error(f"tour node {node} is outside 1..{n}", line)
            if seen[node - 1]:
                raise tf.error(f"tour node {node} appears twice", line)
            seen[node - 1] = True
            nodes.append(node - 1)
    if len(nodes) != n:
        rows = tf.sections["TOUR_SECTION"]
        line = rows[-1][0] if rows else tf.section_lines["TOUR_SECTION"]
        raise tf.error(f"TOUR_SECTION lists {len(nodes)} nodes but the instance has {n}", line)
    return nodes


def write_solution(
    instance: TSPInstance, tour: Sequence[int], path: str | Path, objective: float | None = None
) -> None:
    """Write ``tour`` as a TSPLIB95 ``.tour`` file (1-based nodes, ``-1``, ``EOF``).

    Parameters
    ----------
    instance
        The instance the tour belongs to.
    tour
        A permutation of ``0..n-1``.
    path
        Output file.
    objective
        Tour length, written as ``COMMENT : Length = ...`` when given.

    Raises
    ------
    InputError
        If ``tour`` is not a valid tour of ``instance`` or the file cannot be written.
    """
    verdict = check(instance, tour)
    if not verdict.feasible:
        raise InputError(f"cannot write an invalid tour: {verdict.violations[0]}", path)
    lines = [f"NAME : {instance.name}.tour", "TYPE : TOUR"]
    if objective is not None:
        value = int(objective) if float(objective).is_integer() else objective
        lines.append(f"COMMENT : Length = {value}")
    lines += [f"DIMENSION : {instance.n}", "TOUR_SECTION"]
    lines += [str(int(i) + 1) for i in tour]
    lines += ["-1", "EOF"]
    _write_text(path, "\n".join(lines) + "\n")


# --------------------------------------------------------------------------------------------
# Checker


def check(instance: TSPInstance, tour: Any) -> Check:
    """Check that ``tour`` is a permutation of ``0..n-1`` and measure it.

    Parameters
    ----------
    instance
        The instance.
    tour
        A sequence of node indices.

    Returns
    -------
    Check
        Feasible with the closed tour length (an int) as objective, or infeasible with
        violations saying what is wrong (length, out-of-range, repeated or missing nodes).
    """
    n = instance.n
    try:
        arr = np.asarray(tour)
    except (TypeError, ValueError):
        return Check(False, None, ("tour is not a sequence of node indices",))
    if arr.ndim != 1:
        return Check(False, None, (f"tour must be a flat sequence of node indices, got shape {arr.shape}",))
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        return Check(False, None, (f"tour entries must be integers, got {arr.dtype} values",))
    arr = arr.astype(np.int64)
    violations: list[str] = []
    if arr.size != n:
        violations.append(f"tour has {arr.size} nodes but the instance has {n}")
    bad = arr[(arr < 0) | (arr >= n)]
    if bad.size:
        violations.append(f"node indices out of range 0..{n - 1}: {_few(bad)}")
    inside = arr[(arr >= 0) & (arr < n)]
    counts = np.bincount(inside, minlength=n)
    if (counts > 1).any():
        violations.append(f"nodes visited more than once: {_few(np.flatnonzero(counts > 1))}")
    if (counts == 0).any():
        violations.append(f"nodes never visited: {_few(np.flatnonzero(counts == 0))}")
    if violations:
        return Check(False, None, tuple(violations))
    return Check(True, tour_length(instance, arr), ())


def _few(values: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(str(int(v)) for v in values[:limit])
    return shown + (f" and {values.size - limit} more" if values.size > limit else "")


# --------------------------------------------------------------------------------------------
# Generators


def _check_size(size: Any) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 2:
        raise InputError(f"TSP size must be an integer of at least 2, got {size!r}")
    return int(size)


def _check_scale(scale: Any) -> int:
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or not 1 <= scale <= MAX_ABS_VALUE:
        raise InputError(f"scale must be an integer between 1 and {MAX_ABS_VALUE:g}, got {scale!r}")
    return int(scale)


def _check_rng(rng: Any) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise InputError(f"rng must be a numpy Generator or a non-negative integer seed, got {rng!r}")


def _check_name(name: Any, default: str) -> str:
    if name is None:
        return default
    if not isinstance(name, str) or not name.strip() or "\n" in name:
        raise InputError(f"instance name must be a non-empty single-line string, got {name!r}")
    return name


def generate_uniform(
    size: int, rng: np.random.Generator | int, *, scale: int = 1_000_000, name: str | None = None
) -> TSPInstance:
    """Nodes with integer coordinates drawn uniformly from ``[0, scale]^2`` (EUC_2D).

    Parameters
    ----------
    size
        Number of nodes, at least 2.
    rng
        Random generator (or an integer seed); the instance depends only on its state.
    scale
        Side of the square; the default ``10**6`` makes TSPLIB rounding negligible.
    name
        Instance name; default ``uniform-<size>``.

    Returns
    -------
    TSPInstance

    Raises
    ------
    InputError
        On a bad size, scale, name or generator.
    """
    size, scale, rng = _check_size(size), _check_scale(scale), _check_rng(rng)
    name = _check_name(name, f"uniform-{size}")
    coords = rng.integers(0, scale, size=(size, 2), endpoint=True).astype(np.float64)
    return TSPInstance(name, coords, "EUC_2D", None, f"uniform random, {size} nodes in [0, {scale}]^2")


def generate_clustered(
    size: int,
    rng: np.random.Generator | int,
    *,
    scale: int = 1_000_000,
    clusters: int | None = None,
    std: float | None = None,
    name: str | None = None,
) -> TSPInstance:
    """Nodes in Gaussian clusters around uniform centres, as in the DIMACS TSP challenge generator.

    Each node picks one of ``clusters`` centres (uniform in ``[0, scale]^2``) at random and is
    placed around it with a normal offset of standard deviation ``std`` in each axis; the
    coordinates are rounded to integers and clipped to the square (EUC_2D).

    Parameters
    ----------
    size
        Number of nodes, at least 2.
    rng
        Random generator (or an integer seed).
    scale
        Side of the square.
    clusters
        Number of centres; default ``max(1, size // 100)``.
    std
        Standard deviation of the offsets; default ``scale / sqrt(size)``.
    name
        Instance name; default ``clustered-<size>``.

    Returns
    -------
    TSPInstance

    Raises
    ------
    InputError
        On a bad size, scale, number of clusters, deviation, name or generator.
    """
    size, scale, rng = _check_size(size), _check_scale(scale), _check_rng(rng)
    name = _check_name(name, f"clustered-{size}")
    if clusters is None:
        clusters = max(1, size // 100)
    if isinstance(clusters, bool) or not isinstance(clusters, (int, np.integer)) or not 1 <= clusters <= size:
        raise InputError(f"clusters must be an integer between 1 and the size {size}, got {clusters!r}")
    if std is None:
        std = scale / math.sqrt(size)
    if isinstance(std, bool) or not isinstance(std, (int, float, np.number)) or not (math.isfinite(std) and std > 0):
        raise InputError(f"std must be a positive number, got {std!r}")
    centres = rng.uniform(0, scale, size=(int(clusters), 2))
    owner = rng.integers(0, int(clusters), size=size)
    points = centres[owner] + rng.normal(0.0, float(std), size=(size, 2))
    coords = np.clip(np.rint(points), 0, scale)
    return TSPInstance(
        name, coords, "EUC_2D", None,
        f"clustered random, {size} nodes, {clusters} clusters, std {float(std):g}, in [0, {scale}]^2",
    )


PROBLEM = Problem(
    name="tsp",
    suffixes=(".tsp",),
    read=read,
    write=write,
    check=check,
    generators={"uniform": generate_uniform, "clustered": generate_clustered},
    write_solution=write_solution,
    solution_to_json=lambda t: [int(i) for i in t],
    sense="min",
)
