"""Imitation of expert solutions by the attention model (CVRP: PyVRP, knapsack: DP), by teacher forcing.

A CVRP or knapsack solution has many equivalent action sequences: the routes of a CVRP solution
can be driven in any order and either direction, the items of a knapsack solution chosen in any
order. Each training sample follows one of them, drawn at random (a random route order and
directions; a random item order), through the environment, and the loss at each decision is
minus the log of the policy's total probability on the actions that keep an equivalent expert
solution reachable: at the depot, either end of every route not driven yet; inside a route, its
next customer, then the depot; for the knapsack, every expert item not chosen yet. The loss is
averaged over decisions. CVRP samples are also put under one of the 8 symmetries of the unit
square, drawn per sample.

The training loop (checkpoints, validation, logs) is :func:`coptim.training.pomo.train` with
``method="imitation"``; the expert data is made by :func:`coptim.training.experts.expert_data`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from coptim.envs.routing import Env, random_symmetry
from coptim.errors import InputError
from coptim.policies.attention import AttentionModel

#: Problems the attention model imitates (the TSP imitation policy is the BQ model, coptim.training.imitation).
PROBLEMS = ("cvrp", "knapsack")


def _cvrp_sequence(routes_flat: np.ndarray, n1: int, rng: np.random.Generator) -> tuple[list[int], np.ndarray]:
    """One random equivalent action sequence of a CVRP expert solution and its target sets ``(T, n1)``."""
    flat = routes_flat[routes_flat >= 0].tolist()
    routes, cur = [], []
    for c in flat:
        if c == 0:
            routes.append(cur)
            cur = []
        else:
            cur.append(c)
    if cur:
        routes.append(cur)
    order = rng.permutation(len(routes))
    flips = rng.random(len(routes)) < 0.5
    actions: list[int] = []
    targets = np.zeros((sum(len(r) + 1 for r in routes), n1), dtype=bool)
    left = set(range(len(routes)))
    t = 0
    for r, flip in zip(order.tolist(), flips.tolist()):
        for q in left:
            targets[t, routes[q][0]] = targets[t, routes[q][-1]] = True
        route = routes[r][::-1] if flip else routes[r]
        actions.append(route[0])
        t += 1
        for c in route[1:]:
            targets[t, c] = True
            actions.append(c)
            t += 1
        targets[t, 0] = True
        actions.append(0)
        t += 1
        left.remove(r)
    return actions, targets


def _knapsack_sequence(chosen: np.ndarray, rng: np.random.Generator) -> tuple[list[int], np.ndarray]:
    """Expert items in a random order and, at each step, the expert items not chosen yet."""
    items = rng.permutation(np.flatnonzero(chosen))
    targets = np.zeros((len(items), chosen.shape[0]), dtype=bool)
    for t in range(len(items)):
        targets[t, items[t:]] = True
    return items.tolist(), targets


def expert_batch(problem: str, data: dict[str, Tensor], ids: Tensor, env: Env,
                 generator: torch.Generator) -> tuple[dict[str, Tensor], Tensor, Tensor]:
    """A training batch from expert arrays ``data`` (:func:`coptim.training.experts.expert_data`, as tensors).

    Returns the environment's data for instances ``ids``, the forced actions ``(B, T)`` (padded
    with 0, the action a finished row takes) and the target sets ``(B, T, N)``.
    """
    seed = int(torch.randint(2**62, (1,), generator=generator))
    rng = np.random.default_rng(seed)
    if problem == "cvrp":
        coords = random_symmetry(data["coords"][ids], generator)
        env_data = {"coords": coords, "demand": data["demand"][ids].long(), "capacity": data["capacity"][ids].long()}
        n1 = coords.shape[1]
        seqs = [_cvrp_sequence(data["routes"][i].numpy(), n1, rng) for i in ids.tolist()]
    elif problem == "knapsack":
        env_data = env.features(data["weight"][ids], data["value"][ids], data["capacity"][ids])
        n1 = data["weight"].shape[1]
        seqs = [_knapsack_sequence(data["chosen"][i].numpy(), rng) for i in ids.tolist()]
    else:
        raise InputError(f"the attention model imitates {' and '.join(PROBLEMS)} experts, not {problem!r}")
    steps = max(len(a) for a, _ in seqs)
    actions = torch.zeros(len(seqs), steps, dtype=torch.long)
    targets = torch.zeros(len(seqs), steps, n1, dtype=torch.bool)
    for b, (a, tg) in enumerate(seqs):
        actions[b, :len(a)] = torch.as_tensor(a, dtype=torch.long)
        targets[b, :len(a)] = torch.from_numpy(tg)
    return env_data, actions, targets


def imitation_loss(model: AttentionModel, env: Env, env_data: dict[str, Tensor], actions: Tensor,
                   targets: Tensor) -> tuple[Tensor, Tensor]:
    """Mean over decisions of ``-log P(target set)`` along the forced ``actions``, and the share of
    decisions where the policy's most likely action is in the target set."""
    cache = model.encode(env_data)
    state = env.reset(env_data, 1)
    total = torch.zeros((), dtype=cache.emb.dtype)
    hits = torch.zeros(())
    count = 0
    for t in range(actions.shape[1]):
        if bool(state.done.all()):
            break
        logp = model.log_probs(cache, env, state)[:, 0]  # (B, N)
        tgt = targets[:, t]
        active = ~state.done[:, 0]
        if bool((active & ~(tgt & torch.isfinite(logp)).any(dim=1)).any()):
            raise InputError(f"an expert action at decision {t} is not allowed by the environment")
        lse = torch.logsumexp(logp.masked_fill(~tgt, float("-inf")), dim=1)
        total = total - torch.where(active, lse, torch.zeros_like(lse)).sum()
        hits = hits + (tgt.gather(1, logp.argmax(dim=1, keepdim=True)).squeeze(1) & active).sum()
        count += int(active.sum())
        state = env.step(state, actions[:, t:t + 1])
    if not bool(state.done.all()):
        raise InputError("an expert action sequence ends before its solution is complete")
    return total / max(count, 1), hits / max(count, 1)
