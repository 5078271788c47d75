"""MILP generators of Gasse et al. (2019): sizes, seeding, structure, MPS round trip, solvable by SCIP."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from coptim import problems
from coptim.errors import InputError
from coptim.problems import milp
from coptim.problems import milp_generators as gen
from coptim.solvers.milp_scip import scip

from test_cli import run

PROB = problems.get("milp")
TINY = {  # (size, options): solved by SCIP in well under a second
    "setcover": (40, {"ncols": 80, "density": 0.1}),
    "cauctions": (60, {}),
    "facility": (12, {"n_facilities": 8}),
    "indset": (60, {}),
}


def make(kind: str, seed: int = 0):
    size, options = TINY[kind]
    return PROB.generators[kind](size, np.random.default_rng(seed), **options)


def test_named_sizes_follow_the_paper():
    assert {k: PROB.size_of(k, "easy") for k in TINY} == {"setcover": 500, "cauctions": 500, "facility": 100,
                                                          "indset": 500}
    assert [PROB.size_of("setcover", s) for s in ("easy", "Medium", "hard")] == [500, 1000, 2000]
    assert [PROB.size_of("cauctions", s) for s in ("easy", "medium", "hard")] == [500, 1000, 1500]
    assert [PROB.size_of("facility", s) for s in ("easy", "medium", "hard")] == [100, 200, 400]
    assert [PROB.size_of("indset", s) for s in ("easy", "medium", "hard")] == [500, 1000, 1500]
    assert PROB.size_of("indset", "37") == 37 and PROB.size_of("indset", 12) == 12
    with pytest.raises(InputError, match="easy, medium, hard or a number"):
        PROB.size_of("indset", "huge")
    with pytest.raises(InputError, match="--size"):
        PROB.size_of("indset", "0")


@pytest.mark.parametrize("kind", list(TINY))
def test_seeded_reproducible_and_round_trip(kind, tmp_path):
    inst = make(kind, 3)
    assert inst == make(kind, 3)
    assert inst != make(kind, 4)
    path = tmp_path / f"{kind}.mps"
    milp.write(inst, path)
    back = milp.read(path)
    assert (back.var_names, back.vtypes, back.row_names, back.sense) == \
        (inst.var_names, inst.vtypes, inst.row_names, inst.sense)
    assert np.array_equal(back.row_ptr, inst.row_ptr) and np.array_equal(back.col_idx, inst.col_idx)
    for field in ("obj", "coefs", "lhs", "rhs", "lb", "ub"):
        assert np.allclose(getattr(back, field), getattr(inst, field), rtol=1e-12), field


@pytest.mark.parametrize("kind", list(TINY))
def test_solvable_by_scip(kind):
    inst = make(kind, 1)
    out = scip(inst, time_limit=20)
    assert out.status == "optimal"
    assert milp.check(inst, out.solution).feasible


def test_setcover_easy_matches_gasse():
    inst = PROB.generators["setcover"](PROB.size_of("setcover", "easy"), np.random.default_rng(0))
    assert (inst.n_rows, inst.n_vars, inst.nnz) == (500, 1000, 25_000)  # density 0.05
    assert inst.lhs.min() == 1 and np.isinf(inst.rhs).all() and inst.sense == "minimize"


def test_cauctions_reference_compatibility_rule():
    # Gasse et al.'s code indexes the compatibility matrix with the bundle's 0/1 *integer* mask:
    # the mean of rows 0 and 1, weighted by the items out of and in the bundle
    rng = np.random.default_rng(0)
    compats = rng.random((7, 7))
    mask = np.array([0, 1, 1, 0, 0, 1, 0])
    k = mask.sum()
    assert np.allclose(compats[mask, :].mean(axis=0), ((7 - k) * compats[0] + k * compats[1]) / 7)
    ref = gen.generate_cauctions(100, 3, compat="reference")
    assert ref.n_vars == 100 and ref.sense == "maximize"
    again = gen.generate_cauctions(100, 3, compat="reference")
    assert np.array_equal(ref.col_idx, again.col_idx) and np.array_equal(ref.obj, again.obj)
    bundle = gen.generate_cauctions(100, 3)
    assert not (np.array_equal(ref.col_idx, bundle.col_idx) and np.array_equal(ref.obj, bundle.obj))
    with pytest.raises(InputError, match="compat"):
        gen.generate_cauctions(100, 3, compat="gasse")


def test_cauctions_structure():
    inst = gen.generate_cauctions(500, np.random.default_rng(0))  # Gasse's easy: 100 items, 500 bids
    assert inst.n_vars == 500 and inst.sense == "maximize" and set(inst.vtypes) == {"binary"}
    items = [n for n in inst.row_names if n.startswith("item")]
    dummies = [n for n in inst.row_names if n.startswith("dummy")]
    assert 90 <= len(items) <= 100 and len(dummies) > 0
    assert (inst.rhs == 1).all() and np.isneginf(inst.lhs).all() and (inst.coefs == 1).all()
    assert (inst.obj > 0).all()
    # every bid owns at least one real item
    real = np.array([n.startswith("item") for n in inst.row_names])
    owned = np.zeros(inst.n_vars, dtype=bool)
    owned[inst.col_idx[np.repeat(real, np.diff(inst.row_ptr))]] = True
    assert owned.all()
    assert gen.generate_cauctions(100, 0, n_items=30).n_vars == 100


def test_facility_structure():
    n_cust, n_fac = 12, 8
    inst = gen.generate_facility(n_cust, np.random.default_rng(0), n_facilities=n_fac, ratio=5)
    assert inst.n_vars == n_cust * n_fac + n_fac
    assert inst.n_rows == n_cust + n_fac + 1 + n_cust * n_fac
    assert inst.vtypes.count("binary") == n_fac and inst.vtypes.count("continuous") == n_cust * n_fac
    a = inst.dense_matrix()  # columns: y_0..y_7, then x_i_j customer-major
    demands = a[n_cust, n_fac:].reshape(n_cust, n_fac)[:, 0]  # capacity row of facility 0
    capacities = -a[n_cust + np.arange(n_fac), np.arange(n_fac)]
    assert ((demands >= 5) & (demands <= 35)).all()
    total = inst.row_names.index("total_capacity")
    assert inst.lhs[total] == demands.sum() and capacities.sum() >= 4.9 * demands.sum()
    big = gen.generate_facility(100, np.random.default_rng(0))  # Gasse's easy
    assert (big.n_vars, big.n_rows) == (10_100, 10_201)


def test_indset_covers_every_edge_once():
    n, affinity = 80, 4
    inst = gen.generate_indset(n, np.random.default_rng(2), affinity=affinity)
    neighbors = gen.barabasi_albert(n, affinity, np.random.default_rng(2))
    edges = {(u, v) for u in range(n) for v in neighbors[u] if u < v}
    assert len(edges) == affinity * (n - affinity)
    covered = set()
    for i in range(inst.n_rows):
        group = inst.col_idx[inst.row_ptr[i]:inst.row_ptr[i + 1]].tolist()
        pairs = set(combinations(sorted(group), 2))
        assert pairs <= edges  # every row is a clique of the graph
        assert not pairs & covered  # the cliques partition the edges
        covered |= pairs
    assert covered == edges
    assert inst.sense == "maximize" and (inst.obj == 1).all()
    with pytest.raises(InputError, match="affinity"):
        gen.generate_indset(4, 0, affinity=4)


def test_bad_options():
    with pytest.raises(InputError, match="number of bids"):
        gen.generate_cauctions(0, 0)
    with pytest.raises(InputError, match="add_item_prob"):
        gen.generate_cauctions(10, 0, add_item_prob=1.5)
    with pytest.raises(InputError, match="capacity ratio"):
        gen.generate_facility(10, 0, ratio=0)


def test_cli_generate_named_size(capsys, tmp_path):
    code, _, err = run(capsys, "generate", "milp", "--kind", "cauctions", "--size", "60", "--count", "2",
                       "--seed", "0", "--out", str(tmp_path))
    assert code == 0, err
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["milp-cauctions-60-s0-0.mps", "milp-cauctions-60-s0-1.mps"]
    back = milp.read(tmp_path / files[0])
    direct = gen.generate_cauctions(60, np.random.default_rng([0, 0]))  # instance i uses the seed pair (seed, i)
    assert back.row_names == direct.row_names and np.array_equal(back.col_idx, direct.col_idx)
    assert np.allclose(back.obj, direct.obj, rtol=1e-12)
    code, _, err = run(capsys, "generate", "milp", "--kind", "indset", "--size", "easy", "--count", "1",
                       "--out", str(tmp_path / "is"))
    assert code == 0 and (tmp_path / "is" / "milp-indset-500-s0-0.mps").exists()
    code, _, err = run(capsys, "generate", "milp", "--kind", "indset", "--size", "gigantic", "--out", str(tmp_path))
    assert code == 2 and "unknown size 'gigantic'" in err
