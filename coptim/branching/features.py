"""Bipartite-graph observations of SCIP's LP at a branching node (Gasse et al., 2019).

An :class:`Observation` is the LP relaxation of the current node as a bipartite graph:
constraints on one side, variables (LP columns) on the other, one edge per nonzero.
:class:`FeatureExtractor` builds it from a ``pyscipopt.Model`` that is solving; it is meant to
be called from a branching rule's ``branchexeclp`` callback.

The features are those of Gasse et al. (2019), "Exact combinatorial optimization with graph
convolutional neural networks", rebuilt on SCIP 10 / PySCIPOpt 6:

* **constraints** (5): each LP row ``lhs <= a x + c <= rhs`` becomes one ``<=`` constraint per
  finite side (the "lhs/rhs split"): ``-a x <= -(lhs - c)`` for the left side, ``a x <= rhs - c``
  for the right side. All left-side constraints come first, in LP row order, then all
  right-side ones. Features, in :data:`CONSTRAINT_FEATURE_NAMES` order: cosine similarity of
  the (signed) row with the objective, bias ``(side - c) / ||a||`` (signed), whether the side
  is tight in the LP solution, the signed dual value ``y / (||a|| ||c_obj||)`` and the row's
  age ``/ (number of LPs solved + 5)``.
* **edges** (1): the signed coefficient ``a_ij / ||a_i||`` (negated for left-side constraints).
* **variables** (19), in :data:`VARIABLE_FEATURE_NAMES` order: type one-hot (binary, integer,
  implied integer, continuous), objective coefficient ``/ ||c_obj||``, has a (local) lower /
  upper bound, LP value at its lower / upper bound, fractionality of the LP value (0 for
  continuous variables), basis status one-hot (lower, basic, upper, zero), reduced cost
  ``/ ||c_obj||``, age ``/ (LPs + 5)``, LP value, value in the incumbent and average value over
  the solutions found (both 0 while there is no solution).

Everything refers to SCIP's transformed (presolved, minimising) problem. The variable axis
is the LP column order (``SCIPcolGetLPPos``); :meth:`FeatureExtractor.variables` maps it back
to ``pyscipopt`` variables so that a branching rule can branch on a chosen candidate.

Speed: the static part (variable types, objective, the constraint matrix, row norms and
objective cosines) is read once; each :meth:`FeatureExtractor.observe` reads only the dynamic
values, column by column and row by row through ``map`` over PySCIPOpt's methods, and
assembles them with numpy. When the LP's rows change between nodes (cuts added or removed)
the new rows' static data are read and cached; when its columns change, everything is rebuilt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Version of the feature layout; trainers store it with a policy and refuse a mismatch.
FEATURE_LAYOUT = "gasse2019-v1"

VARIABLE_FEATURE_NAMES = (
    "type_binary", "type_integer", "type_implied_integer", "type_continuous",
    "objective", "has_lower_bound", "has_upper_bound", "solution_at_lower_bound", "solution_at_upper_bound",
    "solution_fractionality", "basis_lower", "basis_basic", "basis_upper", "basis_zero",
    "reduced_cost", "age", "solution_value", "incumbent_value", "average_incumbent_value",
)
CONSTRAINT_FEATURE_NAMES = ("objective_cosine_similarity", "bias", "is_tight", "dual_value", "age")
EDGE_FEATURE_NAMES = ("coefficient",)

N_VARIABLE_FEATURES = len(VARIABLE_FEATURE_NAMES)  # 19
N_CONSTRAINT_FEATURES = len(CONSTRAINT_FEATURE_NAMES)  # 5
N_EDGE_FEATURES = len(EDGE_FEATURE_NAMES)  # 1

_BASIS = {"lower": 0, "basic": 1, "upper": 2, "zero": 3}
_TYPE = {"BINARY": 0, "INTEGER": 1, "IMPLINT": 2, "CONTINUOUS": 3}


@dataclass
class Observation:
    """The LP of one branching node as a bipartite graph.

    Attributes
    ----------
    constraint_features
        ``(m, 5)`` float32, one row per split ``<=`` constraint.
    edge_index
        ``(2, E)`` int64; row 0 is the constraint index, row 1 the variable index.
    edge_features
        ``(E, 1)`` float32.
    variable_features
        ``(n, 19)`` float32, one row per LP column.
    candidates
        ``(k,)`` int64: the branching candidates (fractional integer variables with the highest
        branching priority), as indices into the variable axis.
    """

    constraint_features: np.ndarray
    edge_index: np.ndarray
    edge_features: np.ndarray
    variable_features: np.ndarray
    candidates: np.ndarray

    @property
    def n_constraints(self) -> int:
        return int(self.constraint_features.shape[0])

    @property
    def n_variables(self) -> int:
        return int(self.variable_features.shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        """The five arrays by name (as stored in sample files)."""
        return {
            "constraint_features": self.constraint_features,
            "edge_index": self.edge_index,
            "edge_features": self.edge_features,
            "variable_features": self.variable_features,
            "candidates": self.candidates,
        }


def _floats(fn: Any, items: list, n: int) -> np.ndarray:
    return np.fromiter(map(fn, items), dtype=np.float64, count=n)


class _RowCache:
    """Static data of one LP row: LP positions and values of its nonzeros, norm, objective cosine."""

    __slots__ = ("name", "nnz", "cols", "vals", "norm", "cosine")

    def __init__(self, model: Any, row: Any):
        from pyscipopt.scip import Column

        self.name = row.name
        cols = row.getCols()
        self.nnz = len(cols)
        pos = np.fromiter(map(Column.getLPPos, cols), dtype=np.int64, count=len(cols))
        vals = np.asarray(row.getVals(), dtype=np.float64)
        keep = pos >= 0
        self.cols = pos[keep]
        self.vals = vals[keep]
        norm = float(row.getNorm())
        self.norm = norm if norm > 0 else 1.0
        self.cosine = float(model.getRowObjParallelism(row))


class FeatureExtractor:
    """Builds :class:`Observation` objects for one SCIP solve.

    Create it once per solve, from inside a plugin callback once the LP exists (typically at
    the first ``branchexeclp`` call), then call :meth:`observe` at each branching node.

    Parameters
    ----------
    model
        A ``pyscipopt.Model`` in the solving stage with a solved LP.
    """

    def __init__(self, model: Any):
        self._epsilon = float(model.getParam("numerics/epsilon"))
        self._feastol = float(model.getParam("numerics/feastol"))
        self._infinity = float(model.infinity())
        self._row_cache: dict[Any, _RowCache] = {}
        self._rows: list = []
        self._build_columns(model)

    # ------------------------------------------------------------------ static part

    def _build_columns(self, model: Any) -> None:
        from pyscipopt.scip import Column, Variable

        cols = model.getLPColsData()
        n = len(cols)
        self._cols = cols
        self._vars = [c.getVar() for c in cols]
        types = np.empty(n, dtype=np.int64)
        for j, var in enumerate(self._vars):
            t = _TYPE.get(var.vtype(), 3)
            if t == 3 and var.isImpliedIntegral():
                t = 2
            types[j] = t
        self._types = types
        self._continuous = types == 3
        obj = _floats(Column.getObjCoeff, cols, n)
        norm = float(np.linalg.norm(obj))
        self._obj_norm = norm if norm > 0 else 1.0
        static = np.zeros((n, 5), dtype=np.float32)
        static[np.arange(n), types] = 1.0
        static[:, 4] = obj / self._obj_norm
        self._static_vars = static
        index = np.fromiter(map(Variable.getIndex, self._vars), dtype=np.int64, count=n)
        self._pos_of_index = np.full(int(index.max()) + 1 if n else 1, -1, dtype=np.int64)
        self._pos_of_index[index] = np.arange(n)
        self._incumbent_key: Any = None
        self._incumbent = np.zeros((n, 2), dtype=np.float64)
        self._row_cache.clear()
        self._rows = []

    def _build_rows(self, model: Any, rows: list) -> None:
        """(Re)assemble the static constraint side for this list of LP rows."""
        cache = self._row_cache
        data = []
        for row in rows:
            entry = cache.get(row)
            if entry is None or entry.name != row.name or entry.nnz != row.getNNonz():
                entry = _RowCache(model, row)
                cache[row] = entry
            data.append(entry)
        if len(cache) > 4 * max(len(rows), 64):  # forget rows no longer in the LP
            live = set(rows)
            for key in [k for k in cache if k not in live]:
                del cache[key]
        m = len(rows)
        counts = np.array([d.cols.size for d in data], dtype=np.int64)
        self._row_ptr = np.concatenate(([0], np.cumsum(counts)))
        self._row_of_nz = np.repeat(np.arange(m, dtype=np.int64), counts)
        self._col_of_nz = np.concatenate([d.cols for d in data]) if m else np.zeros(0, dtype=np.int64)
        vals = np.concatenate([d.vals for d in data]) if m else np.zeros(0)
        self._norms = np.array([d.norm for d in data], dtype=np.float64)
        self._cosines = np.array([d.cosine for d in data], dtype=np.float64)
        self._coef_normed = vals / self._norms[self._row_of_nz] if m else vals
        self._rows = rows
        self._split_key: Any = None

    def _split(self, has_lhs: np.ndarray, has_rhs: np.ndarray) -> None:
        """Edges of the split constraints; cached while the finite sides stay the same."""
        key = (has_lhs.tobytes(), has_rhs.tobytes())
        if key == self._split_key:
            return
        lhs_rows, rhs_rows = np.flatnonzero(has_lhs), np.flatnonzero(has_rhs)
        m = has_lhs.size
        new_index = np.full((2, m), -1, dtype=np.int64)
        new_index[0, lhs_rows] = np.arange(lhs_rows.size)
        new_index[1, rhs_rows] = lhs_rows.size + np.arange(rhs_rows.size)
        lhs_nz = has_lhs[self._row_of_nz]
        rhs_nz = has_rhs[self._row_of_nz]
        cons = np.concatenate((new_index[0, self._row_of_nz[lhs_nz]], new_index[1, self._row_of_nz[rhs_nz]]))
        var = np.concatenate((self._col_of_nz[lhs_nz], self._col_of_nz[rhs_nz]))
        coef = np.concatenate((-self._coef_normed[lhs_nz], self._coef_normed[rhs_nz]))
        self._edge_index = np.ascontiguousarray(np.stack((cons, var)))
        self._edge_features = coef.astype(np.float32).reshape(-1, 1)
        self._lhs_rows, self._rhs_rows = lhs_rows, rhs_rows
        self._split_key = key

    # ------------------------------------------------------------------ public

    def variables(self) -> list:
        """The ``pyscipopt`` variable of each index of the variable axis (LP column order)."""
        return self._vars

    @property
    def n_variables(self) -> int:
        return len(self._vars)

    def observe(self, model: Any, constraints: bool = True) -> Observation:
        """The observation at the current node (call from ``branchexeclp``).

        With ``constraints=False`` only the variable features and candidates are read (the hybrid
        policy's nodes); the constraint features and edges are then empty.
        """
        from pyscipopt.scip import Column, Row, Variable

        cols = model.getLPColsData()
        n = len(cols)
        if n != len(self._cols) or cols != self._cols:
            self._build_columns(model)
            cols = self._cols
        if constraints:
            rows = model.getLPRowsData()
            if len(rows) != len(self._rows) or rows != self._rows:
                self._build_rows(model, rows)
        inf = self._infinity
        nlps = float(model.getNLPs()) + 5.0

        # ---- variables
        x = _floats(Column.getPrimsol, cols, n)
        lb = _floats(Column.getLb, cols, n)
        ub = _floats(Column.getUb, cols, n)
        age = _floats(Column.getAge, cols, n)
        redcost = _floats(model.getColRedCost, cols, n)
        basis = np.fromiter(map(_BASIS.__getitem__, map(Column.getBasisStatus, cols)), dtype=np.int64, count=n)
        has_lb = np.abs(lb) < inf
        has_ub = np.abs(ub) < inf
        eps = self._epsilon
        frac = x - np.floor(x + self._feastol)
        frac[self._continuous] = 0.0
        np.clip(frac, 0.0, 1.0, out=frac)
        key = (model.getNSolsFound(), model.getNBestSolsFound())
        if key != self._incumbent_key:
            self._incumbent_key = key
            if model.getNSols() > 0:
                sol = model.getBestSol()
                get = model.getSolVal
                self._incumbent[:, 0] = [get(sol, v) for v in self._vars]
                self._incumbent[:, 1] = _floats(Variable.getAvgSol, self._vars, n)
            else:
                self._incumbent[:] = 0.0
        vf = np.empty((n, N_VARIABLE_FEATURES), dtype=np.float32)
        vf[:, :5] = self._static_vars
        vf[:, 5] = has_lb
        vf[:, 6] = has_ub
        vf[:, 7] = has_lb & (np.abs(x - lb) <= eps * np.maximum(1.0, np.abs(lb)))
        vf[:, 8] = has_ub & (np.abs(x - ub) <= eps * np.maximum(1.0, np.abs(ub)))
        vf[:, 9] = frac
        vf[:, 10:14] = 0.0
        vf[np.arange(n), 10 + basis] = 1.0
        vf[:, 14] = redcost / self._obj_norm
        vf[:, 15] = age / nlps
        vf[:, 16] = x
        vf[:, 17:19] = self._incumbent

        candidates = self._candidates(model)
        if not constraints:
            return Observation(constraint_features=np.empty((0, N_CONSTRAINT_FEATURES), dtype=np.float32),
                               edge_index=np.empty((2, 0), dtype=np.int64),
                               edge_features=np.empty((0, N_EDGE_FEATURES), dtype=np.float32),
                               variable_features=vf, candidates=candidates)

        # ---- constraints
        m = len(rows)
        lhs = _floats(Row.getLhs, rows, m)
        rhs = _floats(Row.getRhs, rows, m)
        const = _floats(Row.getConstant, rows, m)
        activity = _floats(model.getRowLPActivity, rows, m)
        dual = _floats(Row.getDualsol, rows, m)
        rage = _floats(Row.getAge, rows, m)
        has_lhs = lhs > -inf
        has_rhs = rhs < inf
        self._split(has_lhs, has_rhs)
        L, R = self._lhs_rows, self._rhs_rows
        norms = self._norms
        cf = np.empty((L.size + R.size, N_CONSTRAINT_FEATURES), dtype=np.float32)
        cf[:, 0] = np.concatenate((-self._cosines[L], self._cosines[R]))
        cf[:, 1] = np.concatenate((-(lhs[L] - const[L]) / norms[L], (rhs[R] - const[R]) / norms[R]))
        tight_l = np.abs(activity[L] - lhs[L]) <= eps * np.maximum(1.0, np.abs(lhs[L]))
        tight_r = np.abs(activity[R] - rhs[R]) <= eps * np.maximum(1.0, np.abs(rhs[R]))
        cf[:, 2] = np.concatenate((tight_l, tight_r))
        scaled = dual / (norms * self._obj_norm)
        cf[:, 3] = np.concatenate((-scaled[L], scaled[R]))
        cf[:, 4] = np.concatenate((rage[L], rage[R])) / nlps

        return Observation(
            constraint_features=cf,
            edge_index=self._edge_index,
            edge_features=self._edge_features,
            variable_features=vf,
            candidates=candidates,
        )

    def _candidates(self, model: Any) -> np.ndarray:
        """The LP branching candidates of highest priority, as variable-axis indices."""
        from pyscipopt.scip import Variable

        cands, _, _, _, npriocands, _ = model.getLPBranchCands()
        index = np.fromiter(map(Variable.getIndex, cands[:npriocands]), dtype=np.int64, count=npriocands)
        known = index < self._pos_of_index.size
        candidates = self._pos_of_index[np.where(known, index, 0)]
        if not known.all() or (candidates < 0).any():  # a candidate that is not an LP column (should not happen)
            candidates = np.array([c.getCol().getLPPos() for c in cands[:npriocands]], dtype=np.int64)
        return candidates.astype(np.int64, copy=False)
