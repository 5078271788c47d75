"""Training of the attention model: POMO (REINFORCE with the shared multi-start baseline) or imitation.

For every training instance the policy samples one rollout from each of ``starts`` distinct
first actions, on ``augment`` symmetric copies of the instance; the baseline of a rollout is the
mean reward over all rollouts of the same instance (Kwon et al. 2020), so no critic is needed.
With ``method="imitation"`` (CVRP and knapsack) the loss is instead the teacher-forcing loss of
:mod:`coptim.training.teacher` on expert solutions (:mod:`coptim.training.experts`, made before
the first step and cached); everything else below is the same. The learning rate follows
:meth:`TrainConfig.lr_at` (constant or cosine decay, optional linear warm-up), a function of the
step alone.

Resumable: a checkpoint (model, optimiser, the training RNG state, step, epoch, CPU time used)
is written atomically every ``checkpoint_every`` steps and at the end of each epoch; training
started again with the same ``out`` directory continues from it and produces exactly the
weights of an uninterrupted run. Each epoch ends with a validation on a fixed seeded set of
instances whose reference objectives (from a classical solver run through
:func:`coptim.solvers.solve`) are cached on disk; the gaps are measured with the problem's
checker on the original instances.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from coptim.envs.routing import make
from coptim.errors import InputError
from coptim.policies.attention import AttentionModel, ModelConfig
from coptim.policies.decoding import decode, rollout, sampling_select
from coptim.training.checkpoint import (DEFAULT_MAX_NODES, append_log, check_settings, load_file, load_policy,
                                       model_from_payload, policy_payload, restore_training, rewrite_log, save_atomic,
                                       training_state)

CSV_COLUMNS = ("epoch", "step", "samples", "train_cpu_s", "train_wall_s", "samples_per_s", "loss", "mean_reward",
               "val_greedy_gap_pct", "val_multistart_gap_pct", "val_time_s", "train_acc")
#: Training methods of the attention model.
METHODS = ("pomo", "imitation")
#: Learning-rate schedules (see :meth:`TrainConfig.lr_at`).
LR_SCHEDULES = ("constant", "cosine")
#: The validation/reference generator of each problem.
VAL_GENERATOR = {"tsp": "uniform", "cvrp": "uniform", "knapsack": "uncorrelated"}


@dataclass
class TrainConfig:
    """Everything that defines a training run (stored in the checkpoint)."""

    problem: str
    size: int
    epochs: int = 10
    steps_per_epoch: int = 100
    batch_size: int = 64
    lr: float = 1e-4
    weight_decay: float = 1e-6
    starts: int | None = None
    augment: int = 1
    seed: int = 0
    val_size: int = 200
    val_seed: int = 1234
    reference_solver: str | None = None
    reference_time_limit: float | None = None
    checkpoint_every: int = 50
    max_grad_norm: float | None = None
    lr_schedule: str = "constant"
    warmup_steps: int = 0
    min_lr: float = 0.0
    max_nodes: int = DEFAULT_MAX_NODES
    model: dict[str, Any] = field(default_factory=dict)
    #: Weights file to start from (fine-tuning, e.g. to another size); None: random weights from ``seed``.
    init: str | None = None
    #: ``pomo`` (REINFORCE) or ``imitation`` of ``experts`` expert solutions made with seed ``expert_seed``.
    method: str = "pomo"
    experts: int = 0
    expert_seed: int = 0
    #: CVRP pomo only: ``[lo, hi]``, each training instance's capacity drawn uniformly from ``lo..hi``
    #: (None: the uniform distribution's capacity for the size). Validation keeps the standard capacity.
    capacity: list[int] | None = None

    def __post_init__(self) -> None:
        make(self.problem)
        for name in ("size", "epochs", "steps_per_epoch", "batch_size", "augment", "val_size", "checkpoint_every",
                     "max_nodes"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(f"{name} must be a positive integer, got {v!r}")
        if self.problem == "tsp" and self.size < 2:
            raise InputError("a TSP needs at least 2 nodes")
        if self.starts is not None and (isinstance(self.starts, bool) or not isinstance(self.starts, int)
                                        or not 1 <= self.starts <= self.size):
            raise InputError(f"starts must be an integer between 1 and the size {self.size}, got {self.starts!r}")
        if self.augment > 1 and self.problem == "knapsack":
            raise InputError("symmetry augmentation applies to routing problems, not knapsack")
        if self.augment > 8:
            raise InputError(f"augment must be between 1 and 8, got {self.augment}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise InputError(f"learning rate must be a positive number, got {self.lr!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise InputError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if isinstance(self.warmup_steps, bool) or not isinstance(self.warmup_steps, int) or self.warmup_steps < 0:
            raise InputError(f"warmup_steps must be a non-negative integer, got {self.warmup_steps!r}")
        if not (isinstance(self.min_lr, (int, float)) and math.isfinite(self.min_lr) and 0 <= self.min_lr <= self.lr):
            raise InputError(f"min_lr must be a number between 0 and the learning rate {self.lr}, got {self.min_lr!r}")
        if self.method not in METHODS:
            raise InputError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.method == "imitation":
            from coptim.training.teacher import PROBLEMS

            if self.problem not in PROBLEMS:
                raise InputError(f"imitation trains the attention model for {' and '.join(PROBLEMS)}, not "
                                 f"{self.problem!r} (the TSP imitation policy is BQ: coptim.training.imitation)")
            if isinstance(self.experts, bool) or not isinstance(self.experts, int) or self.experts < 1:
                raise InputError(f"imitation needs a positive number of experts, got {self.experts!r}")
            if self.starts is not None or self.augment != 1:
                raise InputError("starts and augment apply to pomo training, not imitation")
        elif self.experts != 0:
            raise InputError("experts apply to imitation, not pomo training")
        if self.capacity is not None:
            if self.problem != "cvrp" or self.method != "pomo":
                raise InputError("a capacity range applies to pomo training on the cvrp only")
            cap = list(self.capacity) if isinstance(self.capacity, (list, tuple)) else None
            if (cap is None or len(cap) != 2 or any(isinstance(c, bool) or not isinstance(c, int) for c in cap)
                    or not 9 <= cap[0] <= cap[1] <= 1_000_000):
                raise InputError(f"capacity must be two integers 9 <= lo <= hi (demands go up to 9), "
                                 f"got {self.capacity!r}")
            self.capacity = cap
        if self.size > self.max_nodes:
            raise InputError(f"size {self.size} is above the policy's node limit {self.max_nodes}")
        self.model = ModelConfig.from_dict({**self.model, "problem": self.problem}).to_dict()

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    @property
    def num_starts(self) -> int:
        return self.starts or self.size

    def lr_at(self, step: int) -> float:
        """The learning rate of gradient step ``step`` (0-based): a function of the step only, so a
        resumed run follows exactly the schedule of an uninterrupted one.

        Linear warm-up from ``lr / warmup_steps`` to ``lr`` over the first ``warmup_steps`` steps, then
        ``constant`` (``lr``) or ``cosine`` (half a cosine from ``lr`` at the end of the warm-up to
        ``min_lr`` at step ``total_steps``).
        """
        return schedule_lr(step, self.lr, self.lr_schedule, self.warmup_steps, self.total_steps, self.min_lr)


def schedule_lr(step: int, lr: float, schedule: str, warmup_steps: int, total_steps: int, min_lr: float) -> float:
    """Warm-up then constant or cosine learning rate at ``step`` (see :meth:`TrainConfig.lr_at`)."""
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    if schedule == "constant":
        return lr
    span = max(total_steps - warmup_steps, 1)
    frac = min(max(step - warmup_steps, 0) / span, 1.0)
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * frac))


#: Training settings added after the first checkpoints were written, with the value that means "as before".
_LATER_DEFAULTS = {"lr_schedule": "constant", "warmup_steps": 0, "min_lr": 0.0, "init": None, "method": "pomo",
                   "experts": 0, "expert_seed": 0, "capacity": None}


def default_reference_solver(problem: str, size: int) -> tuple[str, float | None]:
    """The classical solver that gives the validation references: exact or near-exact where cheap."""
    if problem == "tsp":
        return ("exact", None) if size <= 16 else ("lkh", None)
    if problem == "cvrp":
        return "pyvrp", 2.0
    return "dp", None


def validation_instances(problem: str, size: int, count: int, seed: int) -> list[Any]:
    """The fixed validation set: instance ``i`` from the problem's generator with seed ``(seed, i)``."""
    from coptim import problems

    gen = problems.get(problem).generators[VAL_GENERATOR[problem]]
    return [gen(size, np.random.default_rng([seed, i]), name=f"val-{problem}{size}-s{seed}-{i}") for i in range(count)]


