"""The capacitated vehicle routing problem (CVRP): instances, CVRPLIB files, generators, checker.

Conventions
-----------
Node 0 is the depot and nodes ``1..n`` are the customers. A solution is a list of routes,
each a list of customer indices (the depot is not written; empty routes carry no cost and
are ignored). The objective is the total length of all routes including the legs to and
from the depot, under the instance's own distance: the TSPLIB rounding of its
``edge_weight_type`` (EUC_2D for CVRPLIB) or its explicit integer matrix.

Files
-----
* Instances: CVRPLIB ``.vrp`` files (TSPLIB style: ``DIMENSION``, ``CAPACITY``,
  ``EDGE_WEIGHT_TYPE``, ``NODE_COORD_SECTION`` or ``EDGE_WEIGHT_SECTION``,
  ``DEMAND_SECTION``, ``DEPOT_SECTION`` ending in ``-1``). File node ``i + 1`` becomes index
  ``i``; if the depot is not file node 1 it is moved to index 0 and the other nodes keep
  their order. An optional ``VEHICLES`` entry is read as a hard fleet limit. A
  ``BACKHAUL_SECTION`` (present in some copies of E-n33-k4) is ignored with a warning.
* Solutions: CVRPLIB ``.sol`` files (``Route #1: 3 5 1`` lines and ``Cost 27591``), whose
  customer numbers are our indices.

Generators
----------
``uniform`` is the distribution of the neural routing literature (Kool et al. 2019,
Kwon et al. 2020) and ``x`` follows the generator of Uchoa et al. (2017) behind the X set.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from coptim.errors import InputError
from coptim.problems import Problem, tsplib
from coptim.result import Check

#: Largest absolute coordinate accepted, so that every route length fits int64 with room.
MAX_COORD = 1e12
#: Largest demand, capacity or explicit edge weight accepted.
MAX_VALUE = 2**50

EXPLICIT = "EXPLICIT"
EDGE_WEIGHT_TYPES = ("EUC_2D", "CEIL_2D", "ATT", "GEO", "MAN_2D", "MAX_2D", EXPLICIT)

_SECTIONS = (
    "NODE_COORD_SECTION", "EDGE_WEIGHT_SECTION", "DEMAND_SECTION", "DEPOT_SECTION",
    "BACKHAUL_SECTION", "DISPLAY_DATA_SECTION",
)
# Sections of other VRP variants: named in a clear error rather than "unexpected line".
_UNSUPPORTED_SECTIONS = (
    "TIME_WINDOW_SECTION", "SERVICE_TIME_SECTION", "PICKUP_SECTION", "LINEHAUL_SECTION",
    "RELEASE_TIME_SECTION", "VEHICLES_DEPOT_SECTION", "CAPACITY_SECTION", "FIXED_EDGES_SECTION",
)
_MAX_LISTED = 10


# ============================================================================= instance


@dataclass(frozen=True, eq=False)
class CVRPInstance:
    """A CVRP instance with node 0 as the depot and customers ``1..n``.

    Parameters
    ----------
    name
        Instance name (one line, not empty).
    coords
        ``(n + 1, 2)`` coordinates, depot first. May be None only for ``EXPLICIT`` instances.
        Duplicate points are allowed.
    demands
        ``(n + 1,)`` non-negative integer demands with ``demands[0] == 0``.
    capacity
        Vehicle capacity, a positive integer at least every demand.
    edge_weight_type
        A TSPLIB distance (``EUC_2D``, ``CEIL_2D``, ``ATT``, ``GEO``, ``MAN_2D``, ``MAX_2D``)
        or ``EXPLICIT`` (then ``matrix`` gives the distances).
    matrix
        ``(n + 1, n + 1)`` symmetric non-negative integer distances, only with ``EXPLICIT``.
        The diagonal is ignored (set to 0).
    num_vehicles
        A hard limit on the number of routes, or None for an unlimited fleet. The ``k`` in
        CVRPLIB names is not such a limit.
    comment
        Free text kept from the file.

    Raises
    ------
    InputError
        If a field is invalid: no customer, NaN or infinite values, negative or non-integer
        demands, a customer demand above the capacity, a non-positive capacity, an unknown
        edge-weight type, a bad matrix, or a fleet too small for the total demand.
    """

    name: str
    coords: np.ndarray | None
    demands: np.ndarray
    capacity: int
    edge_weight_type: str = "EUC_2D"
    matrix: np.ndarray | None = None
    num_vehicles: int | None = None
    comment: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip() or "\n" in self.name or "\r" in self.name:
            raise InputError(f"the instance name must be a non-empty single line of text, got {self.name!r}")
        if not isinstance(self.comment, str):
            raise InputError("the comment must be text")
        ewt = self.edge_weight_type.upper() if isinstance(self.edge_weight_type, str) else self.edge_weight_type
        if ewt not in EDGE_WEIGHT_TYPES:
            raise InputError(
                f"unknown edge-weight type {self.edge_weight_type!r}; supported: {', '.join(EDGE_WEIGHT_TYPES)}"
            )
        object.__setattr__(self, "edge_weight_type", ewt)
        demands = _demand_array(self.demands)
        size = demands.size
        if size < 2:
            raise InputError("a CVRP instance needs a depot and at least one customer")
        if demands[0] != 0:
            raise InputError(f"the depot (index 0) must have demand 0, got {demands[0]}")
        capacity = _positive_int(self.capacity, "capacity")
        over = np.flatnonzero(demands > capacity)
        if over.size:
            c = int(over[0])
            raise InputError(f"customer {c} has demand {demands[c]} above the vehicle capacity {capacity}")
        coords = None if self.coords is None else _coord_array(self.coords, size)
        matrix = None
        if ewt == EXPLICIT:
            if self.matrix is None:
                raise InputError("an EXPLICIT instance needs a distance matrix")
            matrix = _matrix_array(self.matrix, size)
        else:
            if self.matrix is not None:
                raise InputError(f"a distance matrix is only allowed with EXPLICIT, not {ewt}")
            if coords is None:
                raise InputError(f"a {ewt} instance needs coordinates")
        fleet = None
        if self.num_vehicles is not None:
            fleet = _positive_int(self.num_vehicles, "number of vehicles")
            total = int(demands.sum())
            if total > fleet * capacity:
                raise InputError(
                    f"the total demand {total} exceeds what {fleet} vehicles of capacity {capacity} can carry"
                )
        object.__setattr__(self, "demands", demands)
        object.__setattr__(self, "capacity", capacity)
        object.__setattr__(self, "coords", coords)
        object.__setattr__(self, "matrix", matrix)
        object.__setattr__(self, "num_vehicles", fleet)

    @property
    def n(self) -> int:
        """Number of customers."""
        return int(self.demands.size - 1)

    @property
    def total_demand(self) -> int:
        """Sum of all customer demands."""
        return int(self.demands.sum())

    def distance_matrix(self) -> np.ndarray:
        """The ``(n + 1, n + 1)`` int64 distance matrix (computed once, read-only)."""
        cached = self.__dict__.get("_distance")
        if cached is None:
            if self.edge_weight_type == EXPLICIT:
                cached = self.matrix
            else:
                cached = tsplib.distance_matrix(self.coords, self.edge_weight_type)
                cached.setflags(write=False)
            object.__setattr__(self, "_distance", cached)
        return cached

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CVRPInstance):
            return NotImplemented
        return (
            self.name == other.name
            and self.capacity == other.capacity
            and self.edge_weight_type == other.edge_weight_type
            and self.num_vehicles == other.num_vehicles
            and np.array_equal(self.demands, other.demands)
            and _same(self.coords, other.coords)
            and _same(self.matrix, other.matrix)
        )

    def __hash__(self) -> int:
        return hash((self.name, self.capacity, self.n))


def _same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return np.array_equal(a, b)


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise InputError(f"the {what} must be an integer, not a boolean")
    if isinstance(value, (int, np.integer)):
        result = int(value)
    elif isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        result = int(value)
    else:
        raise InputError(f"the {what} must be a positive integer, got {value!r}")
    if result < 1:
        raise InputError(f"the {what} must be positive, got {result}")
    if result > MAX_VALUE:
        raise InputError(f"the {what} must be at most 2**50, got {result}")
    return result


def _numeric(data: Any, what: str) -> np.ndarray:
    try:
        arr = np.asarray(data)
    except (ValueError, TypeError):
        raise InputError(f"the {what} must be an array of numbers") from None
    if arr.dtype.kind == "b":
        raise InputError(f"the {what} must be numbers, not booleans")
    if arr.dtype.kind not in "iuf":
        try:
            arr = arr.astype(np.float64)
        except (ValueError, TypeError):
            raise InputError(f"the {what} must be numbers") from None
    return arr


def _demand_array(data: Any) -> np.ndarray:
    arr = _numeric(data, "demands")
    if arr.ndim != 1:
        raise InputError(f"the demands must be a flat list, got an array of shape {arr.shape}")
    if arr.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise InputError(f"the demand of node {bad[0]} is {arr[bad[0]]}; demands must be finite integers")
        bad = np.flatnonzero(arr != np.round(arr))
        if bad.size:
            raise InputError(f"the demand of node {bad[0]} is {arr[bad[0]]}, not an integer")
    if arr.size and np.abs(arr.astype(np.float64)).max() > MAX_VALUE:
        raise InputError("demands must be at most 2**50")
    arr = np.array(arr, dtype=np.int64)
    bad = np.flatnonzero(arr < 0)
    if bad.size:
        raise InputError(f"the demand of node {bad[0]} is negative ({arr[bad[0]]})")
    arr.setflags(write=False)
    return arr


def _coord_array(data: Any, size: int) -> np.ndarray:
    arr = np.array(_numeric(data, "coordinates"), dtype=np.float64)
    if arr.shape != (size, 2):
        raise InputError(f"the coordinates must have shape ({size}, 2) to match the demands, got {arr.shape}")
    bad = np.flatnonzero(~np.isfinite(arr).all(axis=1))
    if bad.size:
        raise InputError(f"node {bad[0]} has a non-finite coordinate {tuple(arr[bad[0]].tolist())}")
    bad = np.flatnonzero((np.abs(arr) > MAX_COORD).any(axis=1))
    if bad.size:
        raise InputError(f"node {bad[0]} has a coordinate beyond 1e12 in absolute value")
    arr.setflags(write=False)
    return arr


def _matrix_array(data: Any, size: int) -> np.ndarray:
    arr = _numeric(data, "distance matrix")
    if arr.shape != (size, size):
        raise InputError(f"the distance matrix must have shape ({size}, {size}), got {arr.shape}")
    arr = np.array(arr, dtype=np.float64)
    np.fill_diagonal(arr, 0.0)
    if not np.isfinite(arr).all():
        raise InputError("the distance matrix has a NaN or infinite entry")
    if (arr < 0).any():
        i, j = np.argwhere(arr < 0)[0]
        raise InputError(f"the distance from node {i} to node {j} is negative ({arr[i, j]})")
    if (arr != np.round(arr)).any():
        i, j = np.argwhere(arr != np.round(arr))[0]
        raise InputError(f"the distance from node {i} to node {j} is {arr[i, j]}, not an integer")
    if arr.max() > MAX_VALUE:
        raise InputError("distances must be at most 2**50")
    if not np.array_equal(arr, arr.T):
        i, j = np.argwhere(arr != arr.T)[0]
        raise InputError(
            f"the distance matrix is not symmetric (node {i} to {j} is {arr[i, j]:g}, back is {arr[j, i]:g}); "
            "asymmetric CVRP is not supported"
        )
    out = arr.astype(np.int64)
    out.setflags(write=False)
    return out


# ============================================================================= reading


def read(path: str | Path) -> CVRPInstance:
    """Read a CVRPLIB ``.vrp`` file.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    CVRPInstance
        With the depot at index 0.

    Raises
    ------
    InputError
        Naming the file and line: a truncated file, a wrong ``DIMENSION``, non-numeric or
        negative values, a missing entry or section, an unknown edge-weight type, a demand
        above ``CAPACITY``, several depots or a ``DEPOT_SECTION`` without its ``-1``.
    """
    tf = tsplib.parse(path, _SECTIONS + _UNSUPPORTED_SECTIONS)
    for section in _UNSUPPORTED_SECTIONS:
        if section in tf.sections:
            raise tf.error(f"{section} is not supported (only plain CVRP files can be read)", tf.section_lines[section])
    if "TYPE" in tf.specs and tf.specs["TYPE"].upper() != "CVRP":
        raise tf.error(f"TYPE must be CVRP, got {tf.specs['TYPE']!r}", tf.spec_lines["TYPE"])
    dimension = tf.integer("DIMENSION", minimum=1)
    if dimension < 2:
        raise tf.error("DIMENSION must be at least 2 (a depot and one customer)", tf.spec_lines["DIMENSION"])
    capacity = tf.integer("CAPACITY", minimum=1)
    if capacity > MAX_VALUE:
        raise tf.error("CAPACITY must be at most 2**50", tf.spec_lines["CAPACITY"])
    vehicles = tf.integer("VEHICLES", minimum=1) if "VEHICLES" in tf.specs else None
    ewt = tf.require("EDGE_WEIGHT_TYPE").upper()
    if ewt not in EDGE_WEIGHT_TYPES:
        raise tf.error(
            f"unsupported EDGE_WEIGHT_TYPE {tf.specs['EDGE_WEIGHT_TYPE']!r}; supported: {', '.join(EDGE_WEIGHT_TYPES)}",
            tf.spec_lines["EDGE_WEIGHT_TYPE"],
        )
    coords: np.ndarray | None = None
    matrix: np.ndarray | None = None
    if ewt == EXPLICIT:
        matrix = tsplib.explicit_matrix(tf, dimension)
        _check_matrix(tf, matrix)
        for section in ("DISPLAY_DATA_SECTION", "NODE_COORD_SECTION"):
            if section in tf.sections:
                coords = tsplib.node_coords(tf, dimension, section)
                break
    else:
        coords = tsplib.node_coords(tf, dimension)
    if coords is not None:
        _check_coords(tf, coords)
    demands, demand_lines = _read_demands(tf, dimension, capacity)
    depot = _read_depot(tf, dimension)
    if demands[depot] != 0:
        raise tf.error(f"the depot (node {depot + 1}) has demand {demands[depot]}; a depot's demand must be 0",
                       demand_lines[depot])
    if "BACKHAUL_SECTION" in tf.sections:
        warnings.warn(
            f"{tf.path}:{tf.section_lines['BACKHAUL_SECTION']}: BACKHAUL_SECTION ignored (read as plain CVRP)",
            stacklevel=2,
        )
    order = np.array([depot] + [i for i in range(dimension) if i != depot])
    if depot != 0:
        demands = demands[order]
        coords = None if coords is None else coords[order]
        matrix = None if matrix is None else matrix[np.ix_(order, order)]
    name = tf.specs.get("NAME", "").strip() or Path(tf.path).stem
    try:
        return CVRPInstance(
            name=name, coords=coords, demands=demands, capacity=capacity, edge_weight_type=ewt,
            matrix=matrix, num_vehicles=vehicles, comment=tf.specs.get("COMMENT", ""),
        )
    except InputError as exc:
        line = tf.spec_lines.get("VEHICLES") if "vehicles" in exc.message else None
        raise InputError(exc.message, tf.path, line) from None


def _check_coords(tf: tsplib.TsplibFile, coords: np.ndarray) -> None:
    bad = np.flatnonzero((np.abs(coords) > MAX_COORD).any(axis=1))
    if bad.size:
        section = "NODE_COORD_SECTION" if "NODE_COORD_SECTION" in tf.sections else "DISPLAY_DATA_SECTION"
        line = next((ln for ln, tok in tf.sections[section] if tok[0].lstrip("0") == str(bad[0] + 1)), None)
        raise tf.error(f"node {bad[0] + 1} has a coordinate beyond 1e12 in absolute value", line)


def _check_matrix(tf: tsplib.TsplibFile, matrix: np.ndarray) -> None:
    line = tf.section_lines["EDGE_WEIGHT_SECTION"]
    off = matrix != np.round(matrix)
    np.fill_diagonal(off, False)
    if off.any():
        i, j = np.argwhere(off)[0]
        raise tf.error(f"edge weight {matrix[i, j]:g} (node {i + 1} to {j + 1}) is not an integer", line)
    if matrix.max(initial=0) > MAX_VALUE:
        raise tf.error("edge weights must be at most 2**50", line)
    asym = matrix != matrix.T
    np.fill_diagonal(asym, False)
    if asym.any():
        i, j = np.argwhere(asym)[0]
        raise tf.error(f"EDGE_WEIGHT_SECTION is not symmetric (node {i + 1} to {j + 1}); "
                       "asymmetric CVRP is not supported", line)


def _read_demands(tf: tsplib.TsplibFile, dimension: int, capacity: int) -> tuple[np.ndarray, dict[int, int]]:
    """Demands by 0-based file index, and the line of each."""
    if "DEMAND_SECTION" not in tf.sections:
        raise tf.error("missing DEMAND_SECTION")
    demands = np.zeros(dimension, dtype=np.int64)
    seen = np.zeros(dimension, dtype=bool)
    lines = tf.sections["DEMAND_SECTION"]
    where: dict[int, int] = {}
    for line, tokens in lines:
        if len(tokens) != 2:
            raise tf.error(f"DEMAND_SECTION line must be 'node demand', got {len(tokens)} fields", line)
        node = _file_int(tf, tokens[0], line, "node id")
        if not 1 <= node <= dimension:
            raise tf.error(f"node id {node} is outside 1..{dimension} (DIMENSION is {dimension})", line)
        if seen[node - 1]:
            raise tf.error(f"node {node} appears twice in DEMAND_SECTION", line)
        value = _file_int(tf, tokens[1], line, "demand")
        if value < 0:
            raise tf.error(f"node {node} has a negative demand ({value})", line)
        if value > capacity:
            raise tf.error(f"node {node} has demand {value} above CAPACITY {capacity}", line)
        seen[node - 1] = True
        demands[node - 1] = value
        where[node - 1] = line
    if not seen.all():
        missing = int(np.flatnonzero(~seen)[0]) + 1
        last = lines[-1][0] if lines else tf.section_lines["DEMAND_SECTION"]
        raise tf.error(
            f"DEMAND_SECTION has {int(seen.sum())} nodes but DIMENSION is {dimension} "
            f"(node {missing} missing; file truncated?)",
            last,
        )
    return demands, where


def _read_depot(tf: tsplib.TsplibFile, dimension: int) -> int:
    """The 0-based file index of the single depot."""
    if "DEPOT_SECTION" not in tf.sections:
        raise tf.error("missing DEPOT_SECTION")
    depots: list[int] = []
    ended = False
    lines = tf.sections["DEPOT_SECTION"]
    for line, tokens in lines:
        for token in tokens:
            if ended:
                raise tf.error(f"unexpected {token!r} after the -1 that ends DEPOT_SECTION", line)
            node = _file_int(tf, token, line, "depot id")
            if node == -1:
                ended = True
                continue
            if not 1 <= node <= dimension:
                raise tf.error(f"depot id {node} is outside 1..{dimension} (DIMENSION is {dimension})", line)
            if depots:
                raise tf.error(f"a second depot (node {node}) is not supported; CVRP has one depot", line)
            depots.append(node)
    last = lines[-1][0] if lines else tf.section_lines["DEPOT_SECTION"]
    if not ended:
        raise tf.error("DEPOT_SECTION does not end with -1 (file truncated?)", last)
    if not depots:
        raise tf.error("DEPOT_SECTION names no depot", last)
    return depots[0] - 1


def _file_int(tf: tsplib.TsplibFile, token: str, line: int, what: str) -> int:
    try:
        return int(token)
    except ValueError:
        pass
    try:
        value = float(token)
    except ValueError:
        raise tf.error(f"{what} must be an integer, got {token!r}", line) from None
    if not math.isfinite(value) or not value.is_integer():
        raise tf.error(f"{what} must be an integer, got {token!r}", line)
    return int(value)


# ============================================================================= writing


def write(instance: CVRPInstance, path: str | Path) -> None:
    """Write ``instance`` as a CVRPLIB ``.vrp`` file that :func:`read` reads back unchanged.

    Parameters
    ----------
    instance
        The instance.
    path
        The file to write.

    Raises
    ------
    InputError
        If the file cannot be written.
    """
    size = instance.n + 1
    out = [f"NAME : {instance.name}"]
    if instance.comment:
        out.append(f"COMMENT : {' '.join(instance.comment.split())}")
    out += ["TYPE : CVRP", f"DIMENSION : {size}"]
    if instance.num_vehicles is not None:
        out.append(f"VEHICLES : {instance.num_vehicles}")
    out.append(f"EDGE_WEIGHT_TYPE : {instance.edge_weight_type}")
    if instance.edge_weight_type == EXPLICIT:
        out.append("EDGE_WEIGHT_FORMAT : FULL_MATRIX")
        if instance.coords is not None:
            out.append("DISPLAY_DATA_TYPE : TWOD_DISPLAY")
    out.append(f"CAPACITY : {instance.capacity}")
    if instance.edge_weight_type == EXPLICIT:
        out.append("EDGE_WEIGHT_SECTION")
        out += [" ".join(str(int(v)) for v in row) for row in instance.matrix]
    if instance.coords is not None:
        out.append("DISPLAY_DATA_SECTION" if instance.edge_weight_type == EXPLICIT else "NODE_COORD_SECTION")
        out += [f"{i + 1} {tsplib.format_number(x)} {tsplib.format_number(y)}"
                for i, (x, y) in enumerate(instance.coords)]
    out.append("DEMAND_SECTION")
    out += [f"{i + 1} {int(d)}" for i, d in enumerate(instance.demands)]
    out += ["DEPOT_SECTION", "1", "-1", "EOF"]
    _write_text(path, "\n".join(out) + "\n")


def _write_text(path: str | Path, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write file: {exc.strerror}", path) from None


# ============================================================================= solutions


@dataclass(frozen=True)
class SolutionFile:
    """A CVRPLIB ``.sol`` file as read.

    Parameters
    ----------
    routes
        The routes, customer indices ``1..n``, in file order (empty routes dropped).
    cost
        The stated ``Cost``, or None if the file states none.
    """

    routes: list[list[int]]
    cost: float | None


def read_solution(path: str | Path, instance: CVRPInstance) -> SolutionFile:
    """Read a CVRPLIB ``.sol`` file (``Route #1: 3 5 1`` lines, ``Cost 27591``).

    Only the syntax and the customer range are checked here; feasibility is the
    checker's job (:func:`check`).

    Parameters
    ----------
    path
        The file.
    instance
        The instance the solution belongs to (for the range of customer numbers).

    Returns
    -------
    SolutionFile
        The routes and the stated cost.

    Raises
    ------
    InputError
        Naming file and line: an unreadable file, a line that is neither a route nor the
        cost, a non-integer or out-of-range customer, a repeated ``Cost`` or no route at all.
    """
    path = str(path)
    lines = tsplib.read_lines(path)
    routes: list[list[int]] = []
    cost: float | None = None
    n = instance.n
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text:
            continue
        lower = text.lower()
        if lower.startswith("route"):
            head, sep, body = text.partition(":")
            if not sep or not head[5:].strip().lstrip("#").strip().isdigit():
                raise InputError(f"route line must look like 'Route #1: 3 5 1', got {text[:40]!r}", path, number)
            route = []
            for token in body.split():
                try:
                    customer = int(token)
                except ValueError:
                    raise InputError(f"customer {token!r} is not an integer", path, number) from None
                if not 1 <= customer <= n:
                    raise InputError(f"customer {customer} is outside 1..{n}", path, number)
                route.append(customer)
            if route:
                routes.append(route)
        elif lower.startswith("cost"):
            if cost is not None:
                raise InputError("Cost is given twice", path, number)
            value = text[4:].strip().lstrip(":").strip()
            try:
                cost = float(value)
            except ValueError:
                raise InputError(f"Cost must be a number, got {value!r}", path, number) from None
            if not math.isfinite(cost):
                raise InputError(f"Cost must be finite, got {value!r}", path, number)
        else:
            raise InputError(f"unexpected line {text[:40]!r} (expected 'Route #k: ...' or 'Cost ...')", path, number)
    if not routes:
        raise InputError("no route found (expected lines 'Route #k: ...')", path)
    return SolutionFile(routes, cost)


def write_solution(instance: CVRPInstance, routes: Sequence[Sequence[int]], path: str | Path,
                   objective: float | None = None) -> None:
    """Write ``routes`` as a CVRPLIB ``.sol`` file.

    Parameters
    ----------
    instance
        The instance the routes belong to.
    routes
        Lists of customer indices ``1..n``; empty routes are skipped.
    path
        The file to write.
    objective
        The cost line's value; None computes it with :func:`check`.

    Raises
    ------
    InputError
        If the routes are not a solution of ``instance`` (unknown customers, not a list)
        or the file cannot be written.
    """
    verdict = check(instance, routes)
    if verdict.objective is None:
        raise InputError("cannot write the solution: " + "; ".join(verdict.violations))
    if objective is None:
        objective = verdict.objective
    lines = []
    for route in routes:
        if len(route):
            lines.append(f"Route #{len(lines) + 1}: " + " ".join(str(int(c)) for c in route))
    value = int(objective) if float(objective).is_integer() else float(objective)
    lines.append(f"Cost {value}")
    _write_text(path, "\n".join(lines) + "\n")


# ============================================================================= checker


def check(instance: CVRPInstance, solution: Any) -> Check:
    """Check ``solution`` against ``instance`` and recompute its length.

    Parameters
    ----------
    instance
        The instance.
    solution
        A list of routes, each a list of customer indices ``1..n``.

    Returns
    -------
    Check
        Feasible when every customer is visited exactly once, no route contains the depot
        or an unknown index, no route's load exceeds the capacity and, only if the instance
        has a hard fleet limit, there are no more routes than vehicles. ``objective`` is the
        total length (also for infeasible solutions); it is None only when the routes are
        not readable as customer indices.
    """
    n = instance.n
    routes = _as_routes(solution)
    if isinstance(routes, str):
        return Check(False, None, (routes,))
    violations: list[str] = []
    unknown = [(k, c) for k, route in enumerate(routes, 1) for c in route if not 0 < c <= n]
    for k, c in unknown[:_MAX_LISTED]:
        if c == 0:
            violations.append(f"route {k} contains the depot (index 0); routes list customers only")
        else:
            violations.append(f"route {k} contains unknown index {c} (customers are 1..{n})")
    if len(unknown) > _MAX_LISTED:
        violations.append(f"... and {len(unknown) - _MAX_LISTED} more unknown indices")
    if unknown:
        return Check(False, None, tuple(violations))
    routes = [r for r in routes if r]
    flat = np.array([c for route in routes for c in route], dtype=np.int64)
    counts = np.bincount(flat, minlength=n + 1)
    missing = np.flatnonzero(counts[1:] == 0) + 1
    repeated = np.flatnonzero(counts[1:] > 1) + 1
    if missing.size:
        violations.append(f"{missing.size} customer(s) not visited: {_listing(missing)}")
    for c in repeated[:_MAX_LISTED]:
        violations.append(f"customer {c} is visited {counts[c]} times")
    if repeated.size > _MAX_LISTED:
        violations.append(f"... and {repeated.size - _MAX_LISTED} more customers visited more than once")
    demands = instance.demands
    overloaded = [(k, int(demands[r].sum())) for k, r in enumerate(routes, 1)]
    overloaded = [(k, load) for k, load in overloaded if load > instance.capacity]
    for k, load in overloaded[:_MAX_LISTED]:
        violations.append(f"route {k} carries {load}, above the capacity {instance.capacity}")
    if len(overloaded) > _MAX_LISTED:
        violations.append(f"... and {len(overloaded) - _MAX_LISTED} more overloaded routes")
    if instance.num_vehicles is not None and len(routes) > instance.num_vehicles:
        violations.append(f"{len(routes)} routes but the fleet has {instance.num_vehicles} vehicles")
    return Check(not violations, float(routes_length(instance, routes)), tuple(violations))


def routes_length(instance: CVRPInstance, routes: Sequence[Sequence[int]]) -> int:
    """Total length of ``routes`` (valid customer indices) including the depot legs.

    Parameters
    ----------
    instance
        The instance.
    routes
        Lists of customer indices ``1..n``.

    Returns
    -------
    int
        The sum over routes of depot -> customers -> depot distances.
    """
    seq = [0]
    for route in routes:
        if len(route):
            seq.extend(int(c) for c in route)
            seq.append(0)
    if len(seq) == 1:
        return 0
    idx = np.asarray(seq, dtype=np.int64)
    return int(instance.distance_matrix()[idx[:-1], idx[1:]].sum())


def _as_routes(solution: Any) -> list[list[int]] | str:
    """``solution`` as lists of Python ints, or a sentence saying why it is not one."""
    if solution is None or isinstance(solution, (str, bytes, dict)):
        return f"the solution must be a list of routes, got {type(solution).__name__}"
    try:
        raw_routes = list(solution)
    except TypeError:
        return f"the solution must be a list of routes, got {type(solution).__name__}"
    routes: list[list[int]] = []
    for k, route in enumerate(raw_routes, 1):
        if isinstance(route, (str, bytes, dict)) or np.isscalar(route):
            return f"route {k} must be a list of customer indices, got {type(route).__name__}"
        try:
            items = list(route)
        except TypeError:
            return f"route {k} must be a list of customer indices, got {type(route).__name__}"
        ints = []
        for c in items:
            if isinstance(c, (bool, np.bool_)) or not isinstance(c, (int, np.integer)):
                return f"route {k} contains {c!r}, not an integer customer index"
            ints.append(int(c))
        routes.append(ints)
    return routes


def _listing(values: np.ndarray) -> str:
    shown = ", ".join(str(int(v)) for v in values[:_MAX_LISTED])
    return shown + (f" and {values.size - _MAX_LISTED} more" if values.size > _MAX_LISTED else "")


# ============================================================================= generators

#: Capacity of the neural-routing distribution at its four standard sizes (Kool et al. 2019).
UNIFORM_CAPACITY = {10: 20, 20: 30, 50: 40, 100: 50}


def uniform_capacity(size: int) -> int:
    """Vehicle capacity of the ``uniform`` distribution for ``size`` customers.

    The standard table is 10 -> 20, 20 -> 30, 50 -> 40, 100 -> 50. Between these sizes the
    capacity is interpolated linearly and rounded to the nearest integer; below 10 it is
    20 and from 100 on it is 50, as in POMO.
    """
    sizes = sorted(UNIFORM_CAPACITY)
    return int(round(float(np.interp(size, sizes, [UNIFORM_CAPACITY[s] for s in sizes]))))


def generate_uniform(size: int, rng: np.random.Generator | int | None = None, *,
                     scale: int = 1_000_000, capacity: int | None = None,
                     name: str | None = None) -> CVRPInstance:
    """A random instance of the neural-routing distribution (Kool et al. 2019; POMO).

    Depot and customers are uniform in the unit square, demands uniform integers 1..9 and
    the capacity follows :func:`uniform_capacity`. The coordinates are stored as integers
    on a ``scale`` grid with EUC_2D distances, so the TSPLIB rounding is negligible (the
    length in unit-square terms is the objective divided by ``scale``).

    Parameters
    ----------
    size
        Number of customers (at least 1).
    rng
        A numpy Generator or a seed.
    scale
        Grid resolution (at least 1).
    capacity
        Overrides the size rule; must be at least 9.
    name
        Instance name; default ``uniform-n<size>-<hash>`` (a hash of the data).

    Returns
    -------
    CVRPInstance

    Raises
    ------
    InputError
        On a bad size, scale or capacity.
    """
    size = _size(size)
    scale = _option_int(scale, "scale", 1, int(MAX_COORD))
    cap = uniform_capacity(size) if capacity is None else _option_int(capacity, "capacity", 9, MAX_VALUE)
    rng = np.random.default_rng(rng)
    coords = np.rint(rng.random((size + 1, 2)) * scale)
    demands = np.concatenate([[0], rng.integers(1, 10, size=size)])
    return CVRPInstance(
        name=name or _name(f"uniform-n{size}", coords, demands), coords=coords, demands=demands, capacity=cap,
        comment=f"uniform unit square x {scale}, demands 1..9, capacity {cap}",
    )


X_GRID = 1000
X_DEPOTS = ("central", "eccentric", "random")
X_CUSTOMERS = ("random", "clustered", "random_clustered")
X_DEMANDS = (
    "unitary", "small_large_variance", "small_small_variance", "large_large_variance",
    "large_small_variance", "quadrant", "many_small_few_large",
)
#: Ranges of the average route size for the named route-size classes (Queiroga et al. 2021).
X_ROUTE_SIZES = {
    "very_short": (3.0, 5.0), "short": (5.0, 8.0), "medium": (8.0, 12.0),
    "long": (12.0, 16.0), "very_long": (16.0, 25.0), "ultra_long": (25.0, 50.0),
}


def generate_x(size: int, rng: np.random.Generator | int | None = None, *, depot: str | None = None,
               customers: str | None = None, demand: str | None = None,
               route_size: float | str = "triangular", name: str | None = None) -> CVRPInstance:
    """A random instance from the generator of the X set (Uchoa et al. 2017).

    Points are integer points of the ``[0, 1000]^2`` grid (duplicates possible).

    * Depot: ``central`` (500, 500), ``eccentric`` (0, 0) or ``random``.
    * Customers: ``random`` (uniform); ``clustered``: 3..8 uniform seeds (at most ``size``),
      each a customer, and the other customers drawn with density proportional to
      ``sum_s exp(-d(p, s) / 40)`` by rejection sampling on the grid; ``random_clustered``:
      half of the customers (rounded down) uniform, the rest clustered.
    * Demand: ``unitary`` (1); ``small_large_variance`` U[1, 10]; ``small_small_variance``
      U[5, 10]; ``large_large_variance`` U[1, 100]; ``large_small_variance`` U[50, 100];
      ``quadrant``: U[51, 100] in the quadrants x >= 500, y >= 500 and x < 500, y < 500
      around the grid centre, U[1, 50] in the other two; ``many_small_few_large``: a share
      drawn from U[70 %, 95 %] of the customers get U[1, 10], the others U[50, 100].
    * Capacity: ``ceil(r * total demand / size)`` for an average route size ``r``, raised
      to the largest demand if needed. ``route_size`` gives ``r``: ``"triangular"`` draws it
      from the triangular distribution T(3, 6, 25) of the paper; a class name of
      :data:`X_ROUTE_SIZES` draws it uniformly from that range; a number fixes it.

    Parameters
    ----------
    size
        Number of customers (at least 1).
    rng
        A numpy Generator or a seed.
    depot, customers, demand
        The types above; None draws one uniformly at random.
    route_size
        See above.
    name
        Instance name; default ``x-n<size>-d<C|E|R>-c<R|C|RC>-<demand>-<hash>`` (a hash of
        the data).

    Returns
    -------
    CVRPInstance
        EUC_2D.

    Raises
    ------
    InputError
        On an unknown type or a bad size or route size.
    """
    size = _size(size)
    rng = np.random.default_rng(rng)
    depot = _choice(depot, X_DEPOTS, "depot", rng)
    customers = _choice(customers, X_CUSTOMERS, "customers", rng)
    demand = _choice(demand, X_DEMANDS, "demand", rng)
    r = _route_size(route_size, rng)
    if depot == "central":
        depot_xy = np.array([X_GRID / 2, X_GRID / 2])
    elif depot == "eccentric":
        depot_xy = np.array([0.0, 0.0])
    else:
        depot_xy = rng.integers(0, X_GRID + 1, size=2).astype(np.float64)
    if customers == "random":
        points = _grid_points(rng, size)
    elif customers == "clustered":
        points = _clustered_points(rng, size)
    else:
        n_random = size // 2
        points = np.vstack([_grid_points(rng, n_random), _clustered_points(rng, size - n_random)])
        points = points[rng.permutation(size)]
    demands = _x_demands(rng, demand, points)
    capacity = max(int(math.ceil(r * demands.sum() / size)), int(demands.max()))
    coords = np.vstack([depot_xy, points])
    all_demands = np.concatenate([[0], demands])
    # Paper codes: depot C/E/R, customers R/C/RC.
    code = f"d{depot[0].upper()}-c{''.join(w[0] for w in customers.split('_')).upper()}-{demand}"
    return CVRPInstance(
        name=name or _name(f"x-n{size}-{code}", coords, all_demands), coords=coords, demands=all_demands,
        capacity=capacity,
        comment=f"X generator: depot {depot}, customers {customers}, demand {demand}, route size {r:.2f}",
    )


def _grid_points(rng: np.random.Generator, count: int) -> np.ndarray:
    return rng.integers(0, X_GRID + 1, size=(count, 2)).astype(np.float64)


def _clustered_points(rng: np.random.Generator, count: int) -> np.ndarray:
    if count == 0:
        return np.zeros((0, 2))
    n_seeds = min(int(rng.integers(3, 9)), count)
    seeds = _grid_points(rng, n_seeds)
    chosen = [seeds]
    needed = count - n_seeds
    while needed > 0:
        batch = max(1024, 200 * needed)
        cand = _grid_points(rng, batch)
        dist = np.sqrt(((cand[:, None, :] - seeds[None, :, :]) ** 2).sum(axis=2))
        # Divided by the number of seeds so that the acceptance probability stays <= 1.
        accept = rng.random(batch) < np.exp(-dist / 40.0).sum(axis=1) / n_seeds
        kept = cand[accept][:needed]
        chosen.append(kept)
        needed -= len(kept)
    return np.vstack(chosen)


def _x_demands(rng: np.random.Generator, kind: str, points: np.ndarray) -> np.ndarray:
    size = len(points)
    if kind == "unitary":
        return np.ones(size, dtype=np.int64)
    ranges = {
        "small_large_variance": (1, 10), "small_small_variance": (5, 10),
        "large_large_variance": (1, 100), "large_small_variance": (50, 100),
    }
    if kind in ranges:
        lo, hi = ranges[kind]
        return rng.integers(lo, hi + 1, size=size)
    if kind == "quadrant":
        half = X_GRID / 2
        large = (points[:, 0] >= half) == (points[:, 1] >= half)
        return np.where(large, rng.integers(51, 101, size=size), rng.integers(1, 51, size=size))
    share = rng.uniform(0.70, 0.95)
    small = rng.random(size) < share
    return np.where(small, rng.integers(1, 11, size=size), rng.integers(50, 101, size=size))


def _route_size(route_size: float | str, rng: np.random.Generator) -> float:
    if isinstance(route_size, str):
        if route_size == "triangular":
            return float(rng.triangular(3.0, 6.0, 25.0))
        if route_size in X_ROUTE_SIZES:
            return float(rng.uniform(*X_ROUTE_SIZES[route_size]))
        try:
            route_size = float(route_size)
        except ValueError:
            raise InputError(
                f"unknown route size {route_size!r}; use a number, 'triangular' or one of {', '.join(X_ROUTE_SIZES)}"
            ) from None
    if isinstance(route_size, bool) or not isinstance(route_size, (int, float, np.integer, np.floating)) \
            or not math.isfinite(route_size) or route_size < 1:
        raise InputError(f"the route size must be a number of at least 1, got {route_size!r}")
    return float(route_size)


def _choice(value: str | None, allowed: tuple[str, ...], what: str, rng: np.random.Generator) -> str:
    if value is None:
        return allowed[int(rng.integers(len(allowed)))]
    if value not in allowed:
        raise InputError(f"unknown {what} type {value!r}; choose one of {', '.join(allowed)}")
    return value


def _size(size: Any) -> int:
    if isinstance(size, (bool, np.bool_)) or not isinstance(size, (int, np.integer)) or size < 1:
        raise InputError(f"the number of customers must be a positive integer, got {size!r}")
    return int(size)


def _option_int(value: Any, what: str, minimum: int, maximum: float) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InputError(f"the {what} must be an integer, got {value!r}")
    if not minimum <= value <= maximum:
        raise InputError(f"the {what} must be between {minimum} and {maximum:g}, got {value}")
    return int(value)


def _name(prefix: str, coords: np.ndarray, demands: np.ndarray) -> str:
    digest = hashlib.sha1(np.ascontiguousarray(coords, dtype=np.float64).tobytes()
                          + np.ascontiguousarray(demands, dtype=np.int64).tobytes()).hexdigest()
    return f"{prefix}-{digest[:8]}"


GENERATORS = {"uniform": generate_uniform, "x": generate_x}

PROBLEM = Problem(
    name="cvrp",
    suffixes=(".vrp",),
    read=read,
    write=write,
    check=check,
    generators=GENERATORS,
    write_solution=write_solution,
    solution_to_json=lambda r: [[int(c) for c in route] for route in r],
    sense="min",
)
