"""Mixed-integer linear programs: a solver-independent instance, MPS/LP files, checker, generator.

Files are read with SCIP's readers (through PySCIPOpt) and the linear model is extracted into
numpy arrays; reading a file never solves it. The constraint matrix is kept in compressed
sparse row (CSR) form: the nonzeros of row ``i`` are ``coefs[row_ptr[i]:row_ptr[i+1]]`` in the
columns ``col_idx[row_ptr[i]:row_ptr[i+1]]``. Row ``i`` reads ``lhs[i] <= a_i x <= rhs[i]``,
with ``-inf``/``inf`` for a missing side.

A solution is a dict mapping variable names to values; a variable missing from the dict is 0.
"""

from __future__ import annotations

import contextlib
import ctypes
import gzip
import math
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from coptim.errors import InputError
from coptim.problems import Problem
from coptim.result import Check

VTYPES = ("binary", "integer", "continuous")
SENSES = ("minimize", "maximize")
#: Absolute tolerance on integrality, and relative tolerance on bounds and rows (as SCIP's feastol).
FEAS_TOL = 1e-6

_SUFFIXES = (".mps", ".lp", ".mps.gz", ".lp.gz")
_MAX_VIOLATIONS = 10
_SCIP_VTYPE = {"BINARY": "binary", "INTEGER": "integer", "CONTINUOUS": "continuous", "IMPLINT": "continuous"}
_VTYPE_CODE = {"binary": "B", "integer": "I", "continuous": "C"}