def reference_objectives(problem: str, instances: list[Any], solver: str, time_limit: float | None,
                         cache: Path | None, **options: Any) -> list[float]:
    """Objectives of ``solver`` (with ``options``) on ``instances`` (through :func:`coptim.solvers.solve`),
    cached in ``cache``."""
    from coptim import solvers

    key = {"problem": problem, "solver": solver, "time_limit": time_limit,
           "names": [inst.name for inst in instances], "n": [int(inst.n) for inst in instances]}
    if options:
        key["options"] = options
    if cache is not None and cache.is_file():
        try:
            stored = json.loads(cache.read_text())
            if stored.get("key") == key:
                return [float(v) for v in stored["objectives"]]
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            pass  # recompute a damaged cache
    objectives = []
    for inst in instances:
        res = solvers.solve(problem, inst, solver, time_limit=time_limit, **options)
        if not res.feasible or res.objective is None:
            raise RuntimeError(f"reference solver {solver} found no feasible solution for {inst.name}")
        objectives.append(float(res.objective))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.name + ".tmp")
        tmp.write_text(json.dumps({"key": key, "objectives": objectives}))
        tmp.replace(cache)
    return objectives


def evaluate_gap(model: AttentionModel, problem: str, instances: list[Any], references: list[float],
                 strategy: str = "greedy", batch_size: int = 250, **options: Any) -> tuple[float, list[float]]:
    """Mean gap (percent) of a decoding strategy to the references, measured by the checker."""
    env = make(problem)
    solutions: list[Any] = []
    for lo in range(0, len(instances), batch_size):
        chunk = instances[lo:lo + batch_size]
        solutions += decode(model, env, env.from_instances(chunk), strategy, **options).solutions(env)
    return checked_gap(problem, instances, solutions, references)


