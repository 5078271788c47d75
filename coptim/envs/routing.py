"""Batched constructive MDPs for the TSP, the CVRP and the 0/1 knapsack.

One contract for every environment (see :class:`Env`):

* ``data = env.from_instances(instances)`` (or ``env.generate(batch, size, generator)``) builds a
  batch: a dict of tensors whose first dimension is the instance. Coordinates of any scale are
  normalised on the way in (min-max to the unit square, aspect ratio kept); integer demands,
  weights and capacities are kept exactly (int64) so that the masks are exact.
* ``state = env.reset(data, starts)`` makes ``starts`` parallel copies of each instance (the
  POMO "multiple starts"); every tensor of the state is shaped ``(batch, starts, ...)``.
* ``state.mask`` (``(batch, starts, nodes)`` bool) says which actions are allowed; it always has at
  least one allowed action, also for finished rows (their only action is the "no-op" action
  ``0``, which :meth:`Env.step` ignores).
* ``env.step(state, actions)`` takes ``(batch, starts)`` node indices and returns the next state;
  ``state.done`` flags finished rows.
* ``env.reward(state)`` is the reward of the finished solution in normalised units (minus the
  length for routing, the normalised value for the knapsack); ``env.solution(state, actions, b, p)``
  converts row ``(b, p)`` into the problem's solution type (tour list, list of routes, sorted item
  list), which the caller evaluates with the problem's checker on the original instance.

Nothing loops over instances in Python: the loop is over decoding steps only.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor

from coptim.errors import InputError

#: The 8 symmetries of the unit square, as ``(swap x and y, flip x, flip y)``.
SYMMETRIES: tuple[tuple[bool, bool, bool], ...] = (
    (False, False, False), (True, False, False), (False, True, False), (True, True, False),
    (False, False, True), (True, False, True), (False, True, True), (True, True, True),
)


def normalise_coords(coords: np.ndarray) -> np.ndarray:
    """Min-max normalise ``(n, 2)`` coordinates into the unit square, keeping the aspect ratio.

    The lower-left corner of the bounding box goes to the origin and the longer side of the box
    to length 1; all points equal gives all zeros.
    """
    arr = np.asarray(coords, dtype=np.float64)
    low = arr.min(axis=0)
    span = float((arr.max(axis=0) - low).max())
    if not np.isfinite(span) or span <= 0.0:
        return np.zeros_like(arr)
    return (arr - low) / span


def normalise_coords_torch(coords: Tensor) -> Tensor:
    """:func:`normalise_coords` for a ``(batch, n, 2)`` tensor, instance by instance."""
    low = coords.amin(dim=1, keepdim=True)
    span = (coords.amax(dim=1, keepdim=True) - low).amax(dim=2, keepdim=True)
    return torch.where(span > 0, (coords - low) / span.clamp_min(1e-30), torch.zeros_like(coords))


def symmetry(coords: Tensor, k: int) -> Tensor:
    """The ``k``-th of the 8 symmetries of the unit square applied to ``(..., 2)`` coordinates."""
    swap, flip_x, flip_y = SYMMETRIES[k]
    x, y = coords[..., 0], coords[..., 1]
    if swap:
        x, y = y, x
    if flip_x:
        x = 1.0 - x
    if flip_y:
        y = 1.0 - y
    return torch.stack((x, y), dim=-1)


# (swap x and y, flip x, flip y) of the 8 symmetries in the order random_symmetry draws them
_SYM = torch.tensor([[s, fx, fy] for s in (0, 1) for fy in (0, 1) for fx in (0, 1)], dtype=torch.bool)


def random_symmetry(coords: Tensor, generator: torch.Generator) -> Tensor:
    """Each ``(n, 2)`` instance of ``(B, n, 2)`` under one of the 8 symmetries of the unit square, drawn per instance."""
    swap, fx, fy = _SYM[torch.randint(8, (coords.shape[0],), generator=generator)].unbind(1)
    x, y = coords[..., 0], coords[..., 1]
    x, y = torch.where(swap[:, None], y, x), torch.where(swap[:, None], x, y)
    x = torch.where(fx[:, None], 1.0 - x, x)
    y = torch.where(fy[:, None], 1.0 - y, y)
    return torch.stack((x, y), dim=-1)


def _take(t: Tensor, idx: Tensor) -> Tensor:
    """Rows of ``t`` (``(B, P, ...)``) chosen along dim 1 by ``idx`` (``(B, W)``) -> ``(B, W, ...)``."""
    view = idx.reshape(*idx.shape, *([1] * (t.dim() - 2))).expand(*idx.shape, *t.shape[2:])
    return t.gather(1, view)


@dataclass
class State:
    """The state of ``batch x starts`` partial solutions.

    Attributes
    ----------
    data
        The batch (per-instance tensors, shared by all starts).
    current
        ``(B, P)`` last visited node (``-1`` before the first step; the depot ``0`` for the CVRP).
    first
        ``(B, P)`` first chosen node (``-1`` before the first step).
    visited
        ``(B, P, N)`` nodes visited / items chosen.
    mask
        ``(B, P, N)`` allowed actions.
    done
        ``(B, P)`` finished rows.
    used
        ``(B, P)`` int64 capacity used: load of the current route (CVRP), total weight (knapsack).
    cost
        ``(B, P)`` accumulated length (TSP, CVRP) or normalised value (knapsack).
    steps
        Number of steps taken.
    """

    data: dict[str, Tensor]
    current: Tensor
    first: Tensor
    visited: Tensor
    mask: Tensor
    done: Tensor
    used: Tensor
    cost: Tensor
    steps: int = 0

    def select(self, idx: Tensor) -> "State":
        """A state made of the rows ``idx`` (``(B, W)`` indices into the starts dimension)."""
        values: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            values[f.name] = _take(v, idx) if isinstance(v, Tensor) else v
        return State(**values)


class Env:
    """Base class of the batched environments; see the module docstring for the contract."""

    name = ""
    sense = "min"
    has_coords = True
    #: Number of scalar context features the policy gets from :meth:`context`.
    context_dim = 0

    # --------------------------------------------------------------- batch construction
    def from_instances(self, instances: Sequence[Any], device: str | torch.device = "cpu") -> dict[str, Tensor]:
        raise NotImplementedError

    def generate(self, batch: int, size: int, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        raise NotImplementedError

    def size_of(self, instance: Any) -> int:
        """The instance's size in the sense of the policy's size limit (nodes, customers, items)."""
        raise NotImplementedError

    # --------------------------------------------------------------- MDP
    def reset(self, data: dict[str, Tensor], starts: int = 1) -> State:
        raise NotImplementedError

    def step(self, state: State, actions: Tensor) -> State:
        raise NotImplementedError

    def reward(self, state: State) -> Tensor:
        raise NotImplementedError

    def start_actions(self, state: State, starts: int) -> Tensor:
        """``(B, starts)`` distinct first actions for the multi-start (POMO) rollouts of a fresh state."""
        raise NotImplementedError

    def context(self, state: State) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        """``(current node, first node, scalar features)`` for the decoder; None where unused."""
        raise NotImplementedError

    def max_steps(self, data: dict[str, Tensor]) -> int:
        """An upper bound on the number of steps to finish every row."""
        raise NotImplementedError

    def solution(self, state: State, actions: Tensor, b: int, p: int) -> Any:
        """Row ``(b, p)`` of a finished rollout as the problem's solution type."""
        raise NotImplementedError

    # --------------------------------------------------------------- helpers
    def batch_size(self, data: dict[str, Tensor]) -> int:
        return int(next(iter(data.values())).shape[0])

    def augment(self, data: dict[str, Tensor], count: int) -> dict[str, Tensor]:
        """``count`` (1..8) symmetric copies of each instance, symmetry-major: row ``k * B + b``."""
        if not self.has_coords:
            if count != 1:
                raise InputError(f"symmetry augmentation applies to routing problems, not {self.name}")
            return data
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 8:
            raise InputError(f"augmentation must be an integer between 1 and 8, got {count!r}")
        out = {}
        for key, value in data.items():
            if key == "coords":
                out[key] = torch.cat([symmetry(value, k) for k in range(count)], dim=0)
            else:
                out[key] = value.repeat(count, *([1] * (value.dim() - 1)))
        return out

    def _check_batch(self, instances: Sequence[Any], kind: type, what: str) -> None:
        if len(instances) == 0:
            raise InputError("an environment batch needs at least one instance")
        for inst in instances:
            if not isinstance(inst, kind):
                raise InputError(f"expected {what} instances, got {type(inst).__name__}")
        sizes = {self.size_of(inst) for inst in instances}
        if len(sizes) > 1:
            raise InputError(f"all instances of a batch must have the same size, got sizes {sorted(sizes)}")


