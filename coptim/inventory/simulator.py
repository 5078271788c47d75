"""Batched, differentiable inventory simulator (scenarios x locations x lead-time pipeline).

Timing of one period, for every scenario at once:

1. The state is the on-hand stock of every location (the delivery due this period has
   arrived; a negative store stock is a backlog) and the pipeline of shipments on their way
   (``pipeline[..., j]`` arrives at the start of the period ``j + 1`` periods later).
2. The policy asks for a shipment into every location from its supplier. Requests to the
   external supplier are always met; requests to an inner location are scaled down in
   proportion when they add up to more than its stock (feasible by construction).
3. Shipped stock leaves the supplier now and joins the pipeline ``lead_time`` periods ahead.
4. In settings with transshipment (all locations are stores supplied externally), the policy
   also chooses flows ``F[b, i, j]`` from store ``i`` to store ``j``; the stock moves at once
   (proactive, instantaneous transshipment). A store's outflows are scaled down in proportion
   where they add up to more than its stock on hand (positive part).
5. Demand hits the stores; unmet demand is lost or backlogged.
6. Cost: ``holding_cost`` per unit on hand at the end of the period (all locations) plus
   ``underage_cost`` per unit of unmet demand (stores) plus the transshipment cost per unit moved.
7. Deliveries due next period arrive.

The cost is a piecewise-linear function of the shipments and flows, so autograd gives the
pathwise derivatives HDPO needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from coptim.errors import InputError
from coptim.inventory.settings import EXTERNAL, Setting, Split

#: Scenarios are generated in blocks of this many, each block from its own seeded stream,
#: so that any subset of a scenario set can be rebuilt without generating all of it.
BLOCK = 256


@dataclass(frozen=True)
class NetworkTensors:
    """Constant tensors describing a setting's network, used by the simulator and the policies."""

    n: int
    lmax: int
    stores: Tensor  # (S,) long: store location indices
    supplier: Tensor  # (n,) long, -1 for external
    internal: Tensor  # (n,) bool: supplied by another location
    child_matrix: Tensor  # (n, n): [i, j] = 1 if j supplies i
    arrival: Tensor  # (n, lmax): one-hot at lead_time - 1
    lead_time: Tensor  # (n,) float
    holding: Tensor  # (n,)
    underage: Tensor  # (S,)
    demand_mean: Tensor  # (S,)
    demand_std: Tensor  # (S,)
    flow_mean: Tensor  # (n,) mean demand passing through each location per period
    echelon: Tensor  # (n, n): [i, k] = 1 if k is i or downstream of i
    lost_sales: bool
    transship_cost: float | None = None  # cost per unit moved between stores; None: no transshipment

    @classmethod
    def from_setting(cls, setting: Setting) -> "NetworkTensors":
        """Compile the network of ``setting``."""
        net = setting.network
        n, lmax = net.size, net.max_lead_time
        child = torch.zeros(n, n)
        for i, s in enumerate(net.supplier):
            if s != EXTERNAL:
                child[i, s] = 1.0
        arrival = torch.zeros(n, lmax)
        for i, lt in enumerate(net.lead_time):
            arrival[i, lt - 1] = 1.0
        echelon = torch.zeros(n, n)
        for i in range(n):
            for k in net.descendants(i):
                echelon[i, k] = 1.0
        stores = list(net.stores)
        means = torch.tensor([net.demand_mean[i] for i in stores], dtype=torch.float32)
        flow = torch.zeros(n)
        for i in range(n):
            flow[i] = sum(net.demand_mean[k] for k in net.descendants(i) if net.is_store[k])
        return cls(
            n=n,
            lmax=lmax,
            stores=torch.tensor(stores, dtype=torch.long),
            supplier=torch.tensor(net.supplier, dtype=torch.long),
            internal=torch.tensor([s != EXTERNAL for s in net.supplier]),
            child_matrix=child,
            arrival=arrival,
            lead_time=torch.tensor(net.lead_time, dtype=torch.float32),
            holding=torch.tensor(net.holding_cost, dtype=torch.float32),
            underage=torch.tensor([net.underage_cost[i] for i in stores], dtype=torch.float32),
            demand_mean=means,
            demand_std=torch.tensor([net.demand_std[i] for i in stores], dtype=torch.float32),
            flow_mean=flow,
            echelon=echelon,
            lost_sales=setting.lost_sales,
            transship_cost=None if setting.transshipment is None else setting.transshipment.cost,
        )