@dataclass(frozen=True, eq=False)
class MILPInstance:
    """A mixed-integer linear program ``min/max c x + offset`` s.t. ``lhs <= A x <= rhs``, ``lb <= x <= ub``.

    Parameters
    ----------
    name
        Instance name.
    var_names
        Unique variable names without whitespace, one per column.
    vtypes
        ``"binary"``, ``"integer"`` or ``"continuous"`` per variable.
    lb, ub
        Variable bounds (``-inf``/``inf`` allowed); binaries must lie within [0, 1].
    obj
        Objective coefficients.
    row_ptr, col_idx, coefs
        The constraint matrix in CSR form (see the module docstring).
    lhs, rhs
        Row sides (``-inf``/``inf`` for none), ``lhs <= rhs``.
    row_names
        Unique row names without whitespace; empty means ``c0, c1, ...``.
    sense
        ``"minimize"`` or ``"maximize"``.
    obj_offset
        Constant added to the objective.
    path
        The file the instance was read from, or None. Only :func:`read` sets it; build a
        changed copy with ``path=None``.

    Raises
    ------
    InputError
        If the fields are inconsistent (lengths, NaN, crossed bounds or sides, bad CSR
        structure, duplicate names or duplicate entries in a row).
    """

    name: str
    var_names: tuple[str, ...]
    vtypes: tuple[str, ...]
    lb: np.ndarray
    ub: np.ndarray
    obj: np.ndarray
    row_ptr: np.ndarray
    col_idx: np.ndarray
    coefs: np.ndarray
    lhs: np.ndarray
    rhs: np.ndarray
    row_names: tuple[str, ...] = ()
    sense: str = "minimize"
    obj_offset: float = 0.0
    path: Path | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip() or any(ch in self.name for ch in "\r\n"):
            raise InputError(f"the instance name must be a non-empty single line of text, got {self.name!r}")
        names = _names(self.var_names, "variable")
        n = len(names)
        if n == 0:
            raise InputError("a MILP instance needs at least one variable")
        vtypes = tuple(self.vtypes)
        if len(vtypes) != n:
            raise InputError(f"there are {n} variables but {len(vtypes)} variable types")
        bad = [t for t in vtypes if t not in VTYPES]
        if bad:
            raise InputError(f"unknown variable type {bad[0]!r}; use one of {', '.join(VTYPES)}")
        lb = _float_array(self.lb, "lower bounds", n, allow_inf=True)
        ub = _float_array(self.ub, "upper bounds", n, allow_inf=True)
        obj = _float_array(self.obj, "objective coefficients", n)
        _check_sides(lb, ub, names, "bounds of variable")
        if np.isposinf(lb).any() or np.isneginf(ub).any():
            j = int(np.flatnonzero(np.isposinf(lb) | np.isneginf(ub))[0])
            raise InputError(f"variable {names[j]} has an infinite bound on the wrong side")
        is_bin = np.array([t == "binary" for t in vtypes])
        wrong = np.flatnonzero(is_bin & ((lb < 0) | (ub > 1)))
        if wrong.size:
            j = int(wrong[0])
            raise InputError(f"binary variable {names[j]} has bounds [{lb[j]}, {ub[j]}] outside [0, 1]")
        row_ptr = _int_array(self.row_ptr, "row pointers")
        if row_ptr.size == 0 or row_ptr[0] != 0 or (np.diff(row_ptr) < 0).any():
            raise InputError("the row pointers must start at 0 and never decrease")
        m = row_ptr.size - 1
        col_idx = _int_array(self.col_idx, "column indices")
        nnz = col_idx.size
        if row_ptr[-1] != nnz:
            raise InputError(f"the last row pointer is {row_ptr[-1]} but there are {nnz} column indices")
        coefs = _float_array(self.coefs, "matrix coefficients", nnz)
        if nnz and (col_idx.min() < 0 or col_idx.max() >= n):
            raise InputError(f"a column index is out of range 0..{n - 1}")
        rows = np.repeat(np.arange(m, dtype=np.int64), np.diff(row_ptr))
        keys = rows * n + col_idx
        if np.unique(keys).size != nnz:
            raise InputError("a variable appears twice in the same row")
        lhs = _float_array(self.lhs, "row left-hand sides", m, allow_inf=True)
        rhs = _float_array(self.rhs, "row right-hand sides", m, allow_inf=True)
        row_names = _names(self.row_names or tuple(f"c{i}" for i in range(m)), "row")
        if len(row_names) != m:
            raise InputError(f"there are {m} rows but {len(row_names)} row names")
        _check_sides(lhs, rhs, row_names, "sides of row")
        if np.isposinf(lhs).any() or np.isneginf(rhs).any():
            i = int(np.flatnonzero(np.isposinf(lhs) | np.isneginf(rhs))[0])
            raise InputError(f"row {row_names[i]} has an infinite side on the wrong side")
        if self.sense not in SENSES:
            raise InputError(f"the objective sense must be 'minimize' or 'maximize', got {self.sense!r}")
        if isinstance(self.obj_offset, bool) or not isinstance(self.obj_offset, (int, float, np.number)) \
                or not math.isfinite(self.obj_offset):
            raise InputError(f"the objective offset must be a finite number, got {self.obj_offset!r}")
        for field_name, value in (
            ("var_names", names), ("vtypes", vtypes), ("lb", lb), ("ub", ub), ("obj", obj),
            ("row_ptr", row_ptr), ("col_idx", col_idx), ("coefs", coefs), ("lhs", lhs), ("rhs", rhs),
            ("row_names", row_names), ("obj_offset", float(self.obj_offset)),
            ("path", Path(self.path) if self.path is not None else None),
        ):
            object.__setattr__(self, field_name, value)

    @property
    def n_vars(self) -> int:
        """Number of variables."""
        return len(self.var_names)

    @property
    def n_rows(self) -> int:
        """Number of rows (constraints)."""
        return int(self.row_ptr.size - 1)

    @property
    def nnz(self) -> int:
        """Number of nonzeros in the constraint matrix."""
        return int(self.col_idx.size)

    @property
    def integer_mask(self) -> np.ndarray:
        """True for binary and integer variables."""
        return np.array([t != "continuous" for t in self.vtypes], dtype=bool)

    def row_indices(self) -> np.ndarray:
        """The row of each nonzero (the COO row array)."""
        return np.repeat(np.arange(self.n_rows, dtype=np.int64), np.diff(self.row_ptr))

    def activities(self, x: np.ndarray) -> np.ndarray:
        """Row activities ``A x`` for a vector ``x`` in variable order.

        Parameters
        ----------
        x
            Values of the variables, length ``n_vars``.

        Returns
        -------
        numpy.ndarray
            One activity per row.
        """
        x = np.asarray(x, dtype=np.float64)
        return np.bincount(self.row_indices(), weights=self.coefs * x[self.col_idx], minlength=self.n_rows)

    def dense_matrix(self) -> np.ndarray:
        """The constraint matrix as a dense array (only sensible for small instances)."""
        a = np.zeros((self.n_rows, self.n_vars))
        a[self.row_indices(), self.col_idx] = self.coefs
        return a

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MILPInstance):
            return NotImplemented
        arrays = ("lb", "ub", "obj", "row_ptr", "col_idx", "coefs", "lhs", "rhs")
        return (
            (self.name, self.var_names, self.vtypes, self.row_names, self.sense, self.obj_offset)
            == (other.name, other.var_names, other.vtypes, other.row_names, other.sense, other.obj_offset)
            and all(np.array_equal(getattr(self, a), getattr(other, a)) for a in arrays)
        )

    def __hash__(self) -> int:
        return hash((self.name, self.var_names, self.n_rows))


