"""Imitation learning of strong branching (Gasse et al. 2019): cross-entropy on the expert's choice.

Recipe (Gasse's defaults): Adam, learning rate 1e-3, batches of 32 samples, the learning rate
multiplied by 0.2 when the validation loss has not improved for 10 epochs (``ReduceLROnPlateau``),
training stopped when it has not improved for 20 epochs; before the first epoch the
pre-normalisation of the inputs is fitted on the training samples and frozen
(:meth:`~coptim.branching.model.GCNNPolicy.fit_prenorm`). An epoch is one pass over the training
samples in a seeded random order, or ``epoch_size`` batches drawn with replacement as Gasse does
(``epoch_size=312``).

Accuracy (:func:`evaluate`): ``acc@k`` is the fraction of held-out samples where one of the ``k``
candidates with the highest logits has the expert's best strong-branching score; as in Gasse et
al., a candidate tied with the best score counts as correct. Samples without finite scores fall
back to the expert's action.

Resumable: after every epoch ``checkpoint.pt`` (weights, optimizer, scheduler, the sampling RNG,
epoch, best loss, timings) is written atomically; training started again with the same ``out``
folder, data and settings continues from it and ends with exactly the weights of an uninterrupted
run (for the same thread count). Files in ``out``: ``checkpoint.pt``, ``policy.pt`` (last weights),
``best.pt`` (lowest validation loss: the one to ship), ``log.csv`` (one row per epoch).
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

from coptim.branching.model import (PolicyConfig, build_policy, candidate_logits, load_file, pad_candidates,
                                    policy_from_payload, policy_payload)
from coptim.errors import InputError

#: Top-k accuracies reported by :func:`evaluate` and in the log.
TOPK = (1, 3, 5, 10)
CSV_COLUMNS = ("epoch", "lr", "samples", "train_loss", "train_acc1", "valid_loss",
               *(f"valid_acc{k}" for k in TOPK), "best_valid_loss", "train_s", "valid_s")
#: Arithmetic of training and validation: fp32, or bf16 autocast (about twice as fast on CPUs with bf16).
PRECISIONS = ("fp32", "bf16")
#: Settings that may differ when a run is resumed (they do not change the trajectory so far).
_RESUMABLE_CHANGES = ("epochs", "early_stopping", "time_budget_s")
#: Settings added after the first checkpoints, with the value that means "as before".
_LATER_DEFAULTS = {"precision": "fp32", "init": None}


@dataclass
class TrainConfig:
    """Everything that defines an imitation run (stored in the checkpoint).

    Parameters
    ----------
    epochs
        Maximum number of epochs.
    batch_size
        Training samples per gradient step (32 as Gasse).
    lr
        Adam learning rate (1e-3).
    seed
        Seed of the initial weights and of the sample order.
    epoch_size
        Batches per epoch drawn with replacement (Gasse: 312); None: one pass over the samples.
    lr_patience, lr_factor
        Multiply the learning rate by ``lr_factor`` after ``lr_patience`` epochs without a better
        validation loss (10 and 0.2).
    early_stopping
        Stop after this many epochs without a better validation loss (20).
    valid_batch_size
        Samples per validation batch.
    prenorm_samples
        Training samples (in file order) the pre-normalisation is fitted on (None: all).
    time_budget_s
        Stop at the end of the first epoch at which this much training wall time has been spent.
    precision
        ``fp32``, or ``bf16``: forward passes of training and validation under bf16 autocast
        (weights, optimizer and loss stay fp32; about twice as fast on CPUs with bf16 support).
    model
        Architecture settings: ``arch`` and ``emb_size`` (see :class:`PolicyConfig`).
    init
        A policy file whose weights (pre-normalisation included) start the run instead of random
        weights: fine-tuning on more data. Its architecture and feature layout must match.
    """

    epochs: int = 100
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0
    epoch_size: int | None = None
    lr_patience: int = 10
    lr_factor: float = 0.2
    early_stopping: int = 20
    valid_batch_size: int = 128
    prenorm_samples: int | None = 10_000
    time_budget_s: float | None = None
    precision: str = "fp32"
    model: dict[str, Any] = field(default_factory=dict)
    init: str | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "lr_patience", "early_stopping", "valid_batch_size"):
            _positive_int(name, getattr(self, name))
        for name in ("epoch_size", "prenorm_samples"):
            if getattr(self, name) is not None:
                _positive_int(name, getattr(self, name))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise InputError(f"seed must be an integer, got {self.seed!r}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise InputError(f"learning rate must be a positive number, got {self.lr!r}")
        if not (isinstance(self.lr_factor, (int, float)) and 0 < self.lr_factor < 1):
            raise InputError(f"lr_factor must be in (0, 1), got {self.lr_factor!r}")
        if self.time_budget_s is not None and not (isinstance(self.time_budget_s, (int, float))
                                                   and self.time_budget_s > 0):
            raise InputError(f"time_budget_s must be positive, got {self.time_budget_s!r}")
        if self.precision not in PRECISIONS:
            raise InputError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        unknown = sorted(set(self.model) - {"arch", "emb_size"})
        if unknown:
            raise InputError(f"unknown model setting(s) {', '.join(unknown)}; use arch and emb_size")
        PolicyConfig(**self.model)  # validate early


def autocast(precision: str) -> Any:
    """The arithmetic context of ``precision`` (a context manager, not a process-wide setting)."""
    if precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _positive_int(name: str, v: Any) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise InputError(f"{name} must be a positive integer, got {v!r}")


# ----------------------------------------------------------------------------- data


def open_samples(source: Any, what: str) -> Any:
    """A dataset of samples: a folder (read with ``BranchingDataset``) or a sequence of ``Data`` as is."""
    if isinstance(source, (str, Path)):
        folder = Path(source)
        if not folder.is_dir():
            raise InputError(f"{what} sample folder not found: {folder}")
        from coptim.branching.dataset import BranchingDataset

        source = BranchingDataset(folder)
    if len(source) == 0:
        raise InputError(f"no {what} samples")
    return source


def feature_layout_of(dataset: Any) -> str:
    """The feature layout of a dataset: its ``feature_layout`` attribute, its first sample's, or the extractor's."""
    layout = getattr(dataset, "feature_layout", None)
    if layout is None:
        layout = getattr(dataset[0], "feature_layout", None)
    if isinstance(layout, (list, tuple)) and layout:
        layout = layout[0]
    if layout is None:
        try:
            from coptim.branching.features import FEATURE_LAYOUT as layout
        except ImportError:
            layout = "unknown"
    return str(layout)


def _dims(dataset: Any) -> dict[str, int]:
    s = dataset[0]
    return {"n_constraint_features": int(s.constraint_features.shape[1]),
            "n_edge_features": int(s.edge_attr.shape[1]),
            "n_variable_features": int(s.variable_features.shape[1])}


def _loader(dataset: Any, indices: Sequence[int] | None, batch_size: int) -> Any:
    from torch.utils.data import Subset
    from torch_geometric.loader import DataLoader

    data = dataset if indices is None else Subset(dataset, list(indices))
    return DataLoader(data, batch_size=batch_size, shuffle=False)


# ----------------------------------------------------------------------------- loss and accuracy


def batch_loss(model: torch.nn.Module, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy of the expert's actions over the graphs of a batch, and the padded logits."""
    padded = pad_candidates(candidate_logits(model, batch), batch.n_candidates)
    target = batch.action.reshape(-1).to(torch.long)
    return F.cross_entropy(padded, target), padded


