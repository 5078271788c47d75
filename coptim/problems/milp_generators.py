"""The MILP benchmark classes of Gasse et al. (2019): combinatorial auctions, capacitated facility
location and maximum independent set (set cover is :func:`coptim.problems.milp.generate_setcover`).

Each generator follows the published generator's logic (Gasse et al.'s ``learn2branch``
``01_generate_instances.py``, after Leyton-Brown et al. 2000, Cornuéjols et al. 1991 and
Bergman et al. 2016), takes ``(size, rng, *, name=None, **options)`` like every coptim
generator and returns a :class:`~coptim.problems.milp.MILPInstance`.

:data:`NAMED_SIZES` gives the paper's easy / medium / hard sizes of the four classes (the
``size`` argument: rows for set cover, bids for auctions, customers for facility location,
nodes for independent set; the other dimensions follow from it by default as in the paper).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from coptim.errors import InputError

if TYPE_CHECKING:  # milp.py imports this module to register the generators
    from coptim.problems.milp import MILPInstance

#: Gasse et al.'s training (easy) and transfer (medium, hard) sizes, per generator.
NAMED_SIZES: dict[str, dict[str, int]] = {
    "setcover": {"easy": 500, "medium": 1000, "hard": 2000},  # rows (1000 columns, density 0.05)
    "cauctions": {"easy": 500, "medium": 1000, "hard": 1500},  # bids (items = bids / 5)
    "facility": {"easy": 100, "medium": 200, "hard": 400},  # customers (100 facilities, ratio 5)
    "indset": {"easy": 500, "medium": 1000, "hard": 1500},  # nodes (Barabási-Albert, affinity 4)
}


def _instance(**fields: Any) -> "MILPInstance":
    from coptim.problems.milp import MILPInstance

    return MILPInstance(**fields)


def _rng(rng: Any) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _positive_int(value: Any, what: str, minimum: int = 1) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _number(value: Any, what: str, low: float, high: float = np.inf, *, open_low: bool = False) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)) \
            or not np.isfinite(value) or value > high or (value <= low if open_low else value < low):
        bracket = "(" if open_low else "["
        raise InputError(f"{what} must be a number in {bracket}{low:g}, {high:g}], got {value!r}")
    return float(value)


def _csr(rows: list[np.ndarray], vals: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row pointers, column indices (sorted in each row) and values from one array per row."""
    counts = np.array([r.size for r in rows], dtype=np.int64)
    row_ptr = np.concatenate(([0], np.cumsum(counts)))
    if not rows:
        return row_ptr, np.zeros(0, dtype=np.int64), np.zeros(0)
    cols, coefs = [], []
    for i, r in enumerate(rows):
        order = np.argsort(r, kind="stable")
        cols.append(np.asarray(r, dtype=np.int64)[order])
        coefs.append(np.ones(r.size) if vals is None else np.asarray(vals[i], dtype=np.float64)[order])
    return row_ptr, np.concatenate(cols), np.concatenate(coefs)


# ----------------------------------------------------------------------------- combinatorial auction