# ----------------------------------------------------------------------------- validation helpers


def _names(names: Any, what: str) -> tuple[str, ...]:
    names = tuple(names)
    for name in names:
        if not isinstance(name, str) or not name or any(ch.isspace() for ch in name):
            raise InputError(f"{what} name {name!r} must be a non-empty string without spaces")
    if len(set(names)) != len(names):
        seen: set[str] = set()
        dup = next(x for x in names if x in seen or seen.add(x))
        raise InputError(f"{what} name {dup!r} is used twice")
    return names


def _float_array(data: Any, what: str, size: int, allow_inf: bool = False) -> np.ndarray:
    try:
        arr = np.array(data, dtype=np.float64)
    except (ValueError, TypeError):
        raise InputError(f"the {what} must be numbers") from None
    if arr.ndim != 1 or arr.size != size:
        raise InputError(f"expected {size} {what}, got an array of shape {arr.shape}")
    bad = np.isnan(arr) if allow_inf else ~np.isfinite(arr)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise InputError(f"entry {k} of the {what} is {arr[k]}; it must be {'a number' if allow_inf else 'finite'}")
    arr.setflags(write=False)
    return arr


def _int_array(data: Any, what: str) -> np.ndarray:
    arr = np.asarray(data)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise InputError(f"the {what} must be a flat array of integers")
    arr = np.array(arr, dtype=np.int64)
    arr.setflags(write=False)
    return arr


def _check_sides(low: np.ndarray, high: np.ndarray, names: tuple[str, ...], what: str) -> None:
    crossed = np.flatnonzero(low > high)
    if crossed.size:
        k = int(crossed[0])
        raise InputError(f"the {what} {names[k]} are crossed: {low[k]} > {high[k]}")


# ----------------------------------------------------------------------------- reading


def file_format(path: str | Path) -> str:
    """``"mps"`` or ``"lp"`` from the file name (``.mps``, ``.lp``, optionally ``.gz``).

    Raises
    ------
    InputError
        On any other suffix.
    """
    name = Path(path).name.lower()
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return suffix.split(".")[1]
    raise InputError(f"unknown MILP file suffix; use one of {', '.join(_SUFFIXES)}", path)


def _instance_name(path: Path) -> str:
    name = path.name
    for suffix in _SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)] or name
    return name


@contextlib.contextmanager
def captured_output() -> Iterator[list[str]]:
    """Capture what native code writes to file descriptors 1 and 2.

    SCIP prints its reader errors straight to the process's stdout/stderr; this context
    manager diverts both into a temporary file and, on exit, appends the captured text to
    the yielded list. Output from other threads in that window is captured as well.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    captured: list[str] = []
    with tempfile.TemporaryFile() as tmp:
        saved = (os.dup(1), os.dup(2))
        try:
            os.dup2(tmp.fileno(), 1)
            os.dup2(tmp.fileno(), 2)
            yield captured
        finally:
            with contextlib.suppress(Exception):
                ctypes.CDLL(None).fflush(None)
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            tmp.seek(0)
            captured.append(tmp.read().decode("utf-8", errors="replace"))


def _read_error(path: Path, fmt: str, output: str, exc: Exception) -> InputError:
    """One InputError sentence from SCIP's error output."""
    errors = [m.group(1).strip() for m in re.finditer(r"ERROR:\s*(.*)", output)]
    errors = [e for e in errors if not re.match(r"Error <-?\d+> in function call", e)]
    if not errors:
        return InputError(f"SCIP could not read this {fmt.upper()} file ({exc})", path)
    detail = errors[0]
    match = re.search(r"line:?\s*(\d+)", detail)
    line = int(match.group(1)) if match and int(match.group(1)) > 0 else None
    detail = detail.rstrip(". ")
    detail = detail[0].lower() + detail[1:] if detail else detail
    return InputError(f"SCIP's {fmt.upper()} reader reports: {detail}", path, line)


