"""Decoding strategies, kept apart from the network: every strategy is a rule that picks actions
from the policy's log-probabilities inside one rollout loop (:func:`rollout`).

* ``greedy``: one rollout from the environment's default start, argmax at every step.
* ``multistart``: POMO, one greedy rollout from each of ``starts`` distinct first actions.
* ``aug8``: ``multistart`` on the 8 symmetric copies of each instance (``augment=8``).
* ``sample``: ``samples`` sampled rollouts per start.
* ``beam``: beam search of width ``beam_width`` from the default start.
* :func:`score`: teacher forcing, the log-probability of given actions, through the same loop.

Every strategy returns a :class:`Decoded`; the best row per instance is by reward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from coptim.envs.routing import Env, State
from coptim.errors import InputError
from coptim.policies.attention import AttentionModel, Cache

STRATEGIES = ("greedy", "multistart", "aug8", "sample", "beam")

Select = Callable[[Tensor, int], Tensor]


@dataclass
class Rollout:
    """A batch of finished rollouts.

    ``actions`` is ``(B, P, T)`` (forced start included), ``log_prob`` the ``(B, P)`` sum of the
    log-probabilities of the chosen (not forced) actions, ``reward`` ``(B, P)``.
    """

    actions: Tensor
    log_prob: Tensor
    reward: Tensor
    state: State


@dataclass
class Decoded:
    """The result of a decoding strategy on ``B`` instances (``A`` augmentations each)."""

    rollout: Rollout
    best_row: Tensor  # (B,) row of the rollout (augmentation-major: a * B + b)
    best_start: Tensor  # (B,)
    best_reward: Tensor  # (B,)

    def solutions(self, env: Env) -> list[Any]:
        """The best solution of each instance, in the problem's solution type."""
        r = self.rollout
        return [env.solution(r.state, r.actions, int(row), int(p))
                for row, p in zip(self.best_row.tolist(), self.best_start.tolist())]


def rollout(model: AttentionModel, env: Env, data: dict[str, Tensor], select: Select, *,
            starts: Tensor | None = None, num_starts: int = 1, cache: Cache | None = None) -> Rollout:
    """Run the policy until every row is done.

    Parameters
    ----------
    select
        ``select(log_probs (B, P, N), t) -> actions (B, P)`` at decision ``t`` (0-based, forced
        start not counted).
    starts
        ``(B, P)`` forced first actions (their log-probabilities are not counted), or None to let
        ``select`` choose from the first step with ``num_starts`` rows per instance.
    cache
        The encoder output for ``data`` (computed when None).
    """
    if cache is None:
        cache = model.encode(data)
    state = env.reset(data, starts.shape[1] if starts is not None else num_starts)
    taken: list[Tensor] = []
    if starts is not None:
        state = env.step(state, starts)
        taken.append(starts)
    log_prob = torch.zeros(state.done.shape, dtype=cache.emb.dtype, device=cache.emb.device)
    limit = env.max_steps(data) + 1
    t = 0
    while not bool(state.done.all()):
        if t >= limit:
            raise RuntimeError("rollout did not finish within the environment's step bound")
        logp = model.log_probs(cache, env, state)
        actions = select(logp, t)
        chosen = logp.gather(2, actions.unsqueeze(-1)).squeeze(-1)
        log_prob = log_prob + torch.where(state.done, torch.zeros_like(chosen), chosen)
        state = env.step(state, actions)
        taken.append(actions)
        t += 1
    if taken:
        acts = torch.stack(taken, dim=2)
    else:
        acts = torch.zeros(*state.done.shape, 0, dtype=torch.long, device=state.done.device)
    return Rollout(acts, log_prob, env.reward(state), state)


def greedy_select(logp: Tensor, t: int) -> Tensor:
    return logp.argmax(dim=-1)


def sampling_select(generator: torch.Generator | None = None) -> Select:
    """Sample each row's action from its distribution by inverting the cumulative distribution.

    One uniform number per row (``torch.multinomial`` draws one per row *and* action, which is
    measurably slower in the training rollouts). The first action whose cumulative probability
    exceeds ``u * total`` has a positive probability; a rounding corner (``u * total`` rounded up to
    ``total``) falls back to the most likely action, so a masked action is never chosen.
    """
    def select(logp: Tensor, t: int) -> Tensor:
        b, p, n = logp.shape
        cdf = logp.exp().cumsum(dim=-1)
        u = torch.rand(b, p, 1, generator=generator, dtype=cdf.dtype, device=cdf.device) * cdf[..., -1:]
        actions = (cdf <= u).sum(dim=-1).clamp_max(n - 1)
        allowed = torch.isfinite(logp.gather(2, actions.unsqueeze(-1))).squeeze(-1)
        return torch.where(allowed, actions, logp.argmax(dim=-1))
    return select


def forced_select(actions: Tensor) -> Select:
    def select(logp: Tensor, t: int) -> Tensor:
        if t >= actions.shape[2]:
            raise InputError(f"the given actions end after {actions.shape[2]} steps but the solution is not finished")
        a = actions[:, :, t]
        if not bool(torch.isfinite(logp.gather(2, a.unsqueeze(-1))).all()):
            raise InputError(f"a given action at step {t} is not allowed (masked)")
        return a
    return select


