"""2-opt and Or-opt local search for the TSP, as pure functions of (tour, distance matrix).

Both work in two phases. First, neighbour lists (the ``neighbours`` nearest nodes of each
node) and a queue of "active" nodes (don't-look bits): a node is examined, and re-examined
only after a move touched it; for one node all its candidate moves are evaluated at once
with numpy. Second, an exhaustive check of every move (all ``n(n-1)/2`` edge pairs for
2-opt; all segments and insertion edges for Or-opt), vectorised in blocks of rows; if it
finds an improving move, that move is applied and the first phase resumes. So, unless
stopped by a time or move limit, the result is a true local optimum, not only one with
respect to the neighbour lists.

:func:`two_opt` exchanges two edges (reversing a path). :func:`or_opt` moves a segment of
1 to 3 nodes elsewhere, in either orientation. :func:`local_search` alternates the two.

The functions never modify their arguments and accept integer or float matrices; learned
solvers reuse them to improve their tours.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Sequence

import numpy as np

from coptim.errors import InputError
from coptim.problems.tsp import TSPInstance, as_instance
from coptim.result import SolverOutput
from coptim.solvers import register
from coptim.solvers.tsp_construction import _nearest_neighbour, check_matrix

DEFAULT_NEIGHBOURS = 10
_BLOCK_ENTRIES = 2_000_000  # entries of one block of the exhaustive 2-opt check


# ------------------------------------------------------------------------------------------
# Helpers


def _prepare(tour: Sequence[int] | np.ndarray, dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = check_matrix(dist)
    n = d.shape[0]
    try:
        t = np.array(tour)
    except (TypeError, ValueError):
        raise InputError("tour must be a sequence of node indices") from None
    if t.ndim != 1 or t.size != n or (t.size and not np.issubdtype(t.dtype, np.integer)):
        raise InputError(f"tour must be a permutation of 0..{n - 1} (the matrix has {n} rows), got {t.size} entries")
    t = t.astype(np.int64)
    if t.min() < 0 or t.max() >= n or np.unique(t).size != n:
        raise InputError(f"tour must be a permutation of 0..{n - 1}; it has repeated or out-of-range nodes")
    return t, d


def _tolerance(dist: np.ndarray) -> float:
    """Smallest gain accepted as an improvement: 0 for integer matrices, relative for floats."""
    if np.issubdtype(dist.dtype, np.integer):
        return 0.0
    return 1e-9 * max(1.0, float(np.abs(dist).max()))


def _check_options(time_limit: float | None, max_iter: int | None, neighbours: int) -> None:
    if time_limit is not None and not (isinstance(time_limit, (int, float)) and time_limit > 0):
        raise InputError(f"time_limit must be a positive number of seconds or None, got {time_limit!r}")
    if max_iter is not None and (isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 0):
        raise InputError(f"max_iter must be a non-negative integer or None, got {max_iter!r}")
    if isinstance(neighbours, bool) or not isinstance(neighbours, int) or neighbours < 1:
        raise InputError(f"neighbours must be a positive integer, got {neighbours!r}")


def neighbour_lists(dist: np.ndarray, k: int = DEFAULT_NEIGHBOURS) -> np.ndarray:
    """The ``k`` nearest other nodes of every node, nearest first.

    Parameters
    ----------
    dist
        ``(n, n)`` distance matrix.
    k
        List length; capped at ``n - 1``.

    Returns
    -------
    numpy.ndarray
        ``(n, min(k, n - 1))`` int64 node indices.
    """
    d = check_matrix(dist)
    n = d.shape[0]
    k = min(int(k), n - 1)
    out = np.empty((n, k), dtype=np.int64)
    rows = max(1, _BLOCK_ENTRIES // n)
    for start in range(0, n, rows):
        block = d[start:start + rows].astype(np.float64)
        idx = np.arange(block.shape[0])
        block[idx, start + idx] = np.inf  # never a neighbour of itself
        part = np.argpartition(block, k - 1, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(block, part, axis=1), axis=1, kind="stable")
        out[start:start + rows] = np.take_along_axis(part, order, axis=1)
    return out


def _reverse(t: np.ndarray, pos: np.ndarray, i: int, j: int) -> None:
    """Reverse the cyclic position range ``i..j`` in place (or its complement, whichever is shorter)."""
    n = t.size
    length = (j - i) % n + 1
    if 2 * length > n:
        i, j, length = (j + 1) % n, (i - 1) % n, n - length
    if length < 2:
        return
    if i + length <= n:
        seg = t[i:i + length][::-1].copy()
        t[i:i + length] = seg
        pos[seg] = np.arange(i, i + length)
    else:
        idx = (i + np.arange(length)) % n
        seg = t[idx][::-1]
        t[idx] = seg
        pos[seg] = idx


def _rotate_to(t: np.ndarray, first: int) -> np.ndarray:
    return np.roll(t, -int(np.flatnonzero(t == first)[0]))


def _length(t: np.ndarray, dist: np.ndarray) -> float:
    return dist[t, np.roll(t, -1)].sum()


class _Budget:
    """Deadline and move counter shared by the search loops."""

    def __init__(self, time_limit: float | None, max_iter: int | None):
        self.deadline = None if time_limit is None else time.perf_counter() + time_limit
        self.moves_left = max_iter
        self.moves = 0
        self.exhausted = False

    def spent(self) -> bool:
        if self.moves_left is not None and self.moves >= self.moves_left:
            self.exhausted = True
        elif self.deadline is not None and time.perf_counter() > self.deadline:
            self.exhausted = True
        return self.exhausted


# ------------------------------------------------------------------------------------------
# 2-opt


def _two_opt_node(a: int, t: np.ndarray, pos: np.ndarray, dist: np.ndarray, near: np.ndarray,
                  tol: float) -> tuple[float, int, int]:
    """Best 2-opt move involving one of the two tour edges at ``a`` and a neighbour of ``a``.

    Returns ``(gain, i, j)``: removing the edges leaving positions ``i`` and ``j``.
    """
    n = t.size
    i = int(pos[a])
    succ_a, pred_a = t[(i + 1) % n], t[i - 1]
    cand = near[a]
    pc = pos[cand]
    succ_c = t[(pc + 1) % n]
    pred_c = t[pc - 1]
    d_ac = dist[a, cand]
    # Edges (a, a+) and (c, c+) become (a, c) and (a+, c+).
    gain_succ = dist[a, succ_a] + dist[cand, succ_c] - d_ac - dist[succ_a, succ_c]
    # Edges (a-, a) and (c-, c) become (a, c) and (a-, c-).
    gain_pred = dist[pred_a, a] + dist[pred_c, cand] - d_ac - dist[pred_a, pred_c]
    ks, kp = int(np.argmax(gain_succ)), int(np.argmax(gain_pred))
    if gain_succ[ks] >= gain_pred[kp]:
        if gain_succ[ks] > tol:
            return float(gain_succ[ks]), i, int(pc[ks])
    elif gain_pred[kp] > tol:
        return float(gain_pred[kp]), (i - 1) % n, int(pc[kp] - 1) % n
    return 0.0, -1, -1


def _best_exhaustive_move(t: np.ndarray, dist: np.ndarray, budget: _Budget) -> tuple[float, int, int]:
    """Best 2-opt move over all pairs of tour edges, in row blocks; ``(gain, i, j)``."""
    n = t.size
    nxt = np.roll(t, -1)
    edge = dist[t, nxt]
    best = (0.0, -1, -1)
    rows = max(1, _BLOCK_ENTRIES // n)
    for start in range(0, n, rows):
        if budget.spent():
            break
        stop = min(n, start + rows)
        gain = (edge[start:stop, None] + edge[None, :]
                - dist[np.ix_(t[start:stop], t)] - dist[np.ix_(nxt[start:stop], nxt)])
        local = np.arange(stop - start)
        gain[local, start + local] = 0  # an edge paired with itself is no move
        flat = int(np.argmax(gain))
        r, c = divmod(flat, n)
        if gain[r, c] > best[0]:
            best = (float(gain[r, c]), start + r, c)
    return best


def _two_opt(t: np.ndarray, dist: np.ndarray, budget: _Budget, near: np.ndarray) -> np.ndarray:
    n = t.size
    t = t.copy()
    if n < 4:  # every tour of 3 or fewer nodes is optimal
        return t
    pos = np.empty(n, dtype=np.int64)
    pos[t] = np.arange(n)
    tol = _tolerance(dist)
    queue = deque(t.tolist())
    queued = np.ones(n, dtype=bool)

    def activate(*nodes: int) -> None:
        for v in nodes:
            if not queued[v]:
                queued[v] = True
                queue.append(v)

    while not budget.spent():
        while queue:
            if budget.spent():
                return t
            a = queue.popleft()
            queued[a] = False
            gain, i, j = _two_opt_node(a, t, pos, dist, near, tol)
            if gain > tol:
                ends = (int(t[i]), int(t[(i + 1) % n]), int(t[j]), int(t[(j + 1) % n]))
                _reverse(t, pos, (i + 1) % n, j)
                budget.moves += 1
                activate(a, *ends)
        gain, i, j = _best_exhaustive_move(t, dist, budget)
        if gain <= tol or budget.exhausted:
            break
        ends = (int(t[i]), int(t[(i + 1) % n]), int(t[j]), int(t[(j + 1) % n]))
        _reverse(t, pos, (i + 1) % n, j)
        budget.moves += 1
        activate(*ends)
    return t


def _run(search, tour, dist, time_limit, max_iter, neighbours) -> np.ndarray:
    """Validate, build neighbour lists, run ``search`` and rotate back to the tour's first node."""
    _check_options(time_limit, max_iter, neighbours)
    t, d = _prepare(tour, dist)
    near = neighbour_lists(d, neighbours)
    return _rotate_to(search(t, d, _Budget(time_limit, max_iter), near), int(t[0]))