def read_scip_model(path: str | Path, *, verbose: bool = False):
    """Read an MPS or LP file into a new ``pyscipopt.Model`` (not solved).

    Parameters
    ----------
    path
        ``.mps``, ``.lp``, ``.mps.gz`` or ``.lp.gz`` file.
    verbose
        Keep SCIP's messages on.

    Returns
    -------
    pyscipopt.Model

    Raises
    ------
    InputError
        If the file is missing, empty, has an unknown suffix, or SCIP cannot parse it
        (with the line number SCIP reports).
    """
    import pyscipopt

    p = Path(path)
    fmt = file_format(p)
    if not p.is_file():
        raise InputError("file not found", p)
    if p.stat().st_size == 0:
        raise InputError("the file is empty", p)
    if p.name.lower().endswith(".gz"):
        try:
            with gzip.open(p, "rb") as handle:
                handle.read(1)
        except (OSError, EOFError):
            raise InputError("not a valid gzip file", p) from None
    model = pyscipopt.Model()
    model.hideOutput(quiet=not verbose)
    with captured_output() as out:
        try:
            model.readProblem(str(p), fmt)
            error = None
        except Exception as exc:  # PySCIPOpt raises OSError on reader errors
            error = exc
    if error is not None:
        raise _read_error(p, fmt, "".join(out), error)
    if verbose and out and out[0]:
        sys.stdout.write(out[0])
    return model


def from_scip_model(model, name: str | None = None, path: str | Path | None = None) -> MILPInstance:
    """Extract a :class:`MILPInstance` from an unsolved ``pyscipopt.Model``.

    Parameters
    ----------
    model
        A model in problem stage (read or built, not solved).
    name
        Instance name; defaults to the model's problem name.
    path
        The file the model came from, if any (kept in the instance and used in messages).

    Returns
    -------
    MILPInstance

    Raises
    ------
    InputError
        If a constraint is not linear (naming its type), or the model fails validation.
    """
    infinity = model.infinity()

    def clip(value: float) -> float:
        if value >= infinity:
            return math.inf
        if value <= -infinity:
            return -math.inf
        return float(value)

    variables = sorted(model.getVars(), key=lambda v: v.getIndex())  # creation (file) order
    var_names = tuple(v.name for v in variables)
    index = {nm: j for j, nm in enumerate(var_names)}
    vtypes = tuple(_SCIP_VTYPE.get(v.vtype(), "continuous") for v in variables)
    lb = np.array([clip(v.getLbOriginal()) for v in variables])
    ub = np.array([clip(v.getUbOriginal()) for v in variables])
    obj = np.array([v.getObj() for v in variables], dtype=np.float64)
    row_ptr = [0]
    cols: list[int] = []
    vals: list[float] = []
    lhs: list[float] = []
    rhs: list[float] = []
    row_names: list[str] = []
    for cons in model.getConss():
        kind = cons.getConshdlrName()
        if kind != "linear":
            raise InputError(
                f"constraint {cons.name} is of type {kind!r}; only linear constraints are supported", path
            )
        cvars = model.getConsVars(cons)
        cvals = model.getConsVals(cons)
        merged: dict[int, float] = {}
        for v, a in zip(cvars, cvals):
            j = index[v.name]
            merged[j] = merged.get(j, 0.0) + float(a)
        for j in sorted(merged):
            if merged[j] != 0.0:
                cols.append(j)
                vals.append(merged[j])
        row_ptr.append(len(cols))
        lhs.append(clip(model.getLhs(cons)))
        rhs.append(clip(model.getRhs(cons)))
        row_names.append(cons.name)
    if len(set(row_names)) != len(row_names):
        row_names = [f"c{i}" for i in range(len(row_names))]
    try:
        return MILPInstance(
            name=name or model.getProbName() or "milp",
            var_names=var_names, vtypes=vtypes, lb=lb, ub=ub, obj=obj,
            row_ptr=np.array(row_ptr, dtype=np.int64), col_idx=np.array(cols, dtype=np.int64),
            coefs=np.array(vals, dtype=np.float64), lhs=np.array(lhs), rhs=np.array(rhs),
            row_names=tuple(row_names), sense=model.getObjectiveSense(),
            obj_offset=float(model.getObjoffset(original=True)),
            path=Path(path).resolve() if path is not None else None,
        )
    except InputError as exc:
        raise InputError(exc.message, path) from None