def topk_correct(padded_logits: torch.Tensor, batch: Any, ks: Sequence[int] = TOPK) -> torch.Tensor:
    """Per graph and k: 1 if one of the k best-scored candidates has the expert's best score (ties count).

    Returns
    -------
    torch.Tensor
        Shape ``(graphs, len(ks))``, float 0/1.
    """
    n = batch.n_candidates.reshape(-1).to(torch.long)
    action = batch.action.reshape(-1).to(torch.long)
    rows = torch.arange(n.numel())
    scores = getattr(batch, "candidate_scores", None)
    if scores is not None:
        s = pad_candidates(scores.reshape(-1).to(torch.float64), n, fill=math.nan)
        s = torch.where(torch.isfinite(s), s, torch.full_like(s, -math.inf))
        best = s.max(dim=1).values
        good = (s >= best[:, None]) & torch.isfinite(best)[:, None]
        no_scores = ~torch.isfinite(best)
    else:
        good = torch.zeros_like(padded_logits, dtype=torch.bool)
        no_scores = torch.ones(n.numel(), dtype=torch.bool)
    good[rows[no_scores], action[no_scores]] = True
    width = padded_logits.shape[1]
    order = padded_logits.argsort(dim=1, descending=True, stable=True)
    picked_good = good.gather(1, order)  # (graphs, width), sorted by logit
    valid = torch.arange(width)[None, :] < n[:, None]
    picked_good &= valid
    out = []
    for k in ks:
        out.append(picked_good[:, :min(k, width)].any(dim=1))
    return torch.stack(out, dim=1).to(torch.float64)