def _onehot0(mask: Tensor) -> Tensor:
    out = torch.zeros_like(mask)
    out[..., 0] = True
    return out


def _gather_nodes(values: Tensor, idx: Tensor) -> Tensor:
    """``values`` ``(B, N, ...)`` at node indices ``idx`` ``(B, P)`` -> ``(B, P, ...)``."""
    view = idx.reshape(*idx.shape, *([1] * (values.dim() - 2))).expand(*idx.shape, *values.shape[2:])
    return values.gather(1, view)


def _coords_of(instance: Any, what: str) -> np.ndarray:
    if instance.coords is None:
        raise InputError(
            f"{what} {instance.name} has no coordinates (EXPLICIT distances); learned routing policies need coordinates"
        )
    return normalise_coords(instance.coords)


# ============================================================================================ TSP


class TSPEnv(Env):
    """Visit every node once; the tour closes back to the first node. Reward: minus the length."""

    name = "tsp"

    def size_of(self, instance: Any) -> int:
        return int(instance.n)

    def from_instances(self, instances, device="cpu"):
        from coptim.problems.tsp import TSPInstance

        self._check_batch(instances, TSPInstance, "TSP")
        coords = np.stack([_coords_of(inst, "TSP instance") for inst in instances])
        return {"coords": torch.as_tensor(coords, dtype=torch.float32, device=device)}

    def generate(self, batch, size, generator=None):
        coords = torch.rand(batch, size, 2, generator=generator)
        return {"coords": normalise_coords_torch(coords)}

    def reset(self, data, starts=1):
        coords = data["coords"]
        b, n = coords.shape[:2]
        dev = coords.device
        visited = torch.zeros(b, starts, n, dtype=torch.bool, device=dev)
        return State(
            data=data,
            current=torch.full((b, starts), -1, dtype=torch.long, device=dev),
            first=torch.full((b, starts), -1, dtype=torch.long, device=dev),
            visited=visited,
            mask=~visited,
            done=torch.zeros(b, starts, dtype=torch.bool, device=dev),
            used=torch.zeros(b, starts, dtype=torch.long, device=dev),
            cost=torch.zeros(b, starts, dtype=coords.dtype, device=dev),
        )

    def step(self, state, actions):
        coords = state.data["coords"]
        active = ~state.done
        if state.steps == 0:  # every row takes its first step together
            first, cost = actions, state.cost
            new_xy = _gather_nodes(coords, actions)
        else:
            actions = torch.where(active, actions, state.current)
            new_xy = _gather_nodes(coords, actions)
            leg = torch.linalg.vector_norm(new_xy - _gather_nodes(coords, state.current), dim=-1)
            first, cost = state.first, state.cost + leg * active
        visited = state.visited.scatter(2, actions.unsqueeze(-1), True)
        if state.steps + 1 >= visited.shape[2]:  # all rows finish together, after n steps
            done = visited.all(dim=2)
            closing = torch.linalg.vector_norm(new_xy - _gather_nodes(coords, first), dim=-1)
            cost = cost + closing * (done & active)
            mask = torch.where(done.unsqueeze(-1), _onehot0(visited), ~visited)
        else:
            done, mask = state.done, ~visited
        return State(state.data, actions, first, visited, mask, done, state.used, cost, state.steps + 1)

    def reward(self, state):
        return -state.cost

    def start_actions(self, state, starts):
        n = state.mask.shape[2]
        if starts > n:
            raise InputError(f"a TSP with {n} nodes has at most {n} distinct starts, got {starts}")
        b = state.mask.shape[0]
        idx = (torch.arange(starts, device=state.mask.device) * n) // starts
        return idx.unsqueeze(0).expand(b, starts)

    def context(self, state):
        if state.steps == 0:
            zero = torch.zeros_like(state.current)
            return zero, zero, None
        return state.current, state.first, None

    def max_steps(self, data):
        return int(data["coords"].shape[1])

    def solution(self, state, actions, b, p):
        return [int(i) for i in actions[b, p].tolist()]