def read(path: str | Path) -> MILPInstance:
    """Read an MPS or LP file (optionally gzipped) into a :class:`MILPInstance`.

    Parameters
    ----------
    path
        ``.mps``, ``.lp``, ``.mps.gz`` or ``.lp.gz`` file.

    Returns
    -------
    MILPInstance
        Named after the file (without suffix), with ``path`` set.

    Raises
    ------
    InputError
        If the file is missing or malformed, or has a constraint that is not linear.
    """
    p = Path(path)
    model = read_scip_model(p)
    return from_scip_model(model, name=_instance_name(p), path=p)


# ----------------------------------------------------------------------------- writing


def to_scip_model(instance: MILPInstance, *, verbose: bool = False):
    """Build a ``pyscipopt.Model`` from the instance's arrays.

    Parameters
    ----------
    instance
        The instance.
    verbose
        Keep SCIP's messages on.

    Returns
    -------
    pyscipopt.Model
        With the same variable and row names and order as the instance.
    """
    import pyscipopt
    from pyscipopt.scip import Expr, ExprCons, Term

    model = pyscipopt.Model(instance.name)
    model.hideOutput(quiet=not verbose)
    variables = []
    for j, name in enumerate(instance.var_names):
        lo, hi = float(instance.lb[j]), float(instance.ub[j])
        variables.append(model.addVar(
            name=name, vtype=_VTYPE_CODE[instance.vtypes[j]],
            lb=None if math.isinf(lo) else lo, ub=None if math.isinf(hi) else hi, obj=float(instance.obj[j]),
        ))
    if instance.sense == "maximize":
        model.setMaximize()
    else:
        model.setMinimize()
    if instance.obj_offset:
        model.addObjoffset(instance.obj_offset)
    ptr, cols, coefs = instance.row_ptr.tolist(), instance.col_idx.tolist(), instance.coefs.tolist()
    for i, name in enumerate(instance.row_names):
        expr = Expr({Term(variables[cols[k]]): coefs[k] for k in range(ptr[i], ptr[i + 1])})
        lo, hi = float(instance.lhs[i]), float(instance.rhs[i])
        model.addCons(ExprCons(expr, lhs=None if math.isinf(lo) else lo, rhs=None if math.isinf(hi) else hi),
                      name=name)
    return model


def write(instance: MILPInstance, path: str | Path) -> None:
    """Write the instance as MPS or LP (chosen by suffix, ``.gz`` compresses) through SCIP.

    The LP format has no ranged rows: SCIP writes a row with two finite sides as two rows
    ``<name>_lhs`` and ``<name>_rhs``. MPS keeps it as one row.

    Parameters
    ----------
    instance
        The instance.
    path
        ``.mps``, ``.lp``, ``.mps.gz`` or ``.lp.gz`` file.

    Raises
    ------
    InputError
        On an unknown suffix or a file that cannot be written.
    """
    p = Path(path)
    fmt = file_format(p)
    model = to_scip_model(instance)
    compressed = p.name.lower().endswith(".gz")
    target = p
    if compressed:
        handle, tmp_name = tempfile.mkstemp(suffix="." + fmt, dir=p.parent if p.parent.is_dir() else None)
        os.close(handle)
        target = Path(tmp_name)
    try:
        with captured_output():
            try:
                model.writeProblem(str(target), verbose=False)
            except OSError as exc:
                raise InputError(f"SCIP could not write the file ({exc})", p) from None
        if compressed:
            with open(target, "rb") as src, gzip.open(p, "wb") as dst:
                shutil.copyfileobj(src, dst)
    finally:
        if compressed:
            target.unlink(missing_ok=True)


