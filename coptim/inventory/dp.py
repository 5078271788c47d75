"""Exact optimum of the single-store lost-sales problem by relative value iteration.

Model (Zipkin 2008 convention). At the start of a period the store sees its on-hand
stock ``x0`` (the order due this period has already arrived) and the outstanding orders
``x1 .. x_{L-1}`` (``x_j`` arrives in ``j`` periods). It orders ``q``, which arrives in
``L`` periods. Demand ``D`` then occurs; unmet demand is lost. The period costs
``h (x0 - D)^+ + p (D - x0)^+`` and the next state is ``((x0 - D)^+ + x1, x2, .., x_{L-1}, q)``.

The state space is truncated to a box: on-hand ``0 .. max_on_hand`` and orders
``0 .. max_order``; a next on-hand beyond the box is clipped to its edge. The box is
chosen from the demand distribution so that the optimal policy never comes near it.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from coptim.errors import InputError

#: Largest number of states the solver accepts (keeps memory to a few hundred MB).
MAX_STATES = 3_000_000


@dataclass(frozen=True)
class LostSalesDP:
    """Parameters of one single-store lost-sales DP.

    Parameters
    ----------
    mean_demand
        Mean of the Poisson demand per period.
    lead_time
        Lead time ``L`` in periods, 1 or more.
    holding_cost, lost_sales_cost
        ``h`` and ``p`` per unit and period.
    max_on_hand, max_order
        Truncation of the state space; None picks them from the demand distribution.
    """

    mean_demand: float
    lead_time: int
    holding_cost: float
    lost_sales_cost: float
    max_on_hand: int | None = None
    max_order: int | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.mean_demand) and self.mean_demand > 0):
            raise InputError(f"mean demand must be a positive finite number, got {self.mean_demand}")
        if not isinstance(self.lead_time, int) or self.lead_time < 1:
            raise InputError(f"lead time must be an integer of at least 1, got {self.lead_time!r}")
        for name in ("holding_cost", "lost_sales_cost"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise InputError(f"{name.replace('_', ' ')} must be a non-negative finite number, got {value}")
        on_hand, order = self.box()
        states = (on_hand + 1) * (order + 1) ** (self.lead_time - 1)
        if states > MAX_STATES:
            raise InputError(
                f"the lost-sales DP with lead time {self.lead_time} and mean demand {self.mean_demand} needs "
                f"{states} states, more than this solver holds ({MAX_STATES}); use a shorter lead time "
                "or a smaller mean demand"
            )

    def box(self) -> tuple[int, int]:
        """The truncation ``(max_on_hand, max_order)`` actually used."""
        ratio = self.lost_sales_cost / max(self.lost_sales_cost + self.holding_cost, 1e-12)
        # Inventory never needs to exceed the newsvendor level over L + 1 periods by much.
        lt_mean = self.mean_demand * (self.lead_time + 1)
        level = _poisson_quantile(lt_mean, min(ratio, 1 - 1e-4)) + 3
        on_hand = self.max_on_hand if self.max_on_hand is not None else int(level)
        # Single orders stay close to one period's demand.
        order = self.max_order if self.max_order is not None else int(_poisson_quantile(self.mean_demand, 0.9995) + 2)
        if on_hand < 1 or order < 1:
            raise InputError("the DP truncation bounds must be at least 1")
        return on_hand, min(order, on_hand)


@dataclass(frozen=True)
class DPSolution:
    """Result of :func:`solve_lost_sales`.

    ``policy[x0, x1, .., x_{L-1}]`` is the optimal order; ``cost`` the optimal average cost per
    period, known to lie in ``[lower_bound, upper_bound]`` (relative value iteration bounds).
    """

    params: LostSalesDP
    cost: float
    lower_bound: float
    upper_bound: float
    policy: np.ndarray
    iterations: int
    time_s: float

    def order(self, on_hand: np.ndarray, pipeline: np.ndarray) -> np.ndarray:
        """Optimal orders for a batch of states (clipped into the truncated box).

        Parameters
        ----------
        on_hand
            Shape ``(B,)``.
        pipeline
            Shape ``(B, L - 1)``; column ``j`` arrives in ``j + 1`` periods.
        """
        on_hand_max, order_max = self.params.box()
        idx = [np.clip(np.rint(on_hand).astype(np.int64), 0, on_hand_max)]
        for j in range(self.params.lead_time - 1):
            idx.append(np.clip(np.rint(pipeline[:, j]).astype(np.int64), 0, order_max))
        return self.policy[tuple(idx)]

    def summary(self) -> dict:
        """JSON-ready figures (no policy table)."""
        out = asdict(self.params)
        out.update(
            cost=self.cost,
            lower_bound=self.lower_bound,
            upper_bound=self.upper_bound,
            iterations=self.iterations,
            time_s=self.time_s,
            box=list(self.params.box()),
            states=int(self.policy.size),
        )
        return out


def _poisson_pmf(mean: float, size: int) -> np.ndarray:
    k = np.arange(size)
    logp = k * math.log(mean) - mean - np.array([math.lgamma(i + 1) for i in k])
    return np.exp(logp)


def _poisson_quantile(mean: float, q: float) -> int:
    size = int(mean + 20 * math.sqrt(mean) + 30)
    cdf = np.cumsum(_poisson_pmf(mean, size))
    return int(np.searchsorted(cdf, q))


def solve_lost_sales(
    params: LostSalesDP, tol: float = 1e-4, max_iterations: int = 20_000
) -> DPSolution:
    """Solve the lost-sales DP by relative value iteration.

    Parameters
    ----------
    params
        The problem and its truncation.
    tol
        Stop when the bounds on the optimal average cost are within ``tol`` of each other.
    max_iterations
        Give up (raise) after this many iterations.

    Returns
    -------
    DPSolution
        Average cost (midpoint of the bounds), bounds and the optimal order table.
    """
    start = time.perf_counter()
    L = params.lead_time
    h, p, mu = params.holding_cost, params.lost_sales_cost, params.mean_demand
    X, Q = params.box()
    nx, nq = X + 1, Q + 1
    # Demand distribution with an exact tail: P(D >= X) folded into the last entry.
    pmf = _poisson_pmf(mu, nx + 1)[:nx]
    pmf[-1] = max(0.0, 1.0 - pmf[:-1].sum())
    # M[x0, m] = P((x0 - D)^+ = m).
    M = np.zeros((nx, nx))
    for x0 in range(nx):
        M[x0, 1 : x0 + 1] = pmf[:x0][::-1]
        M[x0, 0] = max(0.0, 1.0 - M[x0, 1:].sum())
    # Expected one-period cost for each on-hand level (demand tail included exactly).
    cost = _exact_cost(mu, h, p, nx)
    # Index of the next on-hand (m + x1) clipped into the box: shape (nx, nq).
    nxt = np.minimum(np.arange(nx)[:, None] + np.arange(nq)[None, :], X)
    shape = (nx,) + (nq,) * (L - 1)
    V = np.zeros(shape)
    lower = upper = float("nan")
    for it in range(1, max_iterations + 1):
        H = _expected_next(V, M, nxt, L)  # shape (nx, nq[x1]) + (nq,)*(L-2) + (nq[q],)
        best = H.min(axis=-1)
        newV = cost.reshape((nx,) + (1,) * (L - 1)) + best
        diff = newV - V
        lower, upper = float(diff.min()), float(diff.max())
        V = newV - newV.flat[0]
        if upper - lower < tol:
            break
    else:
        raise InputError(f"relative value iteration did not converge in {max_iterations} iterations")
    policy = _expected_next(V, M, nxt, L).argmin(axis=-1).astype(np.int16)
    return DPSolution(
        params=params,
        cost=0.5 * (lower + upper),
        lower_bound=lower,
        upper_bound=upper,
        policy=policy,
        iterations=it,
        time_s=time.perf_counter() - start,
    )


def _exact_cost(mu: float, h: float, p: float, nx: int) -> np.ndarray:
    """E[h (x - D)^+ + p (D - x)^+] for x = 0 .. nx-1 with Poisson(mu) demand, no truncation."""
    size = nx + int(mu + 20 * math.sqrt(mu) + 40)
    pmf = _poisson_pmf(mu, size)
    d = np.arange(size)
    x = np.arange(nx)[:, None]
    return (pmf * (h * np.maximum(x - d, 0) + p * np.maximum(d - x, 0))).sum(axis=1)


def _expected_next(V: np.ndarray, M: np.ndarray, nxt: np.ndarray, L: int) -> np.ndarray:
    """H[x0, x1, .., x_{L-1}, q] = sum_m M[x0, m] V[min(m + x1, X), x2, .., x_{L-1}, q]."""
    nx = V.shape[0]
    if L == 1:
        # State is x0 only; the next on-hand is (x0 - D)^+ + q.
        nq = nxt.shape[1]
        # W[m, q] = V[min(m + q, X)]
        W = V[nxt]  # (nx, nq)
        return M @ W  # (nx, nq)
    rest = V.shape[1:]  # (nq,)*(L-1): x2 .. x_{L-1}, q
    nq = rest[0]
    flat = V.reshape(nx, -1)
    out = np.empty((nx, nq) + rest)
    for x1 in range(nq):
        shifted = flat[nxt[:, x1]]  # (nx[m], prod(rest))
        out[:, x1] = (M @ shifted).reshape((nx,) + rest)
    return out


def reference_cost(
    mean_demand: float,
    lead_time: int,
    holding_cost: float,
    lost_sales_cost: float,
    cache_dir: str | Path | None = None,
) -> dict:
    """Optimal average cost of a lost-sales setting, cached as JSON in ``cache_dir``.

    Returns
    -------
    dict
        :meth:`DPSolution.summary` of the solution.
    """
    params = LostSalesDP(mean_demand, lead_time, holding_cost, lost_sales_cost)
    if cache_dir is not None:
        key = f"dp-mu{mean_demand:g}-L{lead_time}-h{holding_cost:g}-p{lost_sales_cost:g}.json"
        path = Path(cache_dir) / key
        if path.exists():
            return json.loads(path.read_text())
    summary = solve_lost_sales(params).summary()
    if cache_dir is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def backlog_base_stock_optimum(mean_demand: float, lead_time: int, holding_cost: float, backlog_cost: float) -> tuple[int, float]:
    """Optimal base-stock level and cost of a single store with backlogged Poisson demand.

    With backlogs the inventory position after ordering is ``S`` every period, so the net
    stock at the end of the period in which an order arrives is ``S - D`` with ``D`` the
    demand over ``L + 1`` periods; the best ``S`` is the smallest with
    ``P(D <= S) >= p / (p + h)`` and the cost ``E[h (S - D)^+ + p (D - S)^+]`` is exact.

    Returns
    -------
    level, cost
    """
    LostSalesDP(mean_demand, lead_time, holding_cost, backlog_cost)  # validates the numbers
    mu = mean_demand * (lead_time + 1)
    size = int(mu + 20 * math.sqrt(mu) + 40)
    pmf = _poisson_pmf(mu, size)
    ratio = backlog_cost / (backlog_cost + holding_cost) if backlog_cost + holding_cost > 0 else 0.0
    level = int(np.searchsorted(np.cumsum(pmf), ratio))
    d = np.arange(size)
    cost = float(np.sum(pmf * (holding_cost * np.maximum(level - d, 0) + backlog_cost * np.maximum(d - level, 0))))
    return level, cost
