"""Training neural policies: HDPO (pathwise gradients through the simulator) and REINFORCE.

HDPO (Alvo, Russo and Kanoria 2023): simulate a minibatch of training scenarios, sum the
costs over the horizon (after the warm-up), back-propagate through the differentiable
simulator into the policy's weights, take an Adam step; every few steps measure the cost
on the validation scenarios with integer orders and keep the best weights.

REINFORCE is the score-function baseline on the same simulator: a Gaussian policy around
the network's output, the gradient of the log-likelihood times the cost-to-go.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn

from coptim.errors import InputError
from coptim.inventory.evaluation import evaluate, rollout
from coptim.inventory.settings import Setting
from coptim.inventory.simulator import NetworkTensors, Scenarios, State, make_scenarios, step


#: Training options that take HDPO from random weights to the optimum on the single-store
#: settings (bench/inventory/scratch.py): no warm start, 50-period episodes (the training
#: split's warm-up uncounted), 1,024 scenarios per step, Adam at 0.01 with cosine decay.
#: It relies on the MLP's centred inputs; with the shipped settings' step size of 0.001,
#: or on 100-period episodes, HDPO from scratch stalls above the optimum.
SCRATCH_RECIPE = {"warm_start": "none", "episode": 50, "batch_size": 1024, "learning_rate": 0.01, "steps": 600,
                  "eval_every": 25}


def init_weights(model: nn.Module, seed: int) -> None:
    """Initialise every linear layer (torch and torch-geometric) from a private generator (no global seeding)."""
    g = torch.Generator().manual_seed(seed)
    for mod in model.modules():
        fan_in = getattr(mod, "in_features", None) or getattr(mod, "in_channels", None)
        weight = getattr(mod, "weight", None)
        if not isinstance(fan_in, int) or not isinstance(weight, torch.Tensor) or weight.dim() != 2:
            continue  # torch and torch-geometric linear layers only
        bound = 1.0 / math.sqrt(fan_in)
        with torch.no_grad():
            weight.uniform_(-bound, bound, generator=g)
            if getattr(mod, "bias", None) is not None:
                mod.bias.uniform_(-bound, bound, generator=g)


def build_policy(setting: Setting, seed: int = 0, architecture: str | None = None) -> nn.Module:
    """The untrained network named by ``setting.training`` (or ``architecture``)."""
    from coptim.inventory import neural

    net = NetworkTensors.from_setting(setting)
    arch = architecture or setting.training.architecture
    tr = setting.training
    if arch == "mlp":
        model: nn.Module = neural.MLPPolicy(net, tr.hidden, tr.layers)
    elif arch == "gnn":
        model = neural.GNNPolicy(net, tr.hidden, tr.layers)
    else:
        raise InputError(f"unknown architecture {arch!r}; choose mlp or gnn")
    init_weights(model, seed)
    if hasattr(model, "start_at_mean_demand"):
        model.start_at_mean_demand()
    return model


def training_scenarios(setting: Setting, count: int) -> Scenarios:
    """The first ``count`` training scenarios, cut to ``setting.training.episode`` periods if set."""
    data = make_scenarios(setting, "train", 0, count)
    e = setting.training.episode
    if e:
        data = Scenarios(data.demand[:, :e].contiguous(), data.initial, data.warmup)
    return data


def learning_rate(tr, k: int) -> float:
    """Cosine decay from ``tr.learning_rate`` to ``tr.learning_rate * tr.final_lr_ratio`` over the steps."""
    frac = min(k / max(tr.steps - 1, 1), 1.0)
    ratio = tr.final_lr_ratio + (1.0 - tr.final_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * frac))
    return tr.learning_rate * ratio


def warm_start(
    model: nn.Module, setting: Setting, teacher, steps: int = 1500, scenarios: int = 512, seed: int = 0
) -> float:
    """Fit ``model`` to imitate ``teacher`` on the states the teacher visits in the training scenarios.

    A tuned classical policy is a cheap, legitimate starting point for HDPO: it puts the
    network near a good basin, after which the pathwise gradients refine it.

    Returns
    -------
    float
        Final mean squared error, in units of squared mean demand.
    """
    net = NetworkTensors.from_setting(setting)
    scen = make_scenarios(setting, "train", 0, min(scenarios, setting.train.scenarios))
    states, targets = [], []
    state = scen.initial
    with torch.no_grad():
        for t in range(scen.horizon):
            request = teacher(net, state)
            states.append(state)
            targets.append(request)
            state, _, _ = step(net, state, request, scen.demand[:, t], integer=True)
    on_hand = torch.cat([s.on_hand for s in states])
    pipeline = torch.cat([s.pipeline for s in states])
    target = torch.cat(targets) / net.flow_mean.clamp_min(1e-6)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(seed + 7)
    loss = torch.tensor(math.nan)
    for _ in range(steps):
        idx = torch.randint(on_hand.shape[0], (min(1024, on_hand.shape[0]),), generator=gen)
        pred = model(net, State(on_hand[idx], pipeline[idx])) / net.flow_mean.clamp_min(1e-6)
        loss = ((pred - target[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.detach())


@dataclass
class TrainResult:
    """Outcome of a training run."""

    model: nn.Module
    best_validation: float
    best_step: int
    steps: int
    time_s: float
    history: list[tuple[int, float, float]] = field(default_factory=list)  # (step, train loss, validation)


def _save(path: Path, payload: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def _validate(setting: Setting, model: nn.Module) -> float:
    model.eval()
    out = evaluate(setting, model, "validation", integer=True)["cost_per_period"]
    model.train()
    return out


def train_hdpo(
    setting: Setting,
    seed: int = 0,
    checkpoint: str | Path | None = None,
    progress: Callable[[int, float, float], None] | None = None,
    architecture: str | None = None,
    train_scenarios: int | None = None,
    stop_after: int | None = None,
) -> TrainResult:
    """Train a neural policy with HDPO.

    Parameters
    ----------
    setting
        Setting, including its ``training`` options and scenario sets.
    seed
        Seeds the weights and the minibatch order.
    checkpoint
        File to save to after every validation and to resume from if it exists.
    progress
        Called after every step as ``progress(step, train_loss, best_validation)``.
    architecture
        Overrides ``setting.training.architecture``.
    train_scenarios
        Use only the first this-many training scenarios (default: all).
    stop_after
        Stop (as if interrupted) once this many steps are done in total; the checkpoint
        then resumes the same schedule.

    Returns
    -------
    TrainResult
        The best model on the validation scenarios and the training history.
    """
    tr = setting.training
    net = NetworkTensors.from_setting(setting)
    n_train = train_scenarios or setting.train.scenarios
    if n_train > setting.train.scenarios:
        raise InputError(f"the setting has only {setting.train.scenarios} training scenarios, asked for {n_train}")
    data = training_scenarios(setting, n_train)
    model = build_policy(setting, seed, architecture)
    features = "centred" if getattr(model, "centred", False) else "scaled"
    ckpt = Path(checkpoint) if checkpoint is not None else None
    t_start = time.perf_counter()
    if tr.warm_start != "none" and not (ckpt is not None and ckpt.exists()):
        from coptim.inventory.tuning import tune

        teacher, _ = tune(setting, tr.warm_start)
        warm_start(model, setting, teacher, seed=seed)
    opt = torch.optim.Adam(model.parameters(), lr=tr.learning_rate)
    gen = torch.Generator().manual_seed(seed + 1)
    start_step, best, best_step, history = 0, math.inf, 0, []
    elapsed = time.perf_counter() - t_start
    best_state = copy.deepcopy(model.state_dict())
    if ckpt is not None and ckpt.exists():
        saved = torch.load(ckpt, weights_only=True)
        if saved.get("setting") != setting.name or saved.get("architecture") != (architecture or tr.architecture):
            raise InputError("the checkpoint belongs to another setting or architecture", ckpt)
        if saved.get("features", "scaled") != features:
            raise InputError(f"the checkpoint was trained on {saved.get('features', 'scaled')} features, "
                             f"this network uses {features}; delete it to start over", ckpt)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        gen.set_state(saved["generator"])
        start_step, best, best_step = saved["step"], saved["best"], saved["best_step"]
        best_state = saved["best_model"]
        history = [tuple(h) for h in saved["history"]]
        elapsed = saved["time_s"]
    t0 = time.perf_counter() - elapsed
    batch = min(tr.batch_size, n_train)
    loss_value = math.nan
    end = tr.steps if stop_after is None else min(tr.steps, stop_after)
    for k in range(start_step, end):
        for group in opt.param_groups:
            group["lr"] = learning_rate(tr, k)
        idx = torch.randint(n_train, (batch,), generator=gen)
        loss = rollout(net, model, data.select(idx)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss_value = float(loss.detach())
        done = k + 1
        if done % tr.eval_every == 0 or done == tr.steps:
            val = _validate(setting, model)
            history.append((done, loss_value, val))
            if val < best:
                best, best_step = val, done
                best_state = copy.deepcopy(model.state_dict())
            if ckpt is not None:
                _save(
                    ckpt,
                    {
                        "setting": setting.name,
                        "architecture": architecture or tr.architecture,
                        "features": features,
                        "model": model.state_dict(),
                        "optimizer": opt.state_dict(),
                        "generator": gen.get_state(),
                        "step": done,
                        "best": best,
                        "best_step": best_step,
                        "best_model": best_state,
                        "history": [list(h) for h in history],
                        "time_s": time.perf_counter() - t0,
                    },
                )
        if progress is not None:
            progress(done, loss_value, best)
    if start_step >= tr.steps and not history:
        best = _validate(setting, model)
    model.load_state_dict(best_state)
    return TrainResult(model, best, best_step, tr.steps, time.perf_counter() - t0, history)


class GaussianPolicy(nn.Module):
    """A stochastic wrapper for REINFORCE: Normal(mean = network output, std = exp(log_std) * scale)."""

    def __init__(self, base: nn.Module, net: NetworkTensors, init_std: float = 0.3):
        super().__init__()
        self.base = base
        self.log_std = nn.Parameter(torch.full((net.n,), math.log(init_std)))
        self.register_buffer("scale", net.flow_mean.clamp_min(1e-6))

    def forward(self, net: NetworkTensors, state: State) -> Tensor:
        """The mean action (used at evaluation time)."""
        return self.base(net, state)

    def distribution(self, net: NetworkTensors, state: State) -> torch.distributions.Normal:
        """The action distribution in the given state."""
        return torch.distributions.Normal(self.base(net, state), torch.exp(self.log_std) * self.scale)


def train_reinforce(
    setting: Setting,
    seed: int = 0,
    progress: Callable[[int, float, float], None] | None = None,
    train_scenarios: int | None = None,
) -> TrainResult:
    """Train the same network with REINFORCE (score-function gradients, cost-to-go, mean baseline).

    Uses the same scenarios, steps, batch size and validation as :func:`train_hdpo`.
    """
    tr = setting.training
    net = NetworkTensors.from_setting(setting)
    n_train = train_scenarios or setting.train.scenarios
    data = training_scenarios(setting, n_train)
    base = build_policy(setting, seed, "mlp")
    model = GaussianPolicy(base, net)
    opt = torch.optim.Adam(model.parameters(), lr=tr.learning_rate)
    gen = torch.Generator().manual_seed(seed + 1)
    best, best_step, history = math.inf, 0, []
    best_state = copy.deepcopy(base.state_dict())
    t0 = time.perf_counter()
    batch = min(tr.batch_size, n_train)
    for k in range(tr.steps):
        scen = data.select(torch.randint(n_train, (batch,), generator=gen))
        state = scen.initial
        logps, costs = [], []
        for t in range(scen.horizon):
            dist = model.distribution(net, state)
            action = dist.sample()
            logps.append(dist.log_prob(action).sum(-1))
            with torch.no_grad():
                state, cost, _ = step(net, state, action, scen.demand[:, t])
            costs.append(cost if t >= scen.warmup else torch.zeros_like(cost))
        c = torch.stack(costs, 1)  # (B, T)
        to_go = c.flip(1).cumsum(1).flip(1)
        adv = to_go - to_go.mean(0, keepdim=True)
        adv = adv / (adv.std(0, keepdim=True) + 1e-6)
        loss = (torch.stack(logps, 1) * adv).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        train_cost = float(c[:, scen.warmup :].mean())
        done = k + 1
        if done % tr.eval_every == 0 or done == tr.steps:
            base.eval()
            val = evaluate(setting, base, "validation", integer=True)["cost_per_period"]
            base.train()
            history.append((done, train_cost, val))
            if val < best:
                best, best_step = val, done
                best_state = copy.deepcopy(base.state_dict())
        if progress is not None:
            progress(done, train_cost, best)
    base.load_state_dict(best_state)
    return TrainResult(base, best, best_step, tr.steps, time.perf_counter() - t0, history)
