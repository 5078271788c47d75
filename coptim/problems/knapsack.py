"""The 0/1 knapsack problem: instances, file formats, generators and the checker.

Two file formats are read; the format is picked by the file's content, not its name:

* Pisinger's format (suffix ``.csv``), as in his "hard instances" files. A file holds one or
  more blocks, each made of a name line, ``n N``, ``c C``, ``z Z`` (the optimum), ``time T``,
  then ``N`` lines ``i,profit,weight,x`` (``i`` counts from 1, ``x`` is 1 for the items of the
  stated optimal solution) and a separator line of dashes.
* The plain "instances_01_KP" format (suffix ``.kp``): whitespace-separated numbers ``n``,
  the capacity, ``n`` pairs ``value weight``, and optionally an ``n``-long 0/1 vector giving
  a solution. Line breaks (LF or CRLF) do not matter.

A solution is the sorted list of the 0-based indices of the chosen items; the objective is
their total value, to be maximised.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from coptim.errors import InputError
from coptim.problems import Problem
from coptim.result import Check

#: Largest total of all values (or of all weights) an instance may have, so that every
#: sum of item values or weights fits a signed 64-bit integer with room to spare.
MAX_TOTAL = 2**62

_SUFFIXES = (".csv", ".kp")
_KNOWN_SUFFIXES = (".csv", ".kp", ".txt")
_MAX_VIOLATIONS = 10


@dataclass(frozen=True, eq=False)
class KnapsackInstance:
    """A 0/1 knapsack instance.

    Parameters
    ----------
    name
        Instance name (one line, not empty).
    values
        Value (profit) of each item, non-negative integers.
    weights
        Weight of each item, non-negative integers, as many as ``values``.
    capacity
        Knapsack capacity, a non-negative integer. Items heavier than the capacity are
        allowed; they can never be chosen.

    Raises
    ------
    InputError
        If any field is invalid (NaN, negative, non-integer, length mismatch, no items,
        totals beyond :data:`MAX_TOTAL`).
    """

    name: str
    values: np.ndarray
    weights: np.ndarray
    capacity: int

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip() or "\n" in self.name or "\r" in self.name:
            raise InputError(f"the instance name must be a non-empty single line of text, got {self.name!r}")
        values = _int_array(self.values, "values")
        weights = _int_array(self.weights, "weights")
        if values.shape != weights.shape:
            raise InputError(f"there are {values.size} values but {weights.size} weights; they must match")
        if values.size == 0:
            raise InputError("a knapsack instance needs at least one item")
        for arr, what in ((values, "values"), (weights, "weights")):
            if float(arr.sum(dtype=np.float64)) >= MAX_TOTAL:
                raise InputError(f"the total of the item {what} must stay below 2**62")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "capacity", _int_scalar(self.capacity, "capacity"))

    @property
    def n(self) -> int:
        """Number of items."""
        return int(self.values.size)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KnapsackInstance):
            return NotImplemented
        return (
            self.name == other.name
            and self.capacity == other.capacity
            and np.array_equal(self.values, other.values)
            and np.array_equal(self.weights, other.weights)
        )

    def __hash__(self) -> int:
        return hash((self.name, self.capacity, self.n))


@dataclass(frozen=True)
class KnapsackRecord:
    """One instance read from a file, with the optimum and solution the file states.

    Parameters
    ----------
    instance
        The instance.
    optimum
        The stated optimum (``z`` in Pisinger's format, the value of the stated vector in the
        plain format), or None if the file states none.
    solution
        Sorted 0-based indices of the stated solution's items, or None if none is stated.
    line
        The 1-based line where the instance starts in the file.
    """

    instance: KnapsackInstance
    optimum: int | None
    solution: list[int] | None
    line: int


# ----------------------------------------------------------------------------- validation


def _int_array(data: Any, what: str) -> np.ndarray:
    """``data`` as a read-only 1-D int64 array of non-negative integers."""
    try:
        arr = np.asarray(data)
    except (ValueError, TypeError):
        raise InputError(f"the item {what} must be a flat list of integers") from None
    if arr.ndim != 1:
        raise InputError(f"the item {what} must be a flat list of integers, got an array of shape {arr.shape}")
    if arr.dtype.kind == "b":
        raise InputError(f"the item {what} must be integers, not booleans")
    if arr.dtype.kind not in "iuf":
        try:
            arr = arr.astype(np.float64)
        except (ValueError, TypeError):
            raise InputError(f"the item {what} must be numbers") from None
    if arr.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise InputError(f"item {what}[{bad[0]}] is {arr[bad[0]]}; every entry must be a finite integer")
        bad = np.flatnonzero(arr != np.round(arr))
        if bad.size:
            raise InputError(f"item {what}[{bad[0]}] = {arr[bad[0]]} is not an integer")
        if arr.size and np.abs(arr).max() >= 2.0**62:
            raise InputError(f"the item {what} must stay below 2**62")
    elif arr.dtype.kind == "u" and arr.size and arr.max() >= 2**62:
        raise InputError(f"the item {what} must stay below 2**62")
    arr = np.array(arr, dtype=np.int64)
    bad = np.flatnonzero(arr < 0)
    if bad.size:
        raise InputError(f"item {what}[{bad[0]}] is negative ({arr[bad[0]]})")
    arr.setflags(write=False)
    return arr


def _int_scalar(value: Any, what: str) -> int:
    """``value`` as a non-negative Python int below 2**62."""
    if isinstance(value, (bool, np.bool_)):
        raise InputError(f"the {what} must be an integer, not a boolean")
    if isinstance(value, (int, np.integer)):
        result = int(value)
    elif isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
        result = int(value)
    else:
        raise InputError(f"the {what} must be a non-negative integer, got {value!r}")
    if result < 0:
        raise InputError(f"the {what} must be non-negative, got {result}")
    if result >= MAX_TOTAL:
        raise InputError(f"the {what} must stay below 2**62, got {result}")
    return result


def _instance(name: str, values: list[int], weights: list[int], capacity: int,
              path: str | Path, line: int) -> KnapsackInstance:
    """Build an instance, locating any validation error at ``path:line``."""
    try:
        return KnapsackInstance(name, np.array(values, dtype=np.int64), np.array(weights, dtype=np.int64), capacity)
    except InputError as exc:
        raise InputError(exc.message, path, line) from None


# ----------------------------------------------------------------------------- reading


def _parse_int(token: str, what: str, path: str | Path, line: int) -> int:
    """``token`` as an integer; ``5.0`` is accepted, ``0.5`` and ``abc`` are not."""
    try:
        return int(token)
    except ValueError:
        pass
    try:
        as_float = float(token)
    except ValueError:
        raise InputError(f"{what} {token!r} is not a number", path, line) from None
    if not np.isfinite(as_float) or not as_float.is_integer():
        raise InputError(f"{what} {token!r} is not an integer; only integer knapsack data is supported", path, line)
    return int(as_float)


def _lines(path: str | Path) -> list[str]:
    p = Path(path)
    if not p.is_file():
        raise InputError("file not found", path)
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("not a text file (it is not valid UTF-8)", path) from None
    return text.splitlines()


def _default_name(path: str | Path) -> str:
    """The file name without a known knapsack suffix."""
    name = Path(path).name
    for suffix in _KNOWN_SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _is_pisinger(lines: list[str]) -> bool:
    """Whether the text looks like Pisinger's block format (an ``n N`` line first or second)."""
    head = [s.strip() for s in lines if s.strip()][:2]
    return any(re.match(r"^n\s+\S+$", s) for s in head)


