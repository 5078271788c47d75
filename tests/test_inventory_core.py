"""Settings, simulator and exact DP of the inventory pillar."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from coptim.errors import InputError
from coptim.inventory.dp import MAX_STATES, LostSalesDP, reference_cost, solve_lost_sales
from coptim.inventory.settings import Network, Setting, Split, load_setting, setting_from_dict, shipped_names
from coptim.inventory.simulator import NetworkTensors, State, make_scenarios, step

ONE_STORE = {
    "name": "t",
    "lost_sales": True,
    "locations": [
        {"name": "s", "supplier": "external", "lead_time": 2, "holding_cost": 1.0, "underage_cost": 4.0, "demand_mean": 5.0}
    ],
    "train": {"scenarios": 8, "horizon": 20, "warmup": 5, "seed": 1},
    "validation": {"scenarios": 8, "horizon": 20, "warmup": 5, "seed": 2},
    "test": {"scenarios": 8, "horizon": 20, "warmup": 5, "seed": 3},
}


def _setting(**changes) -> Setting:
    data = {k: (list(v) if isinstance(v, list) else v) for k, v in ONE_STORE.items()}
    data["locations"] = [dict(ONE_STORE["locations"][0])]
    for key, value in changes.items():
        if key in data["locations"][0] or key in ("lead_time", "holding_cost", "underage_cost", "demand_mean"):
            data["locations"][0][key] = value
        else:
            data[key] = value
    return setting_from_dict(data)


# ----------------------------------------------------------------------------- DP


@pytest.mark.parametrize("lead,known", [(1, 4.04), (2, 4.40), (3, 4.60), (4, 4.73)])
def test_dp_reproduces_zipkin_optimal_costs_p4(lead, known):
    sol = solve_lost_sales(LostSalesDP(5.0, lead, 1.0, 4.0))
    assert sol.lower_bound <= sol.cost <= sol.upper_bound
    assert sol.upper_bound - sol.lower_bound < 1e-4
    assert round(sol.cost, 2) == known


def test_dp_reproduces_zipkin_p39_L4():
    sol = solve_lost_sales(LostSalesDP(5.0, 4, 1.0, 39.0))
    assert round(sol.cost, 2) == 10.79


def test_dp_truncation_is_not_binding():
    small = solve_lost_sales(LostSalesDP(5.0, 2, 1.0, 19.0))
    big = solve_lost_sales(LostSalesDP(5.0, 2, 1.0, 19.0, max_on_hand=small.params.box()[0] + 10, max_order=25))
    assert abs(small.cost - big.cost) < 1e-4


def test_dp_lead_time_one_by_hand():
    # L = 1, Bernoulli-like check: with p = 0 the best is never to order, cost = h * E[(x - D)^+] -> 0.
    sol = solve_lost_sales(LostSalesDP(2.0, 1, 1.0, 0.0))
    assert sol.cost == pytest.approx(0.0, abs=1e-4)
    # With h = 0 ordering a lot is free: cost = 0 (no lost sales once stock is high).
    sol = solve_lost_sales(LostSalesDP(2.0, 1, 0.0, 5.0))
    assert sol.cost < 1e-3


def test_dp_refuses_huge_state_space_clearly():
    with pytest.raises(InputError, match="states"):
        LostSalesDP(5.0, 9, 1.0, 4.0)
    assert MAX_STATES < 10**8


@pytest.mark.parametrize("kw", [dict(lead_time=0), dict(holding_cost=-1.0), dict(lost_sales_cost=math.nan), dict(mean_demand=0.0)])
def test_dp_bad_input(kw):
    args = dict(mean_demand=5.0, lead_time=1, holding_cost=1.0, lost_sales_cost=4.0)
    args.update(kw)
    with pytest.raises(InputError):
        LostSalesDP(**args)


def test_reference_cost_is_cached(tmp_path):
    first = reference_cost(5.0, 1, 1.0, 4.0, tmp_path)
    assert list(tmp_path.glob("*.json"))
    again = reference_cost(5.0, 1, 1.0, 4.0, tmp_path)
    assert again["cost"] == pytest.approx(first["cost"])


# ----------------------------------------------------------------------- settings


def test_shipped_lost_sales_settings_load():
    names = shipped_names()
    for p in (4, 9, 19, 39):
        for lead in (1, 2, 3, 4):
            assert f"lost-sales-p{p}-L{lead}" in names
    s = load_setting("lost-sales-p9-L3")
    assert s.network.lead_time == (3,) and s.network.underage_cost == (9.0,) and s.lost_sales
    assert s.test.warmup > 0 and s.test.horizon > s.validation.horizon


@pytest.mark.parametrize(
    "changes,match",
    [
        (dict(holding_cost=-1.0), "holding cost"),
        (dict(underage_cost=-2.0), "underage cost"),
        (dict(lead_time=-1), "lead time"),
        (dict(demand_mean=math.nan), "finite"),
        (dict(locations=[]), "no locations"),
    ],
)
def test_bad_settings_raise_input_error(changes, match):
    with pytest.raises(InputError, match=match):
        _setting(**changes)


def test_store_without_supplier_is_refused():
    data = dict(ONE_STORE)
    data["locations"] = [
        {"name": "w", "supplier": "external", "lead_time": 1, "holding_cost": 0.5},
        {"name": "s", "supplier": "nowhere", "lead_time": 1, "holding_cost": 1.0, "underage_cost": 4.0, "demand_mean": 5.0},
    ]
    with pytest.raises(InputError, match="not a location"):
        setting_from_dict(data)
    data["locations"][1].pop("supplier")
    with pytest.raises(InputError, match="no supplier"):
        setting_from_dict(data)


def test_cycle_and_unknown_names_refused(tmp_path):
    with pytest.raises(InputError, match="cycle|externally"):
        Network(("a", "b"), (1, 0), (1, 1), (1.0, 1.0), (0.0, 0.0), (1.0, 1.0), (1.0, 1.0))
    with pytest.raises(InputError, match="unknown setting"):
        load_setting("no-such-setting")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [")
    with pytest.raises(InputError, match="TOML") as err:
        load_setting(bad)
    assert err.value.path == str(bad)


def test_split_validation():
    with pytest.raises(InputError, match="warm-up"):
        Split(10, 100, 100, 0)


# ---------------------------------------------------------------------- simulator


def test_scenarios_reproducible_and_subsettable():
    s = _setting()
    a = make_scenarios(s, "train")
    b = make_scenarios(s, "train", 3, 4)
    assert torch.equal(a.demand[3:7], b.demand)
    assert not torch.equal(make_scenarios(s, "test").demand, a.demand)
    assert a.initial.pipeline[:, 0, 1:].abs().sum() == 0  # L = 2: only slot 0 can be outstanding


def test_step_by_hand_lost_sales():
    s = _setting(lead_time=2)
    net = NetworkTensors.from_setting(s)
    state = State(torch.tensor([[3.0], [8.0]]), torch.tensor([[[4.0, 0.0]], [[1.0, 0.0]]]))
    demand = torch.tensor([[5.0], [2.0]])
    nxt, cost, shipped = step(net, state, torch.tensor([[6.0], [0.0]]), demand)
    # scenario 0: 3 on hand, demand 5 -> 2 lost (cost 8), 0 left; 4 arrives; 6 enters slot 1 -> slot 0
    # scenario 1: 8 on hand, demand 2 -> 6 left (cost 6); 1 arrives
    assert cost.tolist() == [8.0, 6.0]
    assert nxt.on_hand.tolist() == [[4.0], [7.0]]
    assert nxt.pipeline.tolist() == [[[6.0, 0.0]], [[0.0, 0.0]]]


def test_step_backlog_and_gradient_by_finite_differences():
    s = _setting(lead_time=1, lost_sales=False)
    net = NetworkTensors.from_setting(s)
    q = torch.tensor([[2.5]], requires_grad=True)
    demands = [torch.tensor([[4.0]]), torch.tensor([[6.0]]), torch.tensor([[1.0]])]

    def total(order):
        st = State(torch.tensor([[5.0]]), torch.zeros(1, 1, 1))
        c = 0
        for d in demands:
            st, cost, _ = step(net, st, order, d)
            c = c + cost
        return c.sum()

    value = total(q)
    value.backward()
    # by hand: stock 5 -> 1 (h 1) +2.5 -> 3.5-6 = -2.5 (p 10) +2.5 -> 0-1 = -1 (p 4): 1 + 10 + 4
    assert float(value.detach()) == pytest.approx(15.0)
    eps = 1e-3
    fd = (total(q.detach() + eps) - total(q.detach() - eps)) / (2 * eps)
    assert float(q.grad) == pytest.approx(float(fd), rel=1e-4)
    assert float(q.grad) != 0.0


def test_warehouse_allocation_is_proportional_and_feasible():
    data = dict(ONE_STORE)
    data["lost_sales"] = True
    data["locations"] = [
        {"name": "w", "supplier": "external", "lead_time": 2, "holding_cost": 0.3},
        {"name": "s", "count": 2, "supplier": "w", "lead_time": 1, "holding_cost": 1.0, "underage_cost": 9.0,
         "demand_mean": [4.0, 6.0]},
    ]
    s = setting_from_dict(data)
    assert s.network.kind == "warehouse" and s.network.stores == (1, 2)
    net = NetworkTensors.from_setting(s)
    state = State(torch.tensor([[6.0, 0.0, 0.0]]), torch.zeros(1, 3, 2))
    nxt, cost, shipped = step(net, state, torch.tensor([[10.0, 6.0, 3.0]]), torch.tensor([[0.0, 0.0]]))
    assert shipped.tolist() == [[10.0, 4.0, 2.0]]  # 6 units split 2:1
    # warehouse holds 0 at the end; stores had 0 stock and 0 demand: cost 0
    assert float(cost) == 0.0
    assert nxt.on_hand.tolist() == [[0.0, 4.0, 2.0]]
    assert nxt.pipeline[0, 0].tolist() == [10.0, 0.0]


def test_nan_request_shape_refused():
    s = _setting()
    net = NetworkTensors.from_setting(s)
    st = make_scenarios(s, "train").initial
    with pytest.raises(InputError, match="shape"):
        step(net, st, torch.zeros(8, 2), torch.zeros(8, 1))


def test_optimal_policy_simulated_matches_dp_value():
    from coptim.inventory.evaluation import evaluate
    from coptim.inventory.policies import TablePolicy

    sol = solve_lost_sales(LostSalesDP(5.0, 2, 1.0, 4.0))
    s = _setting(lead_time=2, test={"scenarios": 256, "horizon": 1200, "warmup": 200, "seed": 9})
    res = evaluate(s, TablePolicy(sol), "test")
    assert abs(res["cost_per_period"] - sol.cost) < 4 * res["stderr"] + 0.01
    assert np.isfinite(res["stderr"])


def test_every_shipped_setting_loads_with_its_topology():
    kinds = {name: load_setting(name).network.kind for name in shipped_names()}
    assert kinds["backlog-p9-L2"] == "single" and not load_setting("backlog-p9-L2").lost_sales
    assert kinds["serial-3stage"] == "serial"
    for n in (3, 10, 50):
        s = load_setting(f"warehouse-{n}")
        assert s.network.kind == "warehouse" and len(s.network.stores) == n
        assert s.demand.correlation == 0.5


def test_correlated_normal_demand_has_the_asked_correlation():
    s = load_setting("warehouse-3")
    d = make_scenarios(s, "train", 0, 512).demand.reshape(-1, 3).numpy()
    c = np.corrcoef(d.T)
    # Truncation at zero lowers the correlation a little; means are rarely truncated here.
    assert 0.4 < c[0, 1] < 0.55 and 0.4 < c[1, 2] < 0.55
    assert (d >= 0).all()