def _gather_last(t: Tensor, idx: Tensor) -> Tensor:
    return t.gather(2, idx.unsqueeze(-1))


# =========================================================================================== CVRP


class CVRPEnv(Env):
    """Node 0 is the depot; visit every customer once with routes of load at most the capacity.

    The depot cannot be chosen twice in a row (no empty routes); a row is done when every
    customer is visited and the vehicle is back at the depot. Reward: minus the total length.
    Context for the decoder: the remaining capacity of the current route, as a fraction.
    """

    name = "cvrp"
    context_dim = 1

    def size_of(self, instance):
        return int(instance.n)

    def from_instances(self, instances, device="cpu"):
        from coptim.problems.cvrp import CVRPInstance

        self._check_batch(instances, CVRPInstance, "CVRP")
        coords = np.stack([_coords_of(inst, "CVRP instance") for inst in instances])
        demand = np.stack([np.asarray(inst.demands, dtype=np.int64) for inst in instances])
        capacity = np.array([int(inst.capacity) for inst in instances], dtype=np.int64)
        return {
            "coords": torch.as_tensor(coords, dtype=torch.float32, device=device),
            "demand": torch.as_tensor(demand, device=device),
            "capacity": torch.as_tensor(capacity, device=device),
        }

    def generate(self, batch, size, generator=None, capacity=None):
        """Uniform instances (demands 1..9); ``capacity``: None for :func:`~coptim.problems.cvrp.uniform_capacity`,
        an integer, or a pair ``(lo, hi)`` to draw each instance's capacity uniformly from ``lo..hi``."""
        from coptim.problems.cvrp import uniform_capacity

        coords = normalise_coords_torch(torch.rand(batch, size + 1, 2, generator=generator))
        demand = torch.randint(1, 10, (batch, size + 1), generator=generator)
        demand[:, 0] = 0
        lo, hi = (uniform_capacity(size),) * 2 if capacity is None else (
            (capacity, capacity) if isinstance(capacity, int) else capacity)
        if not 9 <= lo <= hi:
            raise InputError(f"a CVRP capacity must be at least the largest demand 9, got {lo}..{hi}")
        cap = torch.randint(lo, hi + 1, (batch,), generator=generator) if hi > lo else torch.full((batch,), lo)
        return {"coords": coords, "demand": demand, "capacity": cap}

    def _mask(self, data, current, visited, used, done):
        demand = data["demand"].unsqueeze(1)  # (B, 1, N+1)
        room = (data["capacity"].unsqueeze(1) - used).unsqueeze(-1)  # (B, P, 1)
        mask = ~visited & (demand <= room)
        mask[..., 0] = current != 0
        return torch.where(done.unsqueeze(-1), _onehot0(mask), mask)

    def reset(self, data, starts=1):
        coords = data["coords"]
        b, n1 = coords.shape[:2]
        dev = coords.device
        visited = torch.zeros(b, starts, n1, dtype=torch.bool, device=dev)
        visited[..., 0] = True
        current = torch.zeros(b, starts, dtype=torch.long, device=dev)
        used = torch.zeros(b, starts, dtype=torch.long, device=dev)
        done = visited.all(dim=2)
        return State(data, current, torch.full_like(current, -1), visited,
                     self._mask(data, current, visited, used, done), done, used,
                     torch.zeros(b, starts, dtype=coords.dtype, device=dev))

    def step(self, state, actions):
        data = state.data
        coords = data["coords"]
        active = ~state.done
        actions = torch.where(active, actions, torch.zeros_like(actions))
        leg = torch.linalg.vector_norm(_gather_nodes(coords, actions) - _gather_nodes(coords, state.current), dim=-1)
        cost = state.cost + torch.where(active, leg, torch.zeros_like(leg))
        at_depot = actions == 0
        used = torch.where(at_depot, torch.zeros_like(state.used), state.used + _gather_nodes(data["demand"], actions))
        visited = state.visited.scatter(2, actions.unsqueeze(-1), torch.ones_like(actions, dtype=torch.bool).unsqueeze(-1))
        first = torch.where(state.first < 0, torch.where(at_depot, state.first, actions), state.first)
        done = visited.all(dim=2) & at_depot
        mask = self._mask(data, actions, visited, used, done)
        return State(data, actions, first, visited, mask, done, used, cost, state.steps + 1)

    def reward(self, state):
        return -state.cost

    def start_actions(self, state, starts):
        n = state.mask.shape[2] - 1
        if starts > n:
            raise InputError(f"a CVRP with {n} customers has at most {n} distinct starts, got {starts}")
        b = state.mask.shape[0]
        idx = 1 + (torch.arange(starts, device=state.mask.device) * n) // starts
        return idx.unsqueeze(0).expand(b, starts)

    def context(self, state):
        cap = state.data["capacity"].unsqueeze(1).to(state.cost.dtype)
        room = (cap - state.used.to(cap.dtype)) / cap
        return state.current, None, room.unsqueeze(-1)

    def max_steps(self, data):
        return 2 * int(data["coords"].shape[1])

    def solution(self, state, actions, b, p):
        routes: list[list[int]] = []
        route: list[int] = []
        for a in actions[b, p].tolist():
            if a == 0:
                if route:
                    routes.append(route)
                route = []
            else:
                route.append(int(a))
        if route:
            routes.append(route)
        return routes