class Action(NamedTuple):
    """What a policy returns in a setting with transshipment.

    ``order`` (B, n) are the requested shipments into every location (as a plain request
    tensor elsewhere); ``transship`` (B, n, n) are the flows from store ``i`` to store ``j``.
    """

    order: Tensor
    transship: Tensor | None = None


def as_action(out: Tensor | Action) -> Action:
    """A policy's output as an :class:`Action` (a plain request tensor moves no stock between stores)."""
    return out if isinstance(out, Action) else Action(out)


@dataclass
class State:
    """Batched state: ``on_hand`` (B, n) and ``pipeline`` (B, n, lmax); ``period`` counts from 0."""

    on_hand: Tensor
    pipeline: Tensor
    period: int = 0

    @property
    def batch(self) -> int:
        """Number of scenarios."""
        return self.on_hand.shape[0]

    def inventory_position(self) -> Tensor:
        """On hand plus on order, per location (B, n)."""
        return self.on_hand + self.pipeline.sum(-1)

    def observation(self) -> Tensor:
        """Flat observation (B, n * (1 + lmax)): on-hand stock then each location's pipeline."""
        return torch.cat([self.on_hand, self.pipeline.flatten(1)], dim=1)


@dataclass
class Scenarios:
    """Demand paths and initial states of a batch of scenarios.

    ``demand`` has shape (B, T, S) (stores in network order); ``warmup`` periods are not counted.
    """

    demand: Tensor
    initial: State
    warmup: int

    @property
    def horizon(self) -> int:
        """Number of periods."""
        return self.demand.shape[1]

    def select(self, index: Tensor) -> "Scenarios":
        """The scenarios at ``index``."""
        return Scenarios(
            self.demand[index],
            State(self.initial.on_hand[index], self.initial.pipeline[index]),
            self.warmup,
        )