def two_opt(
    tour: Sequence[int] | np.ndarray,
    dist: np.ndarray,
    *,
    time_limit: float | None = None,
    max_iter: int | None = None,
    neighbours: int = DEFAULT_NEIGHBOURS,
) -> np.ndarray:
    """Improve ``tour`` with 2-opt moves until no move shortens it.

    Parameters
    ----------
    tour
        A permutation of ``0..n-1``.
    dist
        ``(n, n)`` symmetric distance matrix (integer or float).
    time_limit
        Seconds; stop early (with the best tour so far) when it passes. None: no limit.
    max_iter
        Stop after this many improving moves. None: no limit.
    neighbours
        Length of the neighbour lists examined first.

    Returns
    -------
    numpy.ndarray
        The improved tour, starting with the same node as ``tour``. Unless stopped early it
        is 2-optimal: no pair of tour edges can be exchanged to shorten it.

    Raises
    ------
    InputError
        If ``tour`` is not a permutation matching ``dist`` or an option is invalid.
    """
    return _run(_two_opt, tour, dist, time_limit, max_iter, neighbours)


# ------------------------------------------------------------------------------------------
# Or-opt


def _or_opt_node(a: int, t: np.ndarray, pos: np.ndarray, dist: np.ndarray, near: np.ndarray,
                 tol: float) -> tuple[float, int, int, int, bool]:
    """Best move of a segment starting at ``a`` (length 1..3) next to a neighbour of its ends.

    Returns ``(gain, length, u, v, reverse)``: insert the segment between tour neighbours
    ``u`` and ``v`` (``v`` after ``u``), reversed or not.
    """
    n = t.size
    i = int(pos[a])
    best = (0.0, 0, -1, -1, False)
    for length in (1, 2, 3):
        if n < length + 3:
            break
        first, last = a, int(t[(i + length - 1) % n])
        prev, after = int(t[i - 1]), int(t[(i + length) % n])
        cand = np.concatenate([near[first], near[last]])
        pc = pos[cand]
        u = np.concatenate([cand, t[pc - 1]])
        v = np.concatenate([t[(pc + 1) % n], cand])
        inside_u = (pos[u] - i) % n < length
        inside_v = (pos[v] - i) % n < length
        ok = ~(inside_u | inside_v)
        if not ok.any():
            continue
        u, v = u[ok], v[ok]
        removed = dist[prev, first] + dist[last, after] - dist[prev, after] + dist[u, v]
        gain_fwd = removed - dist[u, first] - dist[last, v]
        gain_rev = removed - dist[u, last] - dist[first, v]
        kf, kr = int(np.argmax(gain_fwd)), int(np.argmax(gain_rev))
        if gain_fwd[kf] >= gain_rev[kr]:
            gain, k, rev = gain_fwd[kf], kf, False
        else:
            gain, k, rev = gain_rev[kr], kr, True
        if gain > tol and gain > best[0]:
            best = (float(gain), length, int(u[k]), int(v[k]), rev)
    return best