# ======================================================================================= knapsack


class KnapsackEnv(Env):
    """Choose items one at a time while any unchosen item fits; reward: the normalised value.

    Filling until nothing fits loses nothing for non-negative values. Items heavier than the
    capacity are masked from the start; an instance where nothing fits is done at reset.
    Weights and the capacity are exact integers, so the masks never allow an overweight choice.
    Features for the policy: ``weight / capacity`` (capped at 2) and ``value / max value``.
    """

    name = "knapsack"
    sense = "max"
    has_coords = False
    context_dim = 1

    def size_of(self, instance):
        return int(instance.n)

    def from_instances(self, instances, device="cpu"):
        from coptim.problems.knapsack import KnapsackInstance

        self._check_batch(instances, KnapsackInstance, "knapsack")
        weight = torch.as_tensor(np.stack([np.asarray(i.weights, dtype=np.int64) for i in instances]), device=device)
        value = torch.as_tensor(np.stack([np.asarray(i.values, dtype=np.float64) for i in instances]), device=device)
        capacity = torch.as_tensor(np.array([int(i.capacity) for i in instances], dtype=np.int64), device=device)
        return self.features(weight, value, capacity)

    def features(self, weight: Tensor, value: Tensor, capacity: Tensor) -> dict[str, Tensor]:
        """The environment's data for ``(B, n)`` integer weights, values and ``(B,)`` capacities."""
        vmax = value.amax(dim=1, keepdim=True)
        value_n = torch.where(vmax > 0, value / vmax.clamp_min(1e-30), torch.zeros_like(value))
        cap = capacity.to(torch.float64).clamp_min(1.0).unsqueeze(1)
        weight_n = (weight.to(torch.float64) / cap).clamp(max=2.0)
        return {"weight": weight, "capacity": capacity, "value_n": value_n.float(), "weight_n": weight_n.float()}

    def generate(self, batch, size, generator=None):
        weight = torch.randint(1, 1001, (batch, size), generator=generator)
        value = torch.randint(1, 1001, (batch, size), generator=generator)
        capacity = weight.sum(dim=1) // 2
        return self.features(weight, value.double(), capacity)

    def _mask(self, data, visited, used, done):
        room = (data["capacity"].unsqueeze(1) - used).unsqueeze(-1)
        mask = ~visited & (data["weight"].unsqueeze(1) <= room)
        return mask, torch.where((done | ~mask.any(dim=2)).unsqueeze(-1), _onehot0(mask), mask)

    def reset(self, data, starts=1):
        w = data["weight"]
        b, n = w.shape
        dev = w.device
        visited = torch.zeros(b, starts, n, dtype=torch.bool, device=dev)
        used = torch.zeros(b, starts, dtype=torch.long, device=dev)
        done = torch.zeros(b, starts, dtype=torch.bool, device=dev)
        raw, mask = self._mask(data, visited, used, done)
        done = ~raw.any(dim=2)
        current = torch.full((b, starts), -1, dtype=torch.long, device=dev)
        return State(data, current, current.clone(), visited, mask, done, used,
                     torch.zeros(b, starts, dtype=torch.float32, device=dev))

    def step(self, state, actions):
        data = state.data
        active = ~state.done
        actions = torch.where(active, actions, torch.zeros_like(actions))
        w = _gather_nodes(data["weight"], actions)
        used = state.used + torch.where(active, w, torch.zeros_like(w))
        v = _gather_nodes(data["value_n"], actions)
        cost = state.cost + torch.where(active, v, torch.zeros_like(v))
        visited = state.visited.scatter(2, actions.unsqueeze(-1), active.unsqueeze(-1) | _gather_last(state.visited, actions))
        first = torch.where(state.first < 0, torch.where(active, actions, state.first), state.first)
        current = torch.where(active, actions, state.current)
        raw, mask = self._mask(data, visited, used, state.done)
        done = state.done | ~raw.any(dim=2)
        return State(data, current, first, visited, mask, done, used, cost, state.steps + 1)

    def reward(self, state):
        return state.cost

    def start_actions(self, state, starts):
        """Feasible items in decreasing value/weight ratio, repeated cyclically when fewer than ``starts``."""
        data = state.data
        b, n = data["weight"].shape
        if starts > n:
            raise InputError(f"a knapsack with {n} items has at most {n} distinct starts, got {starts}")
        ratio = data["value_n"] / data["weight_n"].clamp_min(1e-9)
        feasible = state.mask[:, 0, :] & ~state.done[:, :1]
        ratio = torch.where(feasible, ratio, torch.full_like(ratio, -1.0))
        order = torch.argsort(ratio, dim=1, descending=True, stable=True)
        count = feasible.sum(dim=1, keepdim=True).clamp_min(1)
        pos = torch.arange(starts, device=order.device).unsqueeze(0) % count
        return order.gather(1, pos)

    def context(self, state):
        cap = state.data["capacity"].unsqueeze(1).to(torch.float32)
        room = (cap - state.used.to(torch.float32)) / cap.clamp_min(1.0)
        return None, None, room.clamp(0.0, 1.0).unsqueeze(-1)

    def max_steps(self, data):
        return int(data["weight"].shape[1])

    def solution(self, state, actions, b, p):
        return [int(i) for i in torch.nonzero(state.visited[b, p]).flatten().tolist()]


ENVS: dict[str, type[Env]] = {"tsp": TSPEnv, "cvrp": CVRPEnv, "knapsack": KnapsackEnv}


def make(problem: str) -> Env:
    """The batched environment of ``problem`` (``tsp``, ``cvrp`` or ``knapsack``)."""
    if problem not in ENVS:
        raise InputError(f"no learning environment for {problem!r}; choose one of {', '.join(ENVS)}")
    return ENVS[problem]()