def write_solution(instance: MILPInstance, solution: Mapping[str, float], path: str | Path,
                   objective: float | None = None) -> None:
    """Write a solution in SCIP's ``.sol`` style: ``objective value: V`` then ``name value`` lines.

    Only nonzero values are listed.

    Parameters
    ----------
    instance
        The instance solved.
    solution
        Variable name -> value.
    path
        Target file.
    objective
        The objective to write; recomputed from ``solution`` when None.

    Raises
    ------
    InputError
        If the solution names unknown variables.
    """
    x = _solution_vector(instance, solution)
    if isinstance(x, str):
        raise InputError(f"cannot write the solution: {x}")
    if objective is None:
        objective = instance.obj_offset + float(instance.obj @ x)
    lines = [f"objective value: {float(objective)!r}"]
    lines += [f"{name} {float(v)!r}" for name, v in zip(instance.var_names, x.tolist()) if v != 0.0]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


# ----------------------------------------------------------------------------- checking


def _solution_vector(instance: MILPInstance, solution: Any) -> np.ndarray | str:
    """The solution as a vector in variable order, or a sentence saying why it is not one."""
    if not isinstance(solution, Mapping):
        return "the solution must be a dict of variable name to value"
    index = {name: j for j, name in enumerate(instance.var_names)}
    x = np.zeros(instance.n_vars)
    for name, value in solution.items():
        if name not in index:
            return f"the solution names an unknown variable {name!r}"
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)) \
                or not math.isfinite(value):
            return f"the value of {name} is {value!r}; it must be a finite number"
        x[index[name]] = float(value)
    return x


