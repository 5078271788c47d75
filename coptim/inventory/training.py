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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn

from coptim.errors import InputError
from coptim.inventory.evaluation import evaluate, rollout
from coptim.inventory.settings import Setting
from coptim.inventory.simulator import NetworkTensors, Scenarios, State, as_action, make_scenarios, step


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
    With transshipment only the orders are imitated (the flows are not fitted).

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
        pred = as_action(model(net, State(on_hand[idx], pipeline[idx]))).order / net.flow_mean.clamp_min(1e-6)
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


class _Run:
    """What a training run carries from step to step, saved to and resumed from one checkpoint file.

    ``model`` is what the optimiser updates (for REINFORCE the Gaussian wrapper); ``policy`` is
    the deterministic network that is validated and returned.
    """

    def __init__(self, setting: Setting, method: str, architecture: str, model: nn.Module, policy: nn.Module,
                 opt: torch.optim.Optimizer, seed: int, checkpoint: str | Path | None):
        self.setting, self.method, self.architecture = setting, method, architecture
        self.model, self.policy, self.opt = model, policy, opt
        self.features = "centred" if getattr(policy, "centred", False) else "scaled"
        self.gen = torch.Generator().manual_seed(seed + 1)
        self.path = Path(checkpoint) if checkpoint is not None else None
        self.step, self.best, self.best_step, self.history = 0, math.inf, 0, []
        self.best_state = copy.deepcopy(policy.state_dict())
        self.t0 = time.perf_counter()

    def resume(self) -> bool:
        """Load the checkpoint if there is one; True if it was loaded."""
        if self.path is None or not self.path.exists():
            return False
        try:
            saved = torch.load(self.path, weights_only=True)
        except Exception as err:  # truncated or foreign file
            raise InputError(f"cannot read the checkpoint ({err}); delete it to start over", self.path) from None
        if (saved.get("setting"), saved.get("architecture")) != (self.setting.name, self.architecture):
            raise InputError("the checkpoint belongs to another setting or architecture", self.path)
        if saved.get("method", "hdpo") != self.method:
            raise InputError(f"the checkpoint was made by {saved.get('method', 'hdpo')}, not {self.method}", self.path)
        options = asdict(self.setting.training)
        if saved.get("training") != options:
            changed = sorted(k for k in options if (saved.get("training") or {}).get(k) != options[k])
            raise InputError(f"the checkpoint was made with other training options ({', '.join(changed)}); "
                             "delete it to start over", self.path)
        if saved.get("features", "scaled") != self.features:
            raise InputError(f"the checkpoint was trained on {saved.get('features', 'scaled')} features, "
                             f"this network uses {self.features}; delete it to start over", self.path)
        self.model.load_state_dict(saved["model"])
        self.opt.load_state_dict(saved["optimizer"])
        self.gen.set_state(saved["generator"])
        self.step, self.best, self.best_step = saved["step"], saved["best"], saved["best_step"]
        self.best_state = saved["best_model"]
        self.history = [tuple(h) for h in saved["history"]]
        self.t0 = time.perf_counter() - saved["time_s"]
        return True

    def end_of_step(self, done: int, loss: float) -> None:
        """Record step ``done``; validate, keep the best and save the checkpoint when it is due."""
        self.step = done
        tr = self.setting.training
        if done % tr.eval_every == 0 or done == tr.steps:
            val = _validate(self.setting, self.policy)
            self.history.append((done, loss, val))
            if val < self.best:
                self.best, self.best_step = val, done
                self.best_state = copy.deepcopy(self.policy.state_dict())
            if self.path is not None:
                _save(self.path, {
                    "setting": self.setting.name, "architecture": self.architecture, "method": self.method,
                    "training": asdict(self.setting.training),
                    "features": self.features, "model": self.model.state_dict(),
                    "optimizer": self.opt.state_dict(), "generator": self.gen.get_state(), "step": done,
                    "best": self.best, "best_step": self.best_step, "best_model": self.best_state,
                    "history": [list(h) for h in self.history], "time_s": time.perf_counter() - self.t0,
                })

    def result(self) -> "TrainResult":
        """The best network on validation and the history."""
        if not self.history and self.step >= self.setting.training.steps:
            self.best = _validate(self.setting, self.policy)
        self.policy.load_state_dict(self.best_state)
        return TrainResult(self.policy, self.best, self.best_step, self.setting.training.steps,
                           time.perf_counter() - self.t0, self.history)