def read_all(path: str | Path) -> list[KnapsackRecord]:
    """Read every instance in a knapsack file, with the optimum and solution it states.

    Parameters
    ----------
    path
        A Pisinger-format file (one or more blocks) or a plain-format file (one instance).

    Returns
    -------
    list of KnapsackRecord
        In file order.

    Raises
    ------
    InputError
        If the file is missing or malformed (naming the line), or a stated solution is
        overweight or does not attain the stated optimum.
    """
    lines = _lines(path)
    if not any(s.strip() for s in lines):
        raise InputError("the file is empty", path)
    if _is_pisinger(lines):
        return _read_pisinger(lines, path)
    return [_read_plain(lines, path)]


def read(path: str | Path) -> KnapsackInstance:
    """Read a single-instance knapsack file (Pisinger's or the plain format, chosen by content).

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    KnapsackInstance

    Raises
    ------
    InputError
        If the file is missing, malformed, or holds more than one instance.
    """
    records = read_all(path)
    if len(records) != 1:
        raise InputError(
            f"the file holds {len(records)} instances; read one-instance files only, or split it with read_all",
            path,
        )
    return records[0].instance


def _read_plain(lines: list[str], path: str | Path) -> KnapsackRecord:
    tokens = [(tok, no) for no, text in enumerate(lines, start=1) for tok in text.split()]
    first_line = tokens[0][1]
    n = _parse_int(tokens[0][0], "the number of items", path, tokens[0][1])
    if n < 1:
        raise InputError(f"the number of items must be at least 1, got {n}", path, tokens[0][1])
    if len(tokens) < 2:
        raise InputError("the file ends before the capacity", path, tokens[-1][1])
    capacity = _parse_int(tokens[1][0], "the capacity", path, tokens[1][1])
    if capacity < 0:
        raise InputError(f"the capacity must be non-negative, got {capacity}", path, tokens[1][1])
    body = tokens[2:]
    if len(body) < 2 * n:
        raise InputError(
            f"the file ends after {len(body) // 2} of {n} value/weight pairs", path, tokens[-1][1]
        )
    values = [_parse_int(body[2 * k][0], f"the value of item {k + 1}", path, body[2 * k][1]) for k in range(n)]
    weights = [
        _parse_int(body[2 * k + 1][0], f"the weight of item {k + 1}", path, body[2 * k + 1][1]) for k in range(n)
    ]
    for k in range(n):
        if values[k] < 0:
            raise InputError(f"the value of item {k + 1} is negative ({values[k]})", path, body[2 * k][1])
        if weights[k] < 0:
            raise InputError(f"the weight of item {k + 1} is negative ({weights[k]})", path, body[2 * k + 1][1])
    instance = _instance(_default_name(path), values, weights, capacity, path, first_line)
    rest = body[2 * n:]
    solution = None
    optimum = None
    if rest:
        if len(rest) != n or any(tok not in ("0", "1") for tok, _ in rest):
            raise InputError(
                f"after the {n} items only an optimal 0/1 vector of {n} entries may follow, "
                f"found {len(rest)} more values starting with {rest[0][0]!r}",
                path, rest[0][1],
            )
        solution = [k for k, (tok, _) in enumerate(rest) if tok == "1"]
        optimum = _stated_value(instance, solution, path, rest[0][1])
    return KnapsackRecord(instance, optimum, solution, first_line)