def _move_segment(t: np.ndarray, pos: np.ndarray, i: int, length: int, u: int, reverse: bool) -> np.ndarray:
    """New tour with the segment at positions ``i..i+length-1`` moved right after node ``u``."""
    n = t.size
    seg = t[(i + np.arange(length)) % n]
    rest = t[(i + length + np.arange(n - length)) % n]  # starts after the segment, ends before it
    at = int((pos[u] - (i + length)) % n) + 1
    out = np.concatenate([rest[:at], seg[::-1] if reverse else seg, rest[at:]])
    pos[out] = np.arange(n)
    return out


def _best_exhaustive_segment_move(t: np.ndarray, dist: np.ndarray,
                                  budget: _Budget) -> tuple[float, int, int, int, bool]:
    """Best Or-opt move over all segments and all insertion edges; ``(gain, i, length, u, reverse)``.

    The segment is ``t[i .. i+length-1]`` (cyclic); it goes between ``u`` and its successor.
    """
    n = t.size
    nxt = np.roll(t, -1)
    edge = dist[t, nxt]
    best = (0.0, -1, 0, -1, False)
    rows = max(1, _BLOCK_ENTRIES // n)
    offsets = np.arange(n)
    for length in (1, 2, 3):
        if n < length + 3:
            break
        first = t
        last = np.roll(t, -(length - 1))
        prev = np.roll(t, 1)
        after = np.roll(t, -length)
        base = dist[prev, first] + dist[last, after] - dist[prev, after]
        for start in range(0, n, rows):
            if budget.spent():
                return best
            stop = min(n, start + rows)
            f, la = first[start:stop], last[start:stop]
            fwd = dist[np.ix_(f, t)] + dist[np.ix_(la, nxt)]  # u = t[k] then first .. last then t[k+1]
            rev = dist[np.ix_(la, t)] + dist[np.ix_(f, nxt)]
            gain = base[start:stop, None] + edge[None, :] - np.minimum(fwd, rev)
            # Edges k = i-1 .. i+length-1 touch the segment.
            touching = (offsets[None, :] - np.arange(start, stop)[:, None] + 1) % n <= length
            gain[touching] = 0
            flat = int(np.argmax(gain))
            r, k = divmod(flat, n)
            if gain[r, k] > best[0]:
                best = (float(gain[r, k]), start + r, length, int(t[k]), bool(rev[r, k] < fwd[r, k]))
    return best


def _or_opt(t: np.ndarray, dist: np.ndarray, budget: _Budget, near: np.ndarray) -> np.ndarray:
    n = t.size
    t = t.copy()
    if n < 4:
        return t
    pos = np.empty(n, dtype=np.int64)
    pos[t] = np.arange(n)
    tol = _tolerance(dist)
    queue = deque(t.tolist())
    queued = np.ones(n, dtype=bool)

    def apply(i: int, length: int, u: int, reverse: bool) -> np.ndarray:
        v = int(t[(pos[u] + 1) % n])
        touched = (int(t[i]), int(t[(i + length - 1) % n]), int(t[i - 1]), int(t[(i + length) % n]), u, v)
        new = _move_segment(t, pos, i, length, u, reverse)
        budget.moves += 1
        for node in touched:
            if not queued[node]:
                queued[node] = True
                queue.append(node)
        return new

    while not budget.spent():
        while queue:
            if budget.spent():
                return t
            a = queue.popleft()
            queued[a] = False
            gain, length, u, _, reverse = _or_opt_node(a, t, pos, dist, near, tol)
            if gain > tol:
                t = apply(int(pos[a]), length, u, reverse)
        gain, i, length, u, reverse = _best_exhaustive_segment_move(t, dist, budget)
        if gain <= tol or budget.exhausted:
            break
        t = apply(i, length, u, reverse)
    return t


def or_opt(
    tour: Sequence[int] | np.ndarray,
    dist: np.ndarray,
    *,
    time_limit: float | None = None,
    max_iter: int | None = None,
    neighbours: int = DEFAULT_NEIGHBOURS,
) -> np.ndarray:
    """Improve ``tour`` by moving segments of 1 to 3 consecutive nodes elsewhere.

    Moves next to the ``neighbours`` nearest nodes of a segment's ends are tried first; an
    exhaustive check over all segments and insertion edges then confirms the local optimum.

    Parameters
    ----------
    tour
        A permutation of ``0..n-1``.
    dist
        ``(n, n)`` symmetric distance matrix (integer or float).
    time_limit
        Seconds; stop early when it passes. None: no limit.
    max_iter
        Stop after this many improving moves. None: no limit.
    neighbours
        Length of the neighbour lists.

    Returns
    -------
    numpy.ndarray
        The improved tour, starting with the same node as ``tour``. Unless stopped early no
        segment of 1 to 3 nodes can be moved elsewhere (in either orientation) to shorten it.

    Raises
    ------
    InputError
        If ``tour`` is not a permutation matching ``dist`` or an option is invalid.
    """
    return _run(_or_opt, tour, dist, time_limit, max_iter, neighbours)


# ------------------------------------------------------------------------------------------
# Alternation


def _local_search(t: np.ndarray, dist: np.ndarray, budget: _Budget, near: np.ndarray) -> np.ndarray:
    t = _two_opt(t, dist, budget, near)
    while not budget.spent():
        before = budget.moves
        t = _or_opt(t, dist, budget, near)
        if budget.moves == before or budget.exhausted:
            break
        t = _two_opt(t, dist, budget, near)
    return t


def local_search(
    tour: Sequence[int] | np.ndarray,
    dist: np.ndarray,
    time_limit: float | None = None,
    *,
    max_iter: int | None = None,
    neighbours: int = DEFAULT_NEIGHBOURS,
) -> np.ndarray:
    """Alternate :func:`two_opt` and :func:`or_opt` until neither improves the tour.

    Parameters
    ----------
    tour
        A permutation of ``0..n-1``.
    dist
        ``(n, n)`` symmetric distance matrix.
    time_limit
        Seconds for the whole search; None: no limit.
    max_iter
        Total number of improving moves allowed; None: no limit.
    neighbours
        Length of the neighbour lists.

    Returns
    -------
    numpy.ndarray
        The improved tour (2-optimal and Or-opt-optimal unless stopped early), starting with
        the same node as ``tour``.

    Raises
    ------
    InputError
        If ``tour`` is not a permutation matching ``dist`` or an option is invalid.
    """
    return _run(_local_search, tour, dist, time_limit, max_iter, neighbours)


# ------------------------------------------------------------------------------------------
# Registered solvers


def _improve(instance: TSPInstance, time_limit: float | None, seed: int, neighbours: int, search) -> SolverOutput:
    inst = as_instance(instance)
    _check_options(time_limit, None, neighbours)
    dist = inst.distance_matrix()
    budget = _Budget(time_limit, None)
    start = int(seed) % inst.n
    initial, complete = _nearest_neighbour(dist, start, budget.deadline)
    if complete:
        tour = _rotate_to(search(initial, dist, budget, neighbour_lists(dist, neighbours)), start)
    else:
        tour = initial
    stats = {"start": start, "initial_length": int(_length(initial, dist)), "moves": budget.moves}
    status = "time_limit" if (budget.exhausted or not complete) else "feasible"
    return SolverOutput([int(i) for i in tour], status, stats=stats)


@register("tsp", "2opt", "nearest neighbour, then 2-opt to a local optimum")
def solve_two_opt(instance: TSPInstance, *, time_limit: float | None, seed: int,
                  neighbours: int = DEFAULT_NEIGHBOURS) -> SolverOutput:
    """Nearest neighbour from node ``seed % n``, then :func:`two_opt`.

    Without a time limit it runs to a 2-opt local optimum (always finite). If the limit
    passes first the best tour so far is returned with status ``"time_limit"``.
    """
    return _improve(instance, time_limit, seed, neighbours, _two_opt)


@register("tsp", "2opt-oropt", "nearest neighbour, then 2-opt and Or-opt alternated to a local optimum")
def solve_two_opt_or_opt(instance: TSPInstance, *, time_limit: float | None, seed: int,
                         neighbours: int = DEFAULT_NEIGHBOURS) -> SolverOutput:
    """Nearest neighbour from node ``seed % n``, then :func:`local_search`; time limit as for ``2opt``."""
    return _improve(instance, time_limit, seed, neighbours, _local_search)