def _training_data(setting: Setting, train_scenarios: int | None) -> tuple[int, Scenarios]:
    n_train = train_scenarios or setting.train.scenarios
    if n_train > setting.train.scenarios:
        raise InputError(f"the setting has only {setting.train.scenarios} training scenarios, asked for {n_train}")
    return n_train, training_scenarios(setting, n_train)


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
    arch = architecture or tr.architecture
    net = NetworkTensors.from_setting(setting)
    n_train, data = _training_data(setting, train_scenarios)
    model = build_policy(setting, seed, arch)
    resuming = checkpoint is not None and Path(checkpoint).exists()
    t_warm = time.perf_counter()
    if tr.warm_start != "none" and not resuming:
        from coptim.inventory.tuning import tune

        teacher, _ = tune(setting, tr.warm_start)
        warm_start(model, setting, teacher, seed=seed)
    run = _Run(setting, "hdpo", arch, model, model, torch.optim.Adam(model.parameters(), lr=tr.learning_rate),
               seed, checkpoint)
    if not run.resume():
        run.t0 = t_warm  # the warm start counts as training time
    batch = min(tr.batch_size, n_train)
    end = tr.steps if stop_after is None else min(tr.steps, stop_after)
    for k in range(run.step, end):
        for group in run.opt.param_groups:
            group["lr"] = learning_rate(tr, k)
        idx = torch.randint(n_train, (batch,), generator=run.gen)
        loss = rollout(net, model, data.select(idx)).mean()
        run.opt.zero_grad()
        loss.backward()
        run.opt.step()
        run.end_of_step(k + 1, float(loss.detach()))
        if progress is not None:
            progress(k + 1, float(loss.detach()), run.best)
    return run.result()


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
    checkpoint: str | Path | None = None,
    progress: Callable[[int, float, float], None] | None = None,
    train_scenarios: int | None = None,
    stop_after: int | None = None,
) -> TrainResult:
    """Train the same MLP with REINFORCE (score-function gradients, cost-to-go, mean baseline).

    Uses the same scenarios, steps, batch size, step-size schedule, validation and
    checkpointing as :func:`train_hdpo`; the Gaussian noise's scale is learned too and
    saved in the checkpoint, but the returned network is the deterministic mean policy.
    """
    tr = setting.training
    net = NetworkTensors.from_setting(setting)
    n_train, data = _training_data(setting, train_scenarios)
    base = build_policy(setting, seed, "mlp")
    model = GaussianPolicy(base, net)
    run = _Run(setting, "reinforce", "mlp", model, base, torch.optim.Adam(model.parameters(), lr=tr.learning_rate),
               seed, checkpoint)
    run.resume()
    batch = min(tr.batch_size, n_train)
    end = tr.steps if stop_after is None else min(tr.steps, stop_after)
    for k in range(run.step, end):
        for group in run.opt.param_groups:
            group["lr"] = learning_rate(tr, k)
        scen = data.select(torch.randint(n_train, (batch,), generator=run.gen))
        state = scen.initial
        logps, costs = [], []
        for t in range(scen.horizon):
            dist = model.distribution(net, state)
            noise = torch.randn(dist.mean.shape, generator=run.gen)  # seeded, resumable
            action = (dist.mean + dist.stddev * noise).detach()
            logps.append(dist.log_prob(action).sum(-1))
            with torch.no_grad():
                state, cost, _ = step(net, state, action, scen.demand[:, t])
            costs.append(cost if t >= scen.warmup else torch.zeros_like(cost))
        c = torch.stack(costs, 1)  # (B, T)
        to_go = c.flip(1).cumsum(1).flip(1)
        adv = to_go - to_go.mean(0, keepdim=True)
        adv = adv / (adv.std(0, keepdim=True) + 1e-6)
        loss = (torch.stack(logps, 1) * adv).mean()
        run.opt.zero_grad()
        loss.backward()
        run.opt.step()
        train_cost = float(c[:, scen.warmup :].mean())
        run.end_of_step(k + 1, train_cost)
        if progress is not None:
            progress(k + 1, train_cost, run.best)
    return run.result()
