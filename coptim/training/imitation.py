"""Imitation learning of the BQ policy (:mod:`coptim.policies.bq`) from expert TSP tours.

Expert data: uniform TSP instances solved by LKH-3, made and cached by
:func:`coptim.training.experts.expert_data`.

Sub-path augmentation (the BQ-NCO construction): a suffix of an optimal tour is an optimal
solution of the sub-problem "from its first node, through the nodes left, back to the tour's
start". Each training sample takes an expert tour, rotates it to a random start, reverses it with
probability 1/2, applies one of the 8 symmetries of the square, and cuts it at a random point:
the sample is the sub-problem after the cut and its label the expert's next node. One batch shares
one sub-problem size (drawn uniformly), so it is one dense tensor. Loss: cross-entropy.

Training resumes from ``checkpoint.pt`` exactly like :func:`coptim.training.pomo.train` (same
files: ``checkpoint.pt``, ``best.pt`` by validation greedy gap, ``policy.pt``, ``log.csv``,
``reference.json``); the validation gap is measured with the TSP checker on the original instances.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from coptim.envs.routing import random_symmetry
from coptim.errors import InputError
from coptim.policies.bq import (FORMAT, BQConfig, BQModel, decode, load, model_from_payload, payload,
                               subproblem_tokens)
from coptim.training import experts
from coptim.training.checkpoint import (append_log, check_settings, read_file, restore_training, rewrite_log,
                                       save_atomic, training_state)
from coptim.training.pomo import (LR_SCHEDULES, checked_gap, default_reference_solver, reference_objectives,
                                  schedule_lr, validation_instances)

CSV_COLUMNS = ("epoch", "step", "samples", "train_cpu_s", "train_wall_s", "samples_per_s", "loss",
               "val_greedy_gap_pct", "val_time_s")


# ------------------------------------------------------------------------------ expert data
def expert_data(size: int, count: int, seed: int, directory: str | Path, *, workers: int = 1,
                on_shard: Callable[[int, int], None] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Make (or complete) and load ``count`` expert tours of TSP``size``: ``(coords (N, n, 2), tours (N, n))``
    (:func:`coptim.training.experts.expert_data`)."""
    data = experts.expert_data("tsp", size, count, seed, directory, workers=workers, on_shard=on_shard)
    return torch.from_numpy(data["coords"]), torch.from_numpy(data["tours"].astype(np.int64))