def _block(setting: Setting, split: Split, block: int, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    net = setting.network
    rng = np.random.default_rng([split.seed, block])
    stores = net.stores
    mean = np.array([net.demand_mean[i] for i in stores])
    std = np.array([net.demand_std[i] for i in stores])
    T, S = split.horizon, len(stores)
    if setting.demand.distribution == "poisson":
        demand = rng.poisson(mean, size=(count, T, S)).astype(np.float32)
    else:
        c = setting.demand.correlation
        common = rng.standard_normal((count, T, 1))
        own = rng.standard_normal((count, T, S))
        z = np.sqrt(c) * common + np.sqrt(1.0 - c) * own
        demand = np.maximum(mean + std * z, 0.0)
        if setting.demand.integer:
            demand = np.rint(demand)
        demand = demand.astype(np.float32)
    n, lmax = net.size, net.max_lead_time
    flow = np.array([sum(net.demand_mean[k] for k in net.descendants(i) if net.is_store[k]) for i in range(n)])
    lead = np.array(net.lead_time)
    on_hand = np.rint(rng.uniform(0.0, 2.0, size=(count, n)) * flow).astype(np.float32)
    pipe = np.rint(rng.uniform(0.0, 2.0, size=(count, n, lmax)) * flow[:, None]).astype(np.float32)
    pipe *= (np.arange(lmax)[None, :] < (lead[:, None] - 1))[None]  # nothing beyond L - 1
    return demand, on_hand, pipe


def make_scenarios(setting: Setting, split: str | Split, start: int = 0, count: int | None = None) -> Scenarios:
    """Scenarios ``start .. start+count-1`` of a scenario set, reproducible from its seed.

    Parameters
    ----------
    setting
        The setting.
    split
        ``"train"``, ``"validation"``, ``"test"`` or an explicit :class:`Split`.
    start, count
        Which scenarios; ``count=None`` means to the end of the set.
    """
    sp = setting.split(split) if isinstance(split, str) else split
    if count is None:
        count = sp.scenarios - start
    if start < 0 or count < 1 or start + count > sp.scenarios:
        raise InputError(f"scenarios {start}..{start + count - 1} are outside the set of {sp.scenarios}")
    demands, hands, pipes = [], [], []
    for b in range(start // BLOCK, (start + count - 1) // BLOCK + 1):
        size = min(BLOCK, sp.scenarios - b * BLOCK)
        d, h, p = _block(setting, sp, b, size)
        lo = max(start - b * BLOCK, 0)
        hi = min(start + count - b * BLOCK, size)
        demands.append(d[lo:hi])
        hands.append(h[lo:hi])
        pipes.append(p[lo:hi])
    return Scenarios(
        torch.from_numpy(np.concatenate(demands)),
        State(torch.from_numpy(np.concatenate(hands)), torch.from_numpy(np.concatenate(pipes))),
        sp.warmup,
    )


def lateral_flows(net: NetworkTensors, on_hand: Tensor, transship: Tensor, integer: bool = False) -> Tensor:
    """The flows between stores that :func:`step` carries out, shape (B, n, n).

    Negative flows and the diagonal count as 0; a store's outflows are scaled down in
    proportion where they exceed its stock on hand (positive part). With ``integer`` flows are
    rounded first and whole units moved after the scaling (rounded down), so that the outflows
    still fit in the stock.
    """
    if net.transship_cost is None:
        raise InputError("this setting has no transshipment; add a [transshipment] table to move stock between stores")
    shape = (on_hand.shape[0], net.n, net.n)
    if transship.shape != shape:
        raise InputError(f"transshipment flows must have shape {shape}, got {tuple(transship.shape)}")
    flows = torch.relu(transship) * (1.0 - torch.eye(net.n))
    if integer:
        flows = torch.round(flows)
    out = flows.sum(-1, keepdim=True)
    avail = torch.relu(on_hand).unsqueeze(-1)
    flows = flows * torch.where(out > avail, avail / out.clamp_min(1e-9), torch.ones_like(out))
    if integer:
        flows = torch.floor(flows + 1e-6)
    return flows


def step(
    net: NetworkTensors,
    state: State,
    request: Tensor,
    demand: Tensor,
    integer: bool = False,
    transship: Tensor | None = None,
) -> tuple[State, Tensor, Tensor]:
    """Advance every scenario by one period.

    Parameters
    ----------
    net
        Compiled network.
    state
        Current state.
    request
        Requested shipments into each location (B, n); negative values count as 0.
    demand
        Store demand this period (B, S).
    integer
        Round requests to integers and ship whole units only (test mode).
    transship
        Flows between stores (B, n, n), ``transship[b, i, j]`` units from store ``i`` to store
        ``j``, made feasible by :func:`lateral_flows`; settings with transshipment only.
        None moves nothing.

    Returns
    -------
    next_state, cost, shipped
        The next state, the cost of the period per scenario (B,), and the shipments made (B, n).
    """
    if request.shape != state.on_hand.shape:
        raise InputError(f"actions must have shape {tuple(state.on_hand.shape)}, got {tuple(request.shape)}")
    request = torch.relu(request)
    if integer:
        request = torch.round(request)
    on_hand = state.on_hand
    if bool(net.internal.any()):
        # Scale requests on each inner supplier down to its stock, in proportion.
        total = request @ net.child_matrix  # (B, n): requested from each location
        avail = torch.relu(on_hand)
        ratio = torch.where(total > avail, avail / total.clamp_min(1e-9), torch.ones_like(total))
        scale = torch.where(net.internal, ratio[:, net.supplier.clamp_min(0)], torch.ones_like(request))
        shipped = request * scale
        if integer:
            shipped = torch.floor(shipped + 1e-6)
        on_hand = on_hand - shipped @ net.child_matrix
    else:
        shipped = request
    if transship is not None:
        flows = lateral_flows(net, on_hand, transship, integer)
        on_hand = on_hand + flows.sum(1) - flows.sum(2)
    pipeline = state.pipeline + shipped.unsqueeze(-1) * net.arrival
    store_stock = on_hand[:, net.stores]
    if net.lost_sales:
        unmet = torch.relu(demand - store_stock)
        store_end = torch.relu(store_stock - demand)
    else:
        store_end = store_stock - demand
        unmet = torch.relu(-store_end)
    on_hand = on_hand.index_copy(1, net.stores, store_end)
    cost = (torch.relu(on_hand) * net.holding).sum(-1) + (unmet * net.underage).sum(-1)
    if transship is not None:
        cost = cost + net.transship_cost * flows.sum((1, 2))
    on_hand = on_hand + pipeline[..., 0]
    pipeline = torch.cat([pipeline[..., 1:], torch.zeros_like(pipeline[..., :1])], dim=-1)
    return State(on_hand, pipeline, state.period + 1), cost, shipped