def _feas_violation(excess: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Where ``excess`` (how far a value is beyond its limit) exceeds SCIP-style relative tolerance."""
    with np.errstate(invalid="ignore"):
        return excess > FEAS_TOL * np.maximum(1.0, scale)


def check(instance: MILPInstance, solution: Any) -> Check:
    """Check bounds, integrality and every row, and recompute the objective with the offset.

    Bounds and rows are checked with SCIP's relative feasibility tolerance: a value ``a`` may
    exceed its limit ``b`` by at most ``1e-6 * max(1, |a|, |b|)``. Integer and binary
    variables must be within ``1e-6`` of an integer. Variables missing from the solution are 0.

    Parameters
    ----------
    instance
        The instance.
    solution
        Variable name -> value.

    Returns
    -------
    Check
        Feasible with ``obj_offset + c x``, or infeasible (objective None) with violations.
    """
    x = _solution_vector(instance, solution)
    if isinstance(x, str):
        return Check(False, None, (x,))
    names = instance.var_names
    violations: list[str] = []
    absx = np.abs(x)
    below = _feas_violation(instance.lb - x, np.maximum(absx, np.abs(instance.lb)))
    above = _feas_violation(x - instance.ub, np.maximum(absx, np.abs(instance.ub)))
    violations += [f"{names[j]} = {x[j]:g} is below its lower bound {instance.lb[j]:g}" for j in np.flatnonzero(below)]
    violations += [f"{names[j]} = {x[j]:g} is above its upper bound {instance.ub[j]:g}" for j in np.flatnonzero(above)]
    frac = np.abs(x - np.round(x)) > FEAS_TOL
    violations += [f"{names[j]} = {x[j]:g} is not integral" for j in np.flatnonzero(frac & instance.integer_mask)]
    act = instance.activities(x)
    absact = np.abs(act)
    low = _feas_violation(instance.lhs - act, np.maximum(absact, np.abs(instance.lhs)))
    high = _feas_violation(act - instance.rhs, np.maximum(absact, np.abs(instance.rhs)))
    rows = instance.row_names
    violations += [f"row {rows[i]}: activity {act[i]:g} < lhs {instance.lhs[i]:g}" for i in np.flatnonzero(low)]
    violations += [f"row {rows[i]}: activity {act[i]:g} > rhs {instance.rhs[i]:g}" for i in np.flatnonzero(high)]
    if violations:
        if len(violations) > _MAX_VIOLATIONS:
            extra = len(violations) - _MAX_VIOLATIONS
            violations = violations[:_MAX_VIOLATIONS] + [f"... and {extra} more violations"]
        return Check(False, None, tuple(violations))
    return Check(True, instance.obj_offset + float(instance.obj @ x))


# ----------------------------------------------------------------------------- generator


def generate_setcover(size: int, rng: np.random.Generator | int, *, ncols: int = 1000,
                      density: float = 0.05, max_cost: int = 100, name: str | None = None) -> MILPInstance:
    """A Balas & Ho set covering instance, as used by Gasse et al. (2019).

    ``min c x`` s.t. every row is covered by at least one chosen column, ``x`` binary. The
    matrix has ``round(size * ncols * density)`` nonzeros: first every row gets one random
    column and every column not yet used gets one random row, then the remaining nonzeros
    are spread uniformly over the free (row, column) cells. Costs are uniform integers in
    ``[1, max_cost]``.

    Parameters
    ----------
    size
        Number of rows (Gasse et al. use 500, 1000 and 2000: the named sizes easy, medium and
        hard of :data:`coptim.problems.milp_generators.NAMED_SIZES`).
    rng
        A numpy Generator, or a seed for one.
    ncols
        Number of columns (default 1000).
    density
        Fraction of nonzero matrix cells (default 0.05).
    max_cost
        Largest column cost (default 100).
    name
        Instance name; by default ``setcover_r<rows>_c<columns>_d<density>``.

    Returns
    -------
    MILPInstance

    Raises
    ------
    InputError
        If an option is out of range or the density is too low to cover every row and column.
    """
    for value, what in ((size, "the number of rows"), (ncols, "the number of columns"), (max_cost, "the maximum cost")):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InputError(f"{what} must be a positive integer, got {value!r}")
    if isinstance(density, bool) or not isinstance(density, (int, float, np.number)) or not 0 < density <= 1:
        raise InputError(f"the density must be in (0, 1], got {density!r}")
    nrows, ncols = int(size), int(ncols)
    nnz = int(round(nrows * ncols * density))
    if nnz < nrows + ncols:
        raise InputError(
            f"density {density} gives {nnz} nonzeros; covering {nrows} rows and {ncols} columns "
            f"needs at least rows + columns = {nrows + ncols}"
        )
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    cells = np.zeros(nrows * ncols, dtype=bool)  # row-major (row, column) cells in use
    cells[np.arange(nrows) * ncols + rng.integers(0, ncols, size=nrows)] = True
    unused = np.flatnonzero(~cells.reshape(nrows, ncols).any(axis=0))
    cells[rng.integers(0, nrows, size=unused.size) * ncols + unused] = True
    remaining = nnz - int(cells.sum())
    if remaining > 0:
        cells[rng.choice(np.flatnonzero(~cells), size=remaining, replace=False)] = True
    flat = np.flatnonzero(cells)  # sorted, so row-major order
    rows, cols = flat // ncols, flat % ncols
    row_ptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=nrows))))
    costs = rng.integers(1, int(max_cost) + 1, size=ncols).astype(np.float64)
    return MILPInstance(
        name=name if name is not None else f"setcover_r{nrows}_c{ncols}_d{density:g}",
        var_names=tuple(f"x{j}" for j in range(ncols)),
        vtypes=("binary",) * ncols,
        lb=np.zeros(ncols), ub=np.ones(ncols), obj=costs,
        row_ptr=row_ptr, col_idx=cols, coefs=np.ones(cols.size),
        lhs=np.ones(nrows), rhs=np.full(nrows, np.inf),
        row_names=tuple(f"c{i}" for i in range(nrows)),
        sense="minimize",
    )


def _generators() -> dict:
    from coptim.problems import milp_generators as gen

    return {"setcover": generate_setcover, "cauctions": gen.generate_cauctions,
            "facility": gen.generate_facility, "indset": gen.generate_indset}


def _named_sizes() -> dict:
    from coptim.problems.milp_generators import NAMED_SIZES

    return {kind: dict(sizes) for kind, sizes in NAMED_SIZES.items()}


PROBLEM = Problem(
    name="milp",
    suffixes=_SUFFIXES,
    read=read,
    write=write,
    check=check,
    generators=_generators(),
    write_solution=write_solution,
    solution_to_json=lambda s: {str(k): float(v) for k, v in s.items()},
    sense="min",
    named_sizes=_named_sizes(),
)