def checked_gap(problem: str, instances: list[Any], solutions: list[Any],
                references: list[float]) -> tuple[float, list[float]]:
    """Mean gap (percent) of learned solutions to the references and their objectives, by the problem's checker."""
    from coptim import problems

    prob = problems.get(problem)
    objs: list[float] = []
    for inst, sol in zip(instances, solutions):
        verdict = prob.check(inst, sol)
        if not verdict.feasible:
            raise RuntimeError(f"learned policy produced an infeasible solution: {verdict.violations[0]}")
        objs.append(float(verdict.objective))
    gaps = [problems.gap_percent(o, r, prob.sense) for o, r in zip(objs, references)]
    return float(np.mean(gaps)), objs


def new_model(cfg: TrainConfig) -> AttentionModel:
    """The model of ``cfg``: the weights of ``cfg.init`` if given (same problem and architecture), else
    weights drawn from ``cfg.seed`` (the global torch RNG is left as it was)."""
    if cfg.init is not None:
        model, meta = load_policy(cfg.init, cfg.problem)
        if meta.get("model_config") != cfg.model:
            raise InputError(f"--init weights {cfg.init} have architecture {meta.get('model_config')}, "
                             f"the run asks for {cfg.model}")
        return model
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        return AttentionModel(ModelConfig.from_dict(cfg.model))