def score(model: AttentionModel, env: Env, data: dict[str, Tensor], actions: Tensor, *,
          forced_start: bool = True, cache: Cache | None = None) -> Rollout:
    """Teacher forcing: the log-probability of the given ``(B, P, T)`` actions.

    With ``forced_start`` the first action of each row is forced (as in multi-start decoding) and
    not scored. The same rollout loop as for decoding is used.
    """
    if forced_start:
        return rollout(model, env, data, forced_select(actions[:, :, 1:]), starts=actions[:, :, 0], cache=cache)
    return rollout(model, env, data, forced_select(actions), num_starts=actions.shape[1], cache=cache)


def beam_search(model: AttentionModel, env: Env, data: dict[str, Tensor], width: int,
                cache: Cache | None = None) -> Rollout:
    """Beam search of ``width`` partial solutions per instance, ranked by summed log-probability.

    Starts from the environment's default start; all ``width`` finished beams are returned (the
    caller keeps the one with the best reward). Beams that cannot be filled (fewer candidates than
    the width) follow an arbitrary allowed path with score ``-inf``; they stay feasible.
    """
    if cache is None:
        cache = model.encode(data)
    state = env.reset(data, 1)
    start = env.start_actions(state, 1)
    state = env.step(state, start)
    b = start.shape[0]
    zeros = torch.zeros(b, width, dtype=torch.long, device=start.device)
    state = state.select(zeros)
    total = torch.full((b, width), float("-inf"), device=start.device)
    total[:, 0] = 0.0
    hist = start.unsqueeze(-1).expand(b, width, 1)
    limit = env.max_steps(data) + 1
    for _ in range(limit + 1):
        if bool(state.done.all()):
            break
        logp = model.log_probs(cache, env, state)
        n = logp.shape[2]
        cand = (total.unsqueeze(-1) + logp).reshape(b, -1)
        top, flat = cand.topk(width, dim=1)
        beam = torch.div(flat, n, rounding_mode="floor")
        act = flat % n
        state = state.select(beam)
        fallback = state.mask.to(torch.float32).argmax(dim=-1)
        act = torch.where(torch.isfinite(top), act, fallback)
        hist = torch.cat([hist.gather(1, beam.unsqueeze(-1).expand(-1, -1, hist.shape[2])), act.unsqueeze(-1)], dim=2)
        state = env.step(state, act)
        total = top
    else:
        raise RuntimeError("beam search did not finish within the environment's step bound")
    return Rollout(hist, total, env.reward(state), state)


def _best(roll: Rollout, batch: int) -> Decoded:
    reward = roll.reward
    rows, p = reward.shape
    aug = rows // batch
    flat = reward.view(aug, batch, p).permute(1, 0, 2).reshape(batch, aug * p)
    best_reward, idx = flat.max(dim=1)
    a = torch.div(idx, p, rounding_mode="floor")
    return Decoded(roll, a * batch + torch.arange(batch, device=idx.device), idx % p, best_reward)


def decode(model: AttentionModel, env: Env, data: dict[str, Tensor], strategy: str = "greedy", *,
           starts: int | None = None, augment: int | None = None, samples: int = 16, beam_width: int = 4,
           generator: torch.Generator | None = None) -> Decoded:
    """Decode a batch with one of :data:`STRATEGIES`; see the module docstring.

    Parameters
    ----------
    starts
        Number of distinct starts for ``multistart``/``aug8``/``sample`` (default: every node
        for multistart and aug8 (capped by the problem size), 1 for sample).
    augment
        Symmetric copies (1..8; default 8 for ``aug8``, 1 otherwise; routing problems only).
    samples
        Sampled rollouts per start for ``sample``.
    beam_width
        Width for ``beam``.
    generator
        Random generator for ``sample``.
    """
    if strategy not in STRATEGIES:
        raise InputError(f"unknown decoding strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    for name, value in (("samples", samples), ("beam_width", beam_width)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{name} must be a positive integer, got {value!r}")
    if starts is not None and (isinstance(starts, bool) or not isinstance(starts, int) or starts < 1):
        raise InputError(f"starts must be a positive integer, got {starts!r}")
    batch = env.batch_size(data)
    if strategy == "aug8" and not env.has_coords:
        raise InputError(f"aug8 uses the symmetries of the unit square and does not apply to {env.name}")
    if augment is None:
        augment = 8 if strategy == "aug8" and env.has_coords else 1
    data = env.augment(data, augment)
    with torch.inference_mode():
        cache = model.encode(data)
        if strategy == "beam":
            return _best(beam_search(model, env, data, beam_width, cache=cache), batch)
        fresh = env.reset(data, 1)
        size = fresh.mask.shape[2] - (1 if env.name == "cvrp" else 0)
        if strategy == "greedy":
            count = 1
        elif strategy == "sample":
            count = starts or 1
        else:
            count = min(starts or size, size)
        first = env.start_actions(fresh, count)
        if strategy == "sample":
            first = first.repeat(1, samples)
            return _best(rollout(model, env, data, sampling_select(generator), starts=first, cache=cache), batch)
        return _best(rollout(model, env, data, greedy_select, starts=first, cache=cache), batch)


def decode_instances(model: AttentionModel, env: Env, instances: Sequence[Any], strategy: str = "greedy",
                     **options: Any) -> list[Any]:
    """Decode instances of one size and return their best solutions (problem solution types)."""
    data = env.from_instances(list(instances))
    return decode(model, env, data, strategy, **options).solutions(env)