def _stated_value(instance: KnapsackInstance, solution: list[int], path: str | Path, line: int) -> int:
    """Total value of a stated solution, which must fit the capacity."""
    weight = int(instance.weights[solution].sum())
    if weight > instance.capacity:
        raise InputError(
            f"the stated solution of {instance.name} weighs {weight}, more than the capacity {instance.capacity}",
            path, line,
        )
    return int(instance.values[solution].sum())


_HEADER_KEYS = ("n", "c", "z", "time")
_SEPARATOR = re.compile(r"^-+$")


def _read_pisinger(lines: list[str], path: str | Path) -> list[KnapsackRecord]:
    records: list[KnapsackRecord] = []
    pos = 0
    total = len(lines)

    def next_nonblank(k: int) -> int:
        while k < total and not lines[k].strip():
            k += 1
        return k

    while True:
        pos = next_nonblank(pos)
        if pos >= total:
            break
        start = pos + 1
        name = lines[pos].strip()
        if _SEPARATOR.match(name):
            raise InputError("a separator line of dashes appears where an instance name was expected", path, start)
        if re.match(r"^(n|c|z|time)\s", name) or "," in name:
            raise InputError(f"expected an instance name line, found {name!r}", path, start)
        pos += 1
        header: dict[str, tuple[str, int]] = {}
        while True:
            pos = next_nonblank(pos)
            if pos >= total:
                raise InputError(f"block {name!r} ends before its items", path, total)
            text = lines[pos].strip()
            if "," in text or _SEPARATOR.match(text):
                break
            parts = text.split()
            if len(parts) != 2 or parts[0] not in _HEADER_KEYS:
                raise InputError(
                    f"expected a header line 'n', 'c', 'z' or 'time' followed by a number "
                    f"in block {name!r}, found {text!r}",
                    path, pos + 1,
                )
            if parts[0] in header:
                raise InputError(f"header {parts[0]!r} appears twice in block {name!r}", path, pos + 1)
            header[parts[0]] = (parts[1], pos + 1)
            pos += 1
        for key in ("n", "c"):
            if key not in header:
                raise InputError(f"block {name!r} has no '{key}' line", path, start)
        n = _parse_int(header["n"][0], "the number of items", path, header["n"][1])
        if n < 1:
            raise InputError(f"the number of items must be at least 1, got {n}", path, header["n"][1])
        capacity = _parse_int(header["c"][0], "the capacity", path, header["c"][1])
        if capacity < 0:
            raise InputError(f"the capacity must be non-negative, got {capacity}", path, header["c"][1])
        z = _parse_int(header["z"][0], "the optimum z", path, header["z"][1]) if "z" in header else None
        if "time" in header:
            try:
                float(header["time"][0])
            except ValueError:
                raise InputError(f"time {header['time'][0]!r} is not a number", path, header["time"][1]) from None
        values: list[int] = []
        weights: list[int] = []
        chosen: list[int] = []
        while len(values) < n:
            pos = next_nonblank(pos)
            if pos >= total:
                raise InputError(f"block {name!r} ends after {len(values)} of its {n} items", path, total)
            text = lines[pos].strip()
            if _SEPARATOR.match(text):
                raise InputError(f"block {name!r} declares n {n} but lists {len(values)} items", path, pos + 1)
            fields = [f.strip() for f in text.split(",")]
            if len(fields) != 4:
                raise InputError(f"expected an item line 'i,profit,weight,x', found {text!r}", path, pos + 1)
            index = _parse_int(fields[0], "the item number", path, pos + 1)
            if index != len(values) + 1:
                raise InputError(f"expected item number {len(values) + 1}, found {index}", path, pos + 1)
            profit = _parse_int(fields[1], f"the profit of item {index}", path, pos + 1)
            weight = _parse_int(fields[2], f"the weight of item {index}", path, pos + 1)
            if profit < 0:
                raise InputError(f"the profit of item {index} is negative ({profit})", path, pos + 1)
            if weight < 0:
                raise InputError(f"the weight of item {index} is negative ({weight})", path, pos + 1)
            if fields[3] not in ("0", "1"):
                raise InputError(f"the x of item {index} must be 0 or 1, found {fields[3]!r}", path, pos + 1)
            values.append(profit)
            weights.append(weight)
            if fields[3] == "1":
                chosen.append(index - 1)
            pos += 1
        pos = next_nonblank(pos)
        if pos < total:
            text = lines[pos].strip()
            if not _SEPARATOR.match(text):
                if "," in text:
                    raise InputError(f"block {name!r} declares n {n} but lists more items", path, pos + 1)
                raise InputError(
                    f"expected a separator line of dashes after the items of block {name!r}", path, pos + 1
                )
            pos += 1
        instance = _instance(name, values, weights, capacity, path, start)
        stated = _stated_value(instance, chosen, path, start)
        solution: list[int] | None = chosen
        if z is not None and stated != z:
            if chosen:
                raise InputError(
                    f"the stated solution of block {name!r} has value {stated} but z is {z}", path, header["z"][1]
                )
            solution = None  # a file that states the optimum but no solution vector
        records.append(KnapsackRecord(instance, z if z is not None else (stated if chosen else None), solution, start))
    return records