@torch.no_grad()
def evaluate(model: torch.nn.Module, dataset: Any, batch_size: int = 128, ks: Sequence[int] = TOPK,
             precision: str = "fp32") -> dict[str, float]:
    """Mean loss and ``acc@k`` of a policy on samples (see the module docstring for ties).

    Parameters
    ----------
    model
        The policy (its train/eval mode is restored).
    dataset
        A folder of samples or a sequence of ``Data``.
    precision
        ``fp32`` or ``bf16`` (autocast).
    """
    dataset = open_samples(dataset, "evaluation")
    layout = feature_layout_of(dataset)
    if layout not in ("unknown", model.feature_layout):
        raise InputError(f"the policy was trained on feature layout {model.feature_layout!r}, the samples have {layout!r}")
    was_training = model.training
    model.eval()
    loss_sum, count = 0.0, 0
    correct = torch.zeros(len(ks), dtype=torch.float64)
    try:
        for batch in _loader(dataset, None, batch_size):
            with autocast(precision):
                loss, padded = batch_loss(model, batch)
            padded = padded.float()
            g = int(batch.n_candidates.numel())
            loss_sum += float(loss) * g
            count += g
            correct += topk_correct(padded, batch, ks).sum(0)
    finally:
        model.train(was_training)
    res = {"loss": loss_sum / count, "samples": count}
    res.update({f"acc{k}": float(c) / count for k, c in zip(ks, correct)})
    return res


# ----------------------------------------------------------------------------- log


# ----------------------------------------------------------------------------- training


def new_policy(cfg: TrainConfig, dims: dict[str, int], layout: str) -> torch.nn.Module:
    """The network of ``cfg`` with weights drawn from ``cfg.seed`` (the global torch RNG is left as it was)."""
    pcfg = PolicyConfig(**cfg.model, **dims, feature_layout=layout)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        return build_policy(pcfg)