def pomo_loss(model: AttentionModel, env, data: dict[str, torch.Tensor], starts: int, augment: int,
              generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The POMO REINFORCE loss of one batch and the mean reward."""
    batch = env.batch_size(data)
    data = env.augment(data, augment)
    fresh = env.reset(data, 1)
    first = env.start_actions(fresh, starts)
    roll = rollout(model, env, data, sampling_select(generator), starts=first)
    reward = roll.reward.view(augment, batch, starts)
    baseline = reward.mean(dim=(0, 2), keepdim=True)
    advantage = (reward - baseline).view_as(roll.log_prob)
    loss = -(advantage.detach() * roll.log_prob).mean()
    return loss, roll.reward.mean().detach()


def train(cfg: TrainConfig, out: str | Path, *, stop_after: int | None = None, time_budget_s: float | None = None,
          on_step: Callable[[int, int, dict[str, Any]], None] | None = None,
          reference_cache: str | Path | None = None, validate: bool = True, expert_dir: str | Path | None = None,
          workers: int = 1, on_shard: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Train (or resume) an attention-model policy (POMO or imitation); returns a summary dict.

    Parameters
    ----------
    cfg
        The run's configuration; a checkpoint in ``out`` must have been made with the same one.
    out
        Directory for ``checkpoint.pt`` (resumable state), ``policy.pt`` (last weights),
        ``best.pt`` (best validation greedy gap), ``log.csv`` and ``reference.json``.
    stop_after
        Stop (with a checkpoint) after this many steps in this call, e.g. to test resuming.
    time_budget_s
        Stop (with a checkpoint) once this much training CPU time (this process, validation
        excluded, summed over resumed runs) has been used.
    on_step
        ``on_step(step, total_steps, info)`` after each step (progress bars).
    reference_cache
        Where to cache the validation references (default ``out/reference.json``).
    validate
        False skips the validation (tests of the loop itself).
    expert_dir, workers, on_shard
        Imitation: the cache of expert solutions (default ``out/experts``), the processes that make
        them and a progress callback ``on_shard(done, total)``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "checkpoint.pt"
    log_path = out / "log.csv"
    env = make(cfg.problem)
    generator = torch.Generator().manual_seed(cfg.seed)
    step, train_cpu, train_wall, samples = 0, 0.0, 0.0, 0
    best_gap = math.inf
    cfg_dict = asdict(cfg)
    if ckpt_path.exists():
        obj = load_file(ckpt_path)
        if obj.get("problem") != cfg.problem or obj.get("size") != cfg.size:
            raise InputError(f"{ckpt_path} is a checkpoint for {obj.get('problem')} size {obj.get('size')}, "
                             f"not {cfg.problem} size {cfg.size}; use another output directory")
        check_settings(obj, cfg_dict, ckpt_path, _LATER_DEFAULTS)
        model = model_from_payload(obj, ckpt_path, cfg.problem)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        step, train_cpu, train_wall, samples, best_gap = restore_training(obj, optimizer, generator)
        rewrite_log(log_path, CSV_COLUMNS, "step", step)
    else:
        model = new_model(cfg)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    model.train()
    # expert solutions after the resume check, so a run refused for other settings makes none
    expert_arrays = None
    if cfg.method == "imitation":
        from coptim.training import experts, teacher

        arrays = experts.expert_data(cfg.problem, cfg.size, cfg.experts, cfg.expert_seed,
                                     expert_dir or out / "experts", workers=workers, on_shard=on_shard)
        expert_arrays = {k: torch.from_numpy(v) for k, v in arrays.items()}

    def save_checkpoint() -> None:
        save_atomic(policy_payload(model, cfg.size, cfg.max_nodes, extra={
            "epoch": step // cfg.steps_per_epoch, **training_state(
                optimizer, generator, cfg_dict, step=step, train_cpu_s=train_cpu, train_wall_s=train_wall,
                samples=samples, best_gap=best_gap)}), ckpt_path)

    val_insts, refs = None, None
    if validate:
        solver, limit = cfg.reference_solver, cfg.reference_time_limit
        if solver is None:
            solver, limit = default_reference_solver(cfg.problem, cfg.size)
        val_insts = validation_instances(cfg.problem, cfg.size, cfg.val_size, cfg.val_seed)
        cache = Path(reference_cache) if reference_cache else out / "reference.json"
        refs = reference_objectives(cfg.problem, val_insts, solver, limit, cache)

    done_here = 0
    loss_sum, reward_sum, count = 0.0, 0.0, 0
    stopped = "finished"
    while step < cfg.total_steps:
        if stop_after is not None and done_here >= stop_after:
            stopped = "stop_after"
            break
        if time_budget_s is not None and train_cpu >= time_budget_s:
            stopped = "time_budget"
            break
        c0, w0 = time.process_time(), time.perf_counter()
        lr = cfg.lr_at(step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        if expert_arrays is None:
            data = env.generate(cfg.batch_size, cfg.size, generator,
                                **({} if cfg.capacity is None else {"capacity": tuple(cfg.capacity)}))
            loss, tracked = pomo_loss(model, env, data, cfg.num_starts, cfg.augment, generator)
        else:
            ids = torch.randint(cfg.experts, (cfg.batch_size,), generator=generator)
            data, actions, targets = teacher.expert_batch(cfg.problem, expert_arrays, ids, env, generator)
            loss, tracked = teacher.imitation_loss(model, env, data, actions, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
        optimizer.step()
        train_cpu += time.process_time() - c0
        train_wall += time.perf_counter() - w0
        step += 1
        done_here += 1
        samples += cfg.batch_size
        loss_sum, reward_sum, count = loss_sum + float(loss.detach()), reward_sum + float(tracked), count + 1
        info = {"loss": float(loss.detach()), "reward" if expert_arrays is None else "acc": float(tracked),
                "train_cpu_s": train_cpu, "lr": lr}
        epoch_end = step % cfg.steps_per_epoch == 0
        if epoch_end:
            row = {"epoch": step // cfg.steps_per_epoch, "step": step, "samples": samples,
                   "train_cpu_s": round(train_cpu, 3), "train_wall_s": round(train_wall, 3),
                   "samples_per_s": round(samples / max(train_cpu, 1e-9), 2),
                   "loss": loss_sum / max(count, 1)}
            # tracked: the mean reward (pomo) or the share of decisions where the policy's first choice
            # keeps an expert solution reachable (imitation)
            row["mean_reward" if expert_arrays is None else "train_acc"] = reward_sum / max(count, 1)
            loss_sum, reward_sum, count = 0.0, 0.0, 0
            if validate:
                v0 = time.perf_counter()
                model.eval()
                g_gap, _ = evaluate_gap(model, cfg.problem, val_insts, refs, "greedy")
                m_gap, _ = evaluate_gap(model, cfg.problem, val_insts, refs, "multistart")
                model.train()
                row.update(val_greedy_gap_pct=g_gap, val_multistart_gap_pct=m_gap,
                           val_time_s=round(time.perf_counter() - v0, 3))
                info.update(val_greedy_gap_pct=g_gap, val_multistart_gap_pct=m_gap)
                if g_gap < best_gap:
                    best_gap = g_gap
                    save_atomic(policy_payload(model, cfg.size, cfg.max_nodes,
                                               extra={"step": step, "val_greedy_gap_pct": g_gap}), out / "best.pt")
            save_checkpoint()
            append_log(log_path, CSV_COLUMNS, row)
        elif step % cfg.checkpoint_every == 0:
            save_checkpoint()
        if on_step is not None:
            on_step(step, cfg.total_steps, info)
    if step % cfg.steps_per_epoch != 0 or stopped == "finished":
        save_checkpoint()
    save_atomic(policy_payload(model, cfg.size, cfg.max_nodes, extra={"step": step}), out / "policy.pt")
    return {"step": step, "samples": samples, "train_cpu_s": train_cpu, "train_wall_s": train_wall,
            "samples_per_cpu_s": samples / max(train_cpu, 1e-9), "best_val_greedy_gap_pct": best_gap,
            "stopped": stopped, "out": str(out)}