# ----------------------------------------------------------------------------- writing


def _solution_items(instance: KnapsackInstance, solution: Iterable[Any]) -> list[int]:
    """A valid solution as a sorted list of indices, or an InputError."""
    check_ = check(instance, solution)
    if not check_.feasible:
        raise InputError(f"cannot write an infeasible solution: {check_.violations[0]}")
    return sorted(int(i) for i in solution)


def write(instance: KnapsackInstance, path: str | Path, solution: Sequence[int] | None = None) -> None:
    """Write ``instance`` to ``path``; the suffix picks the format.

    ``.csv`` writes one Pisinger block: ``z`` is the value of ``solution`` and the ``x``
    column marks its items (``z 0`` and all ``x`` 0 when no solution is given). ``.kp``
    writes the plain format, followed by the 0/1 vector of ``solution`` when one is given.

    Parameters
    ----------
    instance
        The instance.
    path
        Target file, ending in ``.csv`` or ``.kp``.
    solution
        Optional feasible solution (0-based item indices).

    Raises
    ------
    InputError
        On an unknown suffix or an infeasible solution.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in _SUFFIXES:
        raise InputError(
            f"unknown knapsack file suffix {suffix or '(none)'!r}; use .csv (Pisinger) or .kp (plain)", path
        )
    items = _solution_items(instance, solution) if solution is not None else []
    x = np.zeros(instance.n, dtype=np.int64)
    x[items] = 1
    if suffix == ".kp":
        out = [str(instance.n), str(instance.capacity)]
        out += [f"{v} {w}" for v, w in zip(instance.values.tolist(), instance.weights.tolist())]
        if solution is not None:
            out.append(" ".join(map(str, x.tolist())))
    else:
        z = int(instance.values[items].sum()) if items else 0
        out = [instance.name, f"n {instance.n}", f"c {instance.capacity}", f"z {z}", "time 0.00"]
        out += [
            f"{i + 1},{v},{w},{xi}"
            for i, (v, w, xi) in enumerate(zip(instance.values.tolist(), instance.weights.tolist(), x.tolist()))
        ]
        out.append("-----")
    p.write_text("\n".join(out) + "\n", encoding="utf-8")


def write_solution(instance: KnapsackInstance, solution: Sequence[int], path: str | Path,
                   objective: float | None = None) -> None:
    """Write a solution as three lines: ``name N``, ``objective V`` and ``items i j k ...``.

    Parameters
    ----------
    instance
        The instance solved.
    solution
        Chosen 0-based item indices.
    path
        Target file.
    objective
        The objective to write; recomputed from ``solution`` when None.

    Raises
    ------
    InputError
        If the solution is infeasible.
    """
    items = _solution_items(instance, solution)
    if objective is None:
        objective = int(instance.values[items].sum())
    shown = int(objective) if float(objective).is_integer() else float(objective)
    lines = [f"name {instance.name}", f"objective {shown!r}", " ".join(["items", *map(str, items)])]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


# ----------------------------------------------------------------------------- checking


def check(instance: KnapsackInstance, solution: Any) -> Check:
    """Check a solution: integer indices in range, no repeats, total weight within capacity.

    Parameters
    ----------
    instance
        The instance.
    solution
        The chosen 0-based item indices (any order).

    Returns
    -------
    Check
        Feasible with the total value as objective, or infeasible (objective None)
        with the violations.
    """
    if isinstance(solution, (str, bytes, dict)) or not isinstance(solution, Iterable):
        return Check(False, None, ("the solution must be a list of item indices",))
    violations: list[str] = []
    seen: set[int] = set()
    items: list[int] = []
    for item in solution:
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, (int, np.integer)):
            violations.append(f"item {item!r} is not an integer index")
            continue
        j = int(item)
        if not 0 <= j < instance.n:
            violations.append(f"item index {j} is out of range 0..{instance.n - 1}")
        elif j in seen:
            violations.append(f"item {j} is chosen more than once")
        else:
            seen.add(j)
            items.append(j)
    weight = int(instance.weights[items].sum()) if items else 0
    if weight > instance.capacity:
        violations.append(f"the total weight {weight} exceeds the capacity {instance.capacity}")
    if violations:
        if len(violations) > _MAX_VIOLATIONS:
            extra = len(violations) - _MAX_VIOLATIONS
            violations = violations[:_MAX_VIOLATIONS] + [f"... and {extra} more violations"]
        return Check(False, None, tuple(violations))
    return Check(True, int(instance.values[items].sum()) if items else 0)


# ----------------------------------------------------------------------------- generators


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def _generate(kind: str, size: int, rng: np.random.Generator | int, coef_range: int,
              h: int | None, series: int, name: str | None) -> KnapsackInstance:
    n = _positive_int(size, "the number of items")
    r = _positive_int(coef_range, "the coefficient range")
    series = _positive_int(series, "the series length")
    if h is not None:
        h = _positive_int(h, "the instance number h")
        if h > series:
            raise InputError(f"the instance number h must be at most the series length {series}, got {h}")
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    shift = r // 10
    if kind == "inverse-strongly-correlated":
        values = rng.integers(1, r + 1, size=n)
        weights = values + shift
    else:
        weights = rng.integers(1, r + 1, size=n)
        if kind == "uncorrelated":
            values = rng.integers(1, r + 1, size=n)
        elif kind == "weakly-correlated":
            values = weights + rng.integers(-shift, shift + 1, size=n)
            while (bad := values < 1).any():  # redraw non-positive profits
                values[bad] = weights[bad] + rng.integers(-shift, shift + 1, size=int(bad.sum()))
        elif kind == "strongly-correlated":
            values = weights + shift
        else:  # subset-sum
            values = weights.copy()
    total = int(weights.sum())
    capacity = total // 2 if h is None else (h * total) // (series + 1)
    if name is None:
        name = f"kp_{kind}_n{n}_r{r}" + ("" if h is None else f"_h{h}")
    return KnapsackInstance(name, values, weights, capacity)


def _make_generator(kind: str, rule: str):
    def generate(size: int, rng: np.random.Generator | int, *, coef_range: int = 1000,
                 h: int | None = None, series: int = 100, name: str | None = None) -> KnapsackInstance:
        return _generate(kind, size, rng, coef_range, h, series, name)

    generate.__name__ = "generate_" + kind.replace("-", "_")
    generate.__doc__ = f"""A {kind} instance after Pisinger (2005), "Where are the hard knapsack problems?".

    {rule} ``R`` is ``coef_range``.

    The capacity is half the total weight (rounded down) by default. With ``h`` given it is
    Pisinger's rule for the h-th instance of a series of ``series`` instances:
    ``floor(h / (series + 1) * total weight)``.

    Parameters
    ----------
    size
        Number of items.
    rng
        A numpy Generator, or a seed for one.
    coef_range
        ``R``, the coefficient range (default 1000).
    h
        Pisinger's instance number (1..series), or None for half the total weight.
    series
        Pisinger's series length ``H`` (default 100).
    name
        Instance name; by default built from the kind, size and range.

    Returns
    -------
    KnapsackInstance

    Raises
    ------
    InputError
        If an option is not a positive integer, or ``h > series``.
    """
    return generate


_RULES = {
    "uncorrelated": "Weights and values are uniform integers in [1, R].",
    "weakly-correlated": "Weights are uniform in [1, R]; each value is uniform in [w - R/10, w + R/10], "
                         "redrawn until positive.",
    "strongly-correlated": "Weights are uniform in [1, R]; each value is w + R/10.",
    "inverse-strongly-correlated": "Values are uniform in [1, R]; each weight is v + R/10.",
    "subset-sum": "Weights are uniform in [1, R]; each value equals its weight.",
}

GENERATORS = {kind: _make_generator(kind, rule) for kind, rule in _RULES.items()}

PROBLEM = Problem(
    name="knapsack",
    suffixes=_SUFFIXES,
    read=read,
    write=write,
    check=check,
    generators=GENERATORS,
    write_solution=write_solution,
    solution_to_json=lambda s: [int(i) for i in s],
    sense="max",
)