def train(cfg: TrainConfig, train_data: Any, valid_data: Any, out: str | Path, *,
          stop_after_epochs: int | None = None,
          on_epoch: Callable[[int, dict[str, Any]], None] | None = None,
          on_batch: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Train (or resume) a branching policy by imitation; returns a summary.

    Parameters
    ----------
    cfg
        The run's settings; a checkpoint in ``out`` must have been made with the same ones
        (``epochs``, ``early_stopping`` and ``time_budget_s`` may change).
    train_data, valid_data
        Sample folders (``.npz`` files, read with ``BranchingDataset``) or sequences of ``Data``.
    out
        Run folder: ``checkpoint.pt``, ``policy.pt``, ``best.pt``, ``log.csv``.
    stop_after_epochs
        Stop after this many epochs in this call (tests of resuming).
    on_epoch
        ``on_epoch(epoch, row)`` after each epoch's checkpoint is written (``row`` as in the log).
    on_batch
        ``on_batch(done, total)`` after each training batch of an epoch (progress bars).

    Returns
    -------
    dict
        ``epoch``, ``stopped`` (``finished``, ``early_stopping``, ``time_budget`` or ``stop_after``),
        ``best_epoch``, ``best_valid_loss``, the best policy's validation ``acc@k``, ``train_s``
        and ``out``.

    Raises
    ------
    InputError
        On bad settings or data, or a checkpoint in ``out`` made with other settings, another
        feature layout, another architecture or other data.
    """
    out = Path(out)
    train_set = open_samples(train_data, "training")
    valid_set = open_samples(valid_data, "validation")
    layout = feature_layout_of(train_set)
    if feature_layout_of(valid_set) != layout:
        raise InputError(f"training samples have feature layout {layout!r} but validation samples "
                         f"{feature_layout_of(valid_set)!r}")
    dims = _dims(train_set)
    if _dims(valid_set) != dims:
        raise InputError(f"training and validation samples have different feature widths: {dims} vs {_dims(valid_set)}")
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path, log_path = out / "checkpoint.pt", out / "log.csv"
    from coptim.training.checkpoint import append_log, rewrite_log, save_atomic

    model = new_policy(cfg, dims, layout)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=cfg.lr_factor,
                                                           patience=cfg.lr_patience)
    generator = torch.Generator().manual_seed(cfg.seed)
    cfg_dict = asdict(cfg)
    data_id = {"train_samples": len(train_set), "valid_samples": len(valid_set)}
    epoch, best_loss, best_epoch, train_s, samples, stopped = 0, math.inf, 0, 0.0, 0, None
    best_metrics: dict[str, float] = {}
    if ckpt_path.exists():
        obj = load_file(ckpt_path)
        if "optimizer" not in obj or "train_config" not in obj:
            raise InputError(f"{ckpt_path} is a policy file, not a training checkpoint; use another output folder")
        if obj.get("feature_layout") != layout:
            raise InputError(f"{ckpt_path} was trained on feature layout {obj.get('feature_layout')!r}, "
                             f"the samples have {layout!r}; use another output folder")
        stored = {**_LATER_DEFAULTS, **obj["train_config"]}
        diff = sorted(k for k in cfg_dict if k not in _RESUMABLE_CHANGES and stored.get(k) != cfg_dict[k])
        if diff:
            raise InputError(f"{ckpt_path} was made with other training or architecture settings "
                             f"({', '.join(diff)}); use the same settings to resume, or another output folder")
        if obj.get("data") != data_id:
            raise InputError(f"{ckpt_path} was made with other data ({obj.get('data')}, now {data_id}); "
                             "use another output folder")
        model = policy_from_payload(obj, ckpt_path)
        if model.cfg != PolicyConfig(**cfg.model, **dims, feature_layout=layout):
            raise InputError(f"{ckpt_path} holds another architecture ({model.cfg}); use another output folder")
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        optimizer.load_state_dict(obj["optimizer"])
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=cfg.lr_factor,
                                                               patience=cfg.lr_patience)
        scheduler.load_state_dict(obj["scheduler"])
        generator.set_state(obj["rng"])
        epoch, best_loss, best_epoch = int(obj["epoch"]), float(obj["best_valid_loss"]), int(obj["best_epoch"])
        train_s, samples = float(obj["train_s"]), int(obj["samples"])
        best_metrics = dict(obj.get("best_metrics", {}))
        stopped = obj.get("stopped")
        rewrite_log(log_path, CSV_COLUMNS, "epoch", epoch)
    elif cfg.init is not None:
        log_path.unlink(missing_ok=True)
        start = policy_from_payload(load_file(cfg.init), cfg.init)
        if start.cfg != model.cfg:
            raise InputError(f"the initial policy {cfg.init} has another architecture or feature layout "
                             f"({start.cfg}) than this run ({model.cfg})")
        model.load_state_dict(start.state_dict())
        model.train()
    else:
        log_path.unlink(missing_ok=True)
        n_pre = len(train_set) if cfg.prenorm_samples is None else min(cfg.prenorm_samples, len(train_set))
        model.fit_prenorm(_loader(train_set, range(n_pre), cfg.valid_batch_size))

    def save_checkpoint() -> None:
        save_atomic(policy_payload(model, extra={
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": generator.get_state(),
            "epoch": epoch, "best_valid_loss": best_loss, "best_epoch": best_epoch, "best_metrics": best_metrics,
            "train_s": train_s, "samples": samples, "stopped": stopped, "train_config": cfg_dict,
            "data": data_id}), ckpt_path)

    if stopped != "early_stopping":  # an early-stopped run is over; anything else may go on
        stopped = "time_budget" if cfg.time_budget_s is not None and train_s >= cfg.time_budget_s else None
    done_here = 0
    model.train()
    while stopped is None:
        if epoch >= cfg.epochs:
            stopped = "finished"
            break
        if stop_after_epochs is not None and done_here >= stop_after_epochs:
            stopped = "stop_after"
            break
        t0 = time.perf_counter()
        if cfg.epoch_size is None:
            order = torch.randperm(len(train_set), generator=generator).tolist()
        else:
            order = torch.randint(len(train_set), (cfg.epoch_size * cfg.batch_size,), generator=generator).tolist()
        loader = _loader(train_set, order, cfg.batch_size)
        total_batches = len(loader)
        loss_sum, acc_sum, count = 0.0, 0.0, 0
        for b, batch in enumerate(loader):
            with autocast(cfg.precision):
                loss, padded = batch_loss(model, batch)
            padded = padded.float()
            if not torch.isfinite(loss):
                raise InputError(f"non-finite training loss at epoch {epoch + 1}: check the samples' features")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            g = int(batch.n_candidates.numel())
            loss_sum += float(loss.detach()) * g
            acc_sum += float(topk_correct(padded.detach(), batch, (1,)).sum())
            count += g
            if on_batch is not None:
                on_batch(b + 1, total_batches)
        train_s += time.perf_counter() - t0
        samples += count
        epoch += 1
        done_here += 1
        t1 = time.perf_counter()
        val = evaluate(model, valid_set, cfg.valid_batch_size, precision=cfg.precision)
        valid_s = time.perf_counter() - t1
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step(val["loss"])
        if val["loss"] < best_loss:
            best_loss, best_epoch = val["loss"], epoch
            best_metrics = {k: v for k, v in val.items() if k.startswith("acc")}
            save_atomic(policy_payload(model, extra={"epoch": epoch, "valid": val, "train_config": cfg_dict,
                                                     "data": data_id}), out / "best.pt")
        if epoch - best_epoch >= cfg.early_stopping:
            stopped = "early_stopping"
        elif cfg.time_budget_s is not None and train_s >= cfg.time_budget_s:
            stopped = "time_budget"
        row = {"epoch": epoch, "lr": lr, "samples": samples, "train_loss": loss_sum / max(count, 1),
               "train_acc1": acc_sum / max(count, 1), "valid_loss": val["loss"],
               **{f"valid_acc{k}": val[f"acc{k}"] for k in TOPK}, "best_valid_loss": best_loss,
               "train_s": round(train_s, 3), "valid_s": round(valid_s, 3)}
        save_checkpoint()
        append_log(log_path, CSV_COLUMNS, row)
        if on_epoch is not None:
            on_epoch(epoch, row)
    save_checkpoint()
    save_atomic(policy_payload(model, extra={"epoch": epoch, "train_config": cfg_dict, "data": data_id}),
                out / "policy.pt")
    return {"epoch": epoch, "stopped": stopped, "best_epoch": best_epoch, "best_valid_loss": best_loss,
            **{f"best_valid_{k}": v for k, v in best_metrics.items()}, "train_s": train_s, "samples": samples,
            "feature_layout": layout, "out": str(out)}