# ------------------------------------------------------------------------------ samples
def subpath_nodes(tours: torch.Tensor, batch_size: int,
                  generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Draw ``batch_size`` sub-path samples: ``(ids, origin, destination, candidates)``.

    ``ids`` ``(B,)`` expert instances; each tour is rotated to a random start, reversed with
    probability 1/2 and cut after a random position (one sub-problem size per batch): ``origin``
    ``(B,)`` is the node at the cut, ``destination`` ``(B,)`` the tour's start, ``candidates``
    ``(B, r)`` the nodes after the cut in tour order, so the label (the expert's next node) is
    candidate 0. The network is equivariant to the order of the candidates, so this tells it nothing.
    """
    n = tours.shape[1]
    ids = torch.randint(tours.shape[0], (batch_size,), generator=generator)
    t = tours[ids]
    shift = torch.randint(n, (batch_size, 1), generator=generator)
    t = t.gather(1, (torch.arange(n).unsqueeze(0) + shift) % n)
    rev = torch.rand(batch_size, 1, generator=generator) < 0.5
    t = torch.where(rev, torch.cat([t[:, :1], t[:, 1:].flip(1)], dim=1), t)
    r = int(torch.randint(2, n, (1,), generator=generator))  # nodes left after the origin (n >= 3)
    cut = n - 1 - r
    return ids, t[:, cut], t[:, 0], t[:, cut + 1:]


def subpath_batch(coords: torch.Tensor, tours: torch.Tensor, batch_size: int,
                  generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One training batch: tokens ``(B, 2 + r, 2)`` of random sub-paths under random symmetries, labels ``(B,)``."""
    ids, origin, dest, cand = subpath_nodes(tours, batch_size, generator)
    xy = random_symmetry(coords[ids], generator)
    return subproblem_tokens(xy, origin, dest, cand), torch.zeros(batch_size, dtype=torch.long)


# ------------------------------------------------------------------------------ training
@dataclass
class ImitationConfig:
    """Everything that defines an imitation run (stored in the checkpoint)."""

    size: int
    experts: int = 10000
    epochs: int = 10
    steps_per_epoch: int = 500
    batch_size: int = 128
    lr: float = 5e-4
    weight_decay: float = 1e-6
    lr_schedule: str = "cosine"
    warmup_steps: int = 200
    min_lr: float = 0.0
    seed: int = 0
    expert_seed: int = 0
    val_size: int = 100
    val_seed: int = 1234
    knn: int | None = None
    checkpoint_every: int = 100
    max_grad_norm: float | None = 1.0
    model: dict[str, Any] = field(default_factory=dict)
    #: BQ weights file to start from (continued training); None: random weights from ``seed``.
    init: str | None = None

    def __post_init__(self) -> None:
        for name in ("size", "experts", "epochs", "steps_per_epoch", "batch_size", "val_size", "checkpoint_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(f"{name} must be a positive integer, got {v!r}")
        if self.size < 3:
            raise InputError(f"imitation needs TSP instances of at least 3 nodes, got size {self.size}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise InputError(f"learning rate must be a positive number, got {self.lr!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise InputError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if isinstance(self.warmup_steps, bool) or not isinstance(self.warmup_steps, int) or self.warmup_steps < 0:
            raise InputError(f"warmup_steps must be a non-negative integer, got {self.warmup_steps!r}")
        if self.knn is not None and (isinstance(self.knn, bool) or not isinstance(self.knn, int) or self.knn < 2):
            raise InputError(f"knn must be an integer of at least 2, got {self.knn!r}")
        self.model = BQConfig.from_dict({**self.model, "problem": "tsp"}).to_dict()

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch


def evaluate_gap(model: BQModel, instances: list[Any], references: list[float], *, starts: int = 1,
                 augment: int = 1, knn: int | None = None, batch_size: int = 100) -> tuple[float, list[float]]:
    """Mean gap (percent) of the BQ policy's tours to the references, measured by the TSP checker."""
    from coptim.envs.routing import normalise_coords

    tours: list[list[int]] = []
    for lo in range(0, len(instances), batch_size):
        chunk = instances[lo:lo + batch_size]
        coords = torch.as_tensor(np.stack([normalise_coords(i.coords) for i in chunk]), dtype=torch.float32)
        tours += decode(model, coords, starts=starts, augment=augment, knn=knn).tolist()
    return checked_gap("tsp", instances, tours, references)


def new_model(cfg: ImitationConfig) -> BQModel:
    """The model of ``cfg``: the weights of ``cfg.init`` if given (same architecture), else weights drawn
    from ``cfg.seed`` (the global torch RNG is left as it was)."""
    if cfg.init is not None:
        model, meta = load(cfg.init)
        if meta.get("model_config") != cfg.model:
            raise InputError(f"--init weights {cfg.init} have architecture {meta.get('model_config')}, "
                             f"the run asks for {cfg.model}")
        return model
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        return BQModel(BQConfig.from_dict(cfg.model))


def train(cfg: ImitationConfig, out: str | Path, *, expert_dir: str | Path | None = None, workers: int = 1,
          stop_after: int | None = None, time_budget_s: float | None = None,
          on_step: Callable[[int, int, dict[str, Any]], None] | None = None,
          on_shard: Callable[[int, int], None] | None = None, validate: bool = True) -> dict[str, Any]:
    """Make the expert data if needed, then train (or resume) a BQ policy; returns a summary dict.

    ``expert_dir`` defaults to ``out/experts``; ``workers`` processes solve the expert shards.
    ``stop_after``, ``time_budget_s`` (training CPU seconds, summed over resumed runs) and
    ``on_step`` are as in :func:`coptim.training.pomo.train`.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path, log_path = out / "checkpoint.pt", out / "log.csv"
    generator = torch.Generator().manual_seed(cfg.seed)
    step, train_cpu, train_wall, samples = 0, 0.0, 0.0, 0
    best_gap = math.inf
    cfg_dict = asdict(cfg)
    if ckpt_path.exists():
        obj = read_file(ckpt_path, FORMAT, "coptim BQ checkpoint")
        check_settings(obj, cfg_dict, ckpt_path, {"init": None})
        model = model_from_payload(obj, ckpt_path)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        step, train_cpu, train_wall, samples, best_gap = restore_training(obj, optimizer, generator)
        rewrite_log(log_path, CSV_COLUMNS, "step", step)
    else:
        model = new_model(cfg)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    model.train()
    # expert tours after the resume check, so a run refused for other settings makes none
    coords, tours = expert_data(cfg.size, cfg.experts, cfg.expert_seed, expert_dir or out / "experts",
                                workers=workers, on_shard=on_shard)

    def save_checkpoint() -> None:
        save_atomic(payload(model, cfg.size, cfg.knn, extra=training_state(
            optimizer, generator, cfg_dict, step=step, train_cpu_s=train_cpu, train_wall_s=train_wall,
            samples=samples, best_gap=best_gap)), ckpt_path)

    val_insts, refs = None, None
    if validate:
        solver, limit = default_reference_solver("tsp", cfg.size)
        val_insts = validation_instances("tsp", cfg.size, cfg.val_size, cfg.val_seed)
        refs = reference_objectives("tsp", val_insts, solver, limit, out / "reference.json")

    done_here, loss_sum, count = 0, 0.0, 0
    stopped = "finished"
    while step < cfg.total_steps:
        if stop_after is not None and done_here >= stop_after:
            stopped = "stop_after"
            break
        if time_budget_s is not None and train_cpu >= time_budget_s:
            stopped = "time_budget"
            break
        c0, w0 = time.process_time(), time.perf_counter()
        lr = schedule_lr(step, cfg.lr, cfg.lr_schedule, cfg.warmup_steps, cfg.total_steps, cfg.min_lr)
        for group in optimizer.param_groups:
            group["lr"] = lr
        tokens, labels = subpath_batch(coords, tours, cfg.batch_size, generator)
        loss = F.cross_entropy(model(tokens), labels)
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
        loss_sum, count = loss_sum + float(loss.detach()), count + 1
        info: dict[str, Any] = {"loss": float(loss.detach()), "train_cpu_s": train_cpu, "lr": lr}
        if step % cfg.steps_per_epoch == 0:
            row: dict[str, Any] = {"epoch": step // cfg.steps_per_epoch, "step": step, "samples": samples,
                                   "train_cpu_s": round(train_cpu, 3), "train_wall_s": round(train_wall, 3),
                                   "samples_per_s": round(samples / max(train_cpu, 1e-9), 2),
                                   "loss": loss_sum / max(count, 1)}
            loss_sum, count = 0.0, 0
            if validate:
                v0 = time.perf_counter()
                model.eval()
                gap, _ = evaluate_gap(model, val_insts, refs)
                model.train()
                row.update(val_greedy_gap_pct=gap, val_time_s=round(time.perf_counter() - v0, 3))
                info["val_greedy_gap_pct"] = gap
                if gap < best_gap:
                    best_gap = gap
                    save_atomic(payload(model, cfg.size, cfg.knn, extra={"step": step, "val_greedy_gap_pct": gap}),
                                out / "best.pt")
            save_checkpoint()
            append_log(log_path, CSV_COLUMNS, row)
        elif step % cfg.checkpoint_every == 0:
            save_checkpoint()
        if on_step is not None:
            on_step(step, cfg.total_steps, info)
    if step % cfg.steps_per_epoch != 0 or stopped == "finished":
        save_checkpoint()
    model.eval()
    save_atomic(payload(model, cfg.size, cfg.knn, extra={"step": step}), out / "policy.pt")
    return {"step": step, "samples": samples, "train_cpu_s": train_cpu, "train_wall_s": train_wall,
            "samples_per_cpu_s": samples / max(train_cpu, 1e-9), "best_val_greedy_gap_pct": best_gap,
            "stopped": stopped, "out": str(out)}