def generate_cauctions(size: int, rng: np.random.Generator | int, *, n_items: int | None = None,
                       min_value: float = 1.0, max_value: float = 100.0, value_deviation: float = 0.5,
                       add_item_prob: float = 0.9, max_n_sub_bids: int = 5, additivity: float = 0.2,
                       budget_factor: float = 1.5, resale_factor: float = 0.5, compat: str = "bundle",
                       name: str | None = None) -> MILPInstance:
    """A combinatorial auction with Leyton-Brown et al.'s "arbitrary" relationships.

    ``max sum price_b x_b`` s.t. each item is sold at most once (``sum_{b owns i} x_b <= 1``),
    ``x`` binary. Items have common resale values and pairwise compatibilities; bidders are
    generated one at a time: each has private values and interests, builds an initial bundle
    (first item by interest, then while ``rand < add_item_prob`` the next item with
    probability proportional to interest times mean compatibility with the bundle), prices it
    at the sum of private values plus ``|bundle| ** (1 + additivity)``, and adds up to
    ``max_n_sub_bids`` substitutable bundles (one grown from each item of the initial bundle,
    most expensive first, kept if within ``budget_factor`` times the initial price, above
    ``resale_factor`` times its resale value and new). A bidder with more than two bids gets a
    dummy item shared by its bids (XOR); with two bids, they already share an item.

    Parameters
    ----------
    size
        Number of bids (Gasse et al.: 500, 1000, 1500).
    rng
        A numpy Generator, or a seed for one.
    n_items
        Number of items; default ``size // 5`` (100, 200, 300 in the paper).
    min_value, max_value, value_deviation, add_item_prob, max_n_sub_bids, additivity, budget_factor, resale_factor
        The generator's parameters (defaults as in the paper's code).
    compat
        ``"bundle"`` (default): the next item's weight uses its mean compatibility with the items
        already in the bundle, as described by Leyton-Brown et al. ``"reference"``: the weight
        Gasse et al.'s code computes (see Notes), which gives the instances their paper and
        later work benchmark on.
    name
        Instance name; by default ``cauctions_b<bids>_i<items>``.

    Returns
    -------
    MILPInstance
        A maximisation problem with one binary variable per bid.

    Notes
    -----
    The mean compatibility of a candidate item with the bundle averages over the bundle's
    items; Gasse et al.'s code indexes the compatibility matrix with a 0/1 integer array,
    which averages rows 0 and 1 instead (weighted by how many items are out of and in the
    bundle). This module follows the described rule unless ``compat="reference"``. The two
    give different distributions: with relpscost under Gasse et al.'s settings (SCIP 10), 10
    ``"reference"`` instances of 500 bids took 434 nodes and 8.4 s (shifted geometric means),
    20 ``"bundle"`` ones 8,689 nodes and 31.6 s (``bench/branching/bench.sh``, see the README).
    """
    n_bids = _positive_int(size, "the number of bids")
    n_items = _positive_int(n_bids // 5 if n_items is None else n_items, "the number of items", 2)
    min_value = _number(min_value, "min_value", 0.0)
    max_value = _number(max_value, "max_value", min_value)
    value_deviation = _number(value_deviation, "value_deviation", 0.0)
    add_item_prob = _number(add_item_prob, "add_item_prob", 0.0, 1.0)
    max_n_sub_bids = _positive_int(max_n_sub_bids, "max_n_sub_bids", 0)
    additivity = _number(additivity, "additivity", -1.0)
    budget_factor = _number(budget_factor, "budget_factor", 0.0)
    resale_factor = _number(resale_factor, "resale_factor", 0.0)
    if compat not in ("bundle", "reference"):
        raise InputError(f"compat must be 'bundle' or 'reference', got {compat!r}")
    rng = _rng(rng)

    values = min_value + (max_value - min_value) * rng.random(n_items)
    compats = np.triu(rng.random((n_items, n_items)), k=1)
    compats = compats + compats.T
    compats = compats / compats.sum(axis=1)  # as in the reference code (divides column j by row sum j)
    reference = compat == "reference"

    def next_item(mask: np.ndarray, interests: np.ndarray) -> int:
        if reference:  # rows 0 and 1 of the matrix, weighted by the items out of and in the bundle
            k = mask.sum()
            prob = (~mask) * interests * ((n_items - k) * compats[0] + k * compats[1]) / n_items
        else:
            prob = (~mask) * interests * compats[mask].mean(axis=0)
        total = prob.sum()
        if total <= 0:  # only zero-probability items left: pick uniformly among those not in the bundle
            prob = (~mask).astype(float)
            total = prob.sum()
        return int(rng.choice(n_items, p=prob / total))

    bids: list[tuple[np.ndarray, float]] = []
    n_dummy = 0
    while len(bids) < n_bids:
        interests = rng.random(n_items)
        private = values + max_value * value_deviation * (2 * interests - 1)
        mask = np.zeros(n_items, dtype=bool)
        mask[int(rng.choice(n_items, p=interests / interests.sum()))] = True
        while rng.random() < add_item_prob:
            if mask.all():
                break
            mask[next_item(mask, interests)] = True
        bundle = np.flatnonzero(mask)
        price = float(private[bundle].sum() + len(bundle) ** (1 + additivity))
        if price < 0:
            continue
        bidder: dict[frozenset, tuple[np.ndarray, float]] = {frozenset(bundle.tolist()): (bundle, price)}
        candidates = []
        for item in bundle:
            sub = np.zeros(n_items, dtype=bool)
            sub[item] = True
            while sub.sum() < len(bundle):
                sub[next_item(sub, interests)] = True
            sub_bundle = np.flatnonzero(sub)
            candidates.append((sub_bundle, float(private[sub_bundle].sum() + len(sub_bundle) ** (1 + additivity))))
        budget = budget_factor * price
        min_resale = resale_factor * values[bundle].sum()
        for k in np.argsort([-p for _, p in candidates], kind="stable"):
            sub_bundle, sub_price = candidates[k]
            if len(bidder) >= max_n_sub_bids + 1 or len(bids) + len(bidder) >= n_bids:
                break
            key = frozenset(sub_bundle.tolist())
            if sub_price < 0 or sub_price > budget or values[sub_bundle].sum() < min_resale or key in bidder:
                continue
            bidder[key] = (sub_bundle, sub_price)
        dummy = [n_items + n_dummy] if len(bidder) > 2 else []
        n_dummy += bool(dummy)
        for sub_bundle, sub_price in bidder.values():
            bids.append((np.concatenate((sub_bundle, np.array(dummy, dtype=np.int64))), sub_price))

    owners: list[list[int]] = [[] for _ in range(n_items + n_dummy)]
    for b, (bundle, _) in enumerate(bids):
        for item in bundle.tolist():
            owners[item].append(b)
    rows = [np.array(o, dtype=np.int64) for o in owners if o]
    labels = [i for i, o in enumerate(owners) if o]
    row_ptr, cols, coefs = _csr(rows)
    m = len(rows)
    return _instance(
        name=name if name is not None else f"cauctions_b{n_bids}_i{n_items}",
        var_names=tuple(f"x{b}" for b in range(n_bids)),
        vtypes=("binary",) * n_bids,
        lb=np.zeros(n_bids), ub=np.ones(n_bids),
        obj=np.array([p for _, p in bids]),
        row_ptr=row_ptr, col_idx=cols, coefs=coefs,
        lhs=np.full(m, -np.inf), rhs=np.ones(m),
        row_names=tuple(f"item{i}" if i < n_items else f"dummy{i - n_items}" for i in labels),
        sense="maximize",
    )


# ----------------------------------------------------------------------------- facility location


def generate_facility(size: int, rng: np.random.Generator | int, *, n_facilities: int = 100,
                      ratio: float = 5.0, name: str | None = None) -> MILPInstance:
    """A capacitated facility location instance (Cornuéjols, Sridharan and Thizy, 1991).

    Customers and facilities are uniform in the unit square; demands ``d_i`` are integers in
    [5, 35], capacities integers in [10, 160] rescaled so that total capacity is ``ratio``
    times total demand, fixed costs ``[100, 110] * sqrt(capacity) + [0, 90]`` (integers, from
    the capacities before rescaling), transportation costs ``10 * distance * d_i``.

    ``min sum_ij t_ij x_ij + sum_j f_j y_j`` s.t. ``sum_j x_ij >= 1`` (demand),
    ``sum_i d_i x_ij <= s_j y_j`` (capacity), ``sum_j s_j y_j >= sum_i d_i`` (total capacity),
    ``x_ij <= y_j`` (tightening), ``0 <= x <= 1`` continuous, ``y`` binary.

    Parameters
    ----------
    size
        Number of customers (Gasse et al.: 100, 200, 400).
    rng
        A numpy Generator, or a seed for one.
    n_facilities
        Number of facilities (default 100).
    ratio
        Total capacity over total demand (default 5).
    name
        Instance name; by default ``facility_c<customers>_f<facilities>_r<ratio>``.

    Returns
    -------
    MILPInstance
        Variables ``y_j`` then ``x_i_j`` (customer-major).
    """
    n_cust = _positive_int(size, "the number of customers")
    n_fac = _positive_int(n_facilities, "the number of facilities")
    ratio = _number(ratio, "the capacity ratio", 0.0, open_low=True)
    rng = _rng(rng)
    c_x, c_y = rng.random(n_cust), rng.random(n_cust)
    f_x, f_y = rng.random(n_fac), rng.random(n_fac)
    demands = rng.integers(5, 36, size=n_cust)
    capacities = rng.integers(10, 161, size=n_fac)
    fixed = (rng.integers(100, 111, size=n_fac) * np.sqrt(capacities) + rng.integers(0, 91, size=n_fac)).astype(int)
    total_demand = int(demands.sum())
    capacities = (capacities * ratio * total_demand / capacities.sum()).astype(int)
    if capacities.sum() < total_demand:
        raise InputError(f"capacity ratio {ratio:g} leaves total capacity below total demand; use a larger ratio")
    trans = np.sqrt((c_x[:, None] - f_x[None, :]) ** 2 + (c_y[:, None] - f_y[None, :]) ** 2) * 10 * demands[:, None]

    n_x = n_cust * n_fac
    y = np.arange(n_fac)  # binaries first: SCIP's MPS writer lists integer columns first, so files keep the order
    x = n_fac + np.arange(n_x).reshape(n_cust, n_fac)  # x[i, j]
    rows: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    names: list[str] = []
    lhs: list[float] = []
    rhs: list[float] = []
    for i in range(n_cust):
        rows.append(x[i]); vals.append(np.ones(n_fac)); names.append(f"demand_{i}"); lhs.append(1.0); rhs.append(np.inf)
    for j in range(n_fac):
        rows.append(np.append(x[:, j], y[j]))
        vals.append(np.append(demands.astype(float), -float(capacities[j])))  # _csr sorts: y_j comes first
        names.append(f"capacity_{j}"); lhs.append(-np.inf); rhs.append(0.0)
    rows.append(y); vals.append(capacities.astype(float)); names.append("total_capacity")
    lhs.append(float(total_demand)); rhs.append(np.inf)
    for i in range(n_cust):
        for j in range(n_fac):
            rows.append(np.array([x[i, j], y[j]])); vals.append(np.array([1.0, -1.0]))
            names.append(f"affectation_{i}_{j}"); lhs.append(-np.inf); rhs.append(0.0)
    row_ptr, cols, coefs = _csr(rows, vals)
    n = n_x + n_fac
    return _instance(
        name=name if name is not None else f"facility_c{n_cust}_f{n_fac}_r{ratio:g}",
        var_names=tuple(f"y_{j}" for j in range(n_fac)) + tuple(f"x_{i}_{j}" for i in range(n_cust) for j in range(n_fac)),
        vtypes=("binary",) * n_fac + ("continuous",) * n_x,
        lb=np.zeros(n), ub=np.ones(n),
        obj=np.concatenate((fixed.astype(float), trans.ravel())),
        row_ptr=row_ptr, col_idx=cols, coefs=coefs,
        lhs=np.array(lhs), rhs=np.array(rhs), row_names=tuple(names),
        sense="minimize",
    )


# ----------------------------------------------------------------------------- independent set


def barabasi_albert(n_nodes: int, affinity: int, rng: np.random.Generator) -> list[set[int]]:
    """Adjacency sets of a Barabási-Albert graph (preferential attachment, ``affinity`` edges per new node).

    Node ``affinity`` is joined to all nodes before it; each later node to ``affinity``
    distinct earlier nodes drawn with probability proportional to their degree.
    """
    neighbors: list[set[int]] = [set() for _ in range(n_nodes)]
    degrees = np.zeros(n_nodes, dtype=np.int64)
    n_edges = 0
    for new in range(affinity, n_nodes):
        if new == affinity:
            targets = np.arange(new)
        else:
            targets = rng.choice(new, affinity, replace=False, p=degrees[:new] / (2 * n_edges))
        for t in targets.tolist():
            neighbors[t].add(new)
            neighbors[new].add(t)
            degrees[t] += 1
            degrees[new] += 1
            n_edges += 1
    return neighbors


def greedy_clique_partition(neighbors: list[set[int]]) -> list[list[int]]:
    """Partition the nodes into cliques greedily, densest nodes first (as Gasse et al.)."""
    degrees = np.array([len(s) for s in neighbors])
    order = np.argsort(-degrees, kind="stable").tolist()
    left = set(order)
    cliques = []
    for center in order:
        if center not in left:
            continue
        left.discard(center)
        clique = [center]
        for nb in sorted(neighbors[center] & left, key=lambda v: (-degrees[v], v)):
            if all(nb in neighbors[c] for c in clique):
                clique.append(nb)
        left.difference_update(clique)
        cliques.append(sorted(clique))
    return cliques


def generate_indset(size: int, rng: np.random.Generator | int, *, affinity: int = 4,
                    name: str | None = None) -> MILPInstance:
    """A maximum independent set instance on a Barabási-Albert graph, clique-partition formulation.

    ``max sum x_v`` s.t. ``sum_{v in K} x_v <= 1`` for each clique ``K`` of a greedy clique
    partition (cliques of two or more nodes) and ``x_u + x_v <= 1`` for every edge not inside
    one of those cliques, ``x`` binary (Bergman et al. 2016, as generated by Gasse et al.).

    Parameters
    ----------
    size
        Number of nodes (Gasse et al.: 500, 1000, 1500).
    rng
        A numpy Generator, or a seed for one.
    affinity
        Edges added with each new node (default 4).
    name
        Instance name; by default ``indset_n<nodes>_a<affinity>``.

    Returns
    -------
    MILPInstance
        Rows sorted: clique rows first (by smallest node), then edge rows.
    """
    n = _positive_int(size, "the number of nodes", 2)
    affinity = _positive_int(affinity, "the affinity")
    if affinity >= n:
        raise InputError(f"the affinity ({affinity}) must be smaller than the number of nodes ({n})")
    rng = _rng(rng)
    neighbors = barabasi_albert(n, affinity, rng)
    cliques = [c for c in greedy_clique_partition(neighbors) if len(c) > 1]
    in_clique = set()
    for c in cliques:
        in_clique.update((u, v) for k, u in enumerate(c) for v in c[k + 1:])
    edges = sorted((u, v) for u in range(n) for v in neighbors[u] if u < v and (u, v) not in in_clique)
    groups = sorted(cliques) + [list(e) for e in edges]
    used = {v for g in groups for v in g}
    groups += [[v] for v in range(n) if v not in used]  # isolated nodes: a trivial row keeps them in the model
    rows = [np.array(g, dtype=np.int64) for g in groups]
    row_ptr, cols, coefs = _csr(rows)
    m = len(rows)
    names = [f"clique_{k}" for k in range(len(cliques))] + [f"edge_{u}_{v}" for u, v in edges] \
        + [f"node_{g[0]}" for g in groups[len(cliques) + len(edges):]]
    return _instance(
        name=name if name is not None else f"indset_n{n}_a{affinity}",
        var_names=tuple(f"x{v}" for v in range(n)),
        vtypes=("binary",) * n,
        lb=np.zeros(n), ub=np.ones(n), obj=np.ones(n),
        row_ptr=row_ptr, col_idx=cols, coefs=coefs,
        lhs=np.full(m, -np.inf), rhs=np.ones(m), row_names=tuple(names),
        sense="maximize",
    )
