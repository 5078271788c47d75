"""Training the hybrid policy (Gupta et al. 2020): a trained GCNN at the root, a node MLP by imitation.

The GCNN trunk comes from a policy trained with :mod:`coptim.branching.train` and stays frozen;
only the node part of :class:`~coptim.branching.model.HybridPolicy` (its input normalisation, node
MLP, FiLM layer and head) is trained, by cross-entropy on the strong-branching expert's choice and,
with ``distill > 0``, knowledge distillation from the GCNN itself (Gupta et al.'s KD): the loss is
``(1 - distill) * CE + distill * T^2 * KL(softmax(gcnn / T) || softmax(hybrid / T))`` over the
candidates, with the GCNN's logits computed once per sample when the data is loaded. Validation
loss (model selection, learning-rate schedule) is the plain cross-entropy either way. Measured with
``coptim branching train-hybrid ... --distill 0.5 --temperature 2 --test ...`` against the same command
without ``--distill`` (the last step of ``bench/branching/train.sh``), same data and trunk: easy auctions,
test acc@1 43.9 % against 41.4 % (157 samples); easy set cover 50.7 % against 51.7 % (1,505
samples); easy independent set 39.3 % against 38.8 % (196 samples). None of the differences is
beyond the test sets' noise, so the shipped hybrids use none.
Each sample needs its episode's root observation (``coptim branching roots``). Because the trunk
is frozen, the root embeddings are computed once per episode and training is over small per-
candidate tensors held in memory: minutes on one CPU thread.

Recipe: Adam (learning rate 1e-3), batches of 64 samples, learning rate times 0.2 after 10 epochs
without a better validation loss, stop after 30. Accuracy as :func:`coptim.branching.train.evaluate`
(ties with the best score count).

Resumable: ``checkpoint.pt`` after every epoch (weights, optimizer, scheduler, RNG, counters), written
atomically; a rerun with the same settings and data continues from it. ``best.pt`` is the policy
with the lowest validation loss (the one to ship), ``log.csv`` one row per epoch.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from coptim.errors import InputError

CSV_COLUMNS = ("epoch", "lr", "train_loss", "valid_loss", "valid_acc1", "valid_acc3", "valid_acc5", "valid_acc10",
               "best_valid_loss", "train_s")


@dataclass
class HybridConfig:
    """Settings of a hybrid training run (stored in its checkpoint)."""

    epochs: int = 300
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0
    lr_patience: int = 10
    lr_factor: float = 0.2
    early_stopping: int = 30
    time_budget_s: float | None = None
    distill: float = 0.0
    temperature: float = 2.0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "lr_patience", "early_stopping"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(f"{name} must be a positive integer, got {v!r}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise InputError(f"learning rate must be a positive number, got {self.lr!r}")
        if self.time_budget_s is not None and not self.time_budget_s > 0:
            raise InputError(f"time budget must be positive, got {self.time_budget_s!r}")
        if not (isinstance(self.distill, (int, float)) and 0.0 <= self.distill <= 1.0):
            raise InputError(f"distill must be a weight in [0, 1], got {self.distill!r}")
        if not (isinstance(self.temperature, (int, float)) and math.isfinite(self.temperature)
                and self.temperature > 0):
            raise InputError(f"temperature must be a positive number, got {self.temperature!r}")


class NodeSamples:
    """The candidates of every sample of a folder, with their root embeddings (flat tensors).

    Attributes
    ----------
    root, features, scores
        ``(K, emb)``, ``(K, 19)`` and ``(K,)`` over the candidates ``K`` of all samples, in order.
    n_candidates, action
        Per sample ``(N,)``.
    teacher
        ``(K,)`` the GCNN's logits of the candidates (with ``teacher=True``), else None.
    missing_roots
        Samples skipped because their episode's root observation is missing.
    """

    def __init__(self, samples_dir: str | Path, gnn: torch.nn.Module, teacher: bool = False):
        from coptim.branching.collect import sample_files
        from coptim.branching.dataset import load_sample
        from coptim.branching.roots import load_root, root_path

        samples_dir = Path(samples_dir)
        if not samples_dir.is_dir():
            raise InputError("sample folder not found", samples_dir)
        files = sample_files(samples_dir)
        if not files:
            raise InputError("no sample files (.npz) in this folder", samples_dir)
        cache: dict[tuple[str, int], torch.Tensor | None] = {}
        roots, feats, scores, n_cands, actions, teach = [], [], [], [], [], []
        self.missing_roots = 0
        for path in files:
            with np.load(path, allow_pickle=False) as f:
                key = (str(f["instance"]), int(f["seed"]))
            if key not in cache:
                rp = root_path(samples_dir, *key)
                if rp.is_file():
                    r = load_root(rp)
                    with torch.inference_mode():
                        cache[key] = gnn.embed(torch.from_numpy(r["constraint_features"].astype(np.float32)),
                                               torch.from_numpy(r["edge_index"].astype(np.int64)),
                                               torch.from_numpy(r["edge_features"].astype(np.float32)),
                                               torch.from_numpy(r["variable_features"].astype(np.float32))).clone()
                else:
                    cache[key] = None
            emb = cache[key]
            if emb is None:
                self.missing_roots += 1
                continue
            s = load_sample(path, gnn.feature_layout)
            if s.variable_features.shape[0] != emb.shape[0]:
                raise InputError(f"the root observation of {key[0]} (seed {key[1]}) has {emb.shape[0]} variables, "
                                 f"the sample {s.variable_features.shape[0]}: roots and samples were made with "
                                 "different settings", path)
            cands = s.candidates
            if teacher:
                with torch.inference_mode():
                    teach.append(gnn(s.constraint_features, s.edge_index, s.edge_attr,
                                     s.variable_features)[cands].clone())
            roots.append(emb[cands])
            feats.append(s.variable_features[cands])
            scores.append(s.candidate_scores)
            n_cands.append(cands.numel())
            actions.append(int(s.action))
        if not n_cands:
            raise InputError(f"none of the {len(files)} samples has its root observation; run "
                             f"'coptim branching roots --samples {samples_dir}' first", samples_dir)
        self.root = torch.cat(roots)
        self.features = torch.cat(feats)
        self.scores = torch.cat(scores)
        self.n_candidates = torch.tensor(n_cands, dtype=torch.long)
        self.action = torch.tensor(actions, dtype=torch.long)
        self.teacher = torch.cat(teach) if teacher else None
        self.start = torch.cumsum(self.n_candidates, 0) - self.n_candidates

    def __len__(self) -> int:
        return int(self.n_candidates.numel())

    def batch(self, indices: torch.Tensor) -> SimpleNamespace:
        """The samples ``indices`` as one batch (flat candidates, per-sample counts)."""
        n = self.n_candidates[indices]
        flat = torch.cat([torch.arange(int(s), int(s) + int(k)) for s, k in zip(self.start[indices], n)])
        return SimpleNamespace(root=self.root[flat], features=self.features[flat],
                               candidate_scores=self.scores[flat], n_candidates=n, action=self.action[indices],
                               teacher=None if self.teacher is None else self.teacher[flat])


def _loss(model: torch.nn.Module, batch: SimpleNamespace, distill: float = 0.0,
          temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy on the expert's choice, mixed with distillation from the GCNN when ``distill > 0``."""
    from coptim.branching.model import pad_candidates

    padded = pad_candidates(model.node_logits(batch.root, batch.features), batch.n_candidates)
    loss = F.cross_entropy(padded, batch.action)
    if distill > 0:
        t = temperature
        target = F.softmax(pad_candidates(batch.teacher, batch.n_candidates) / t, dim=-1)
        log_student = F.log_softmax(padded / t, dim=-1)
        # padded candidates: target 0 and log-probability -inf, clamped so that their terms are 0, not nan
        kl = (target * (torch.log(target.clamp_min(1e-12)) - log_student.clamp_min(-1e4))).sum(-1).mean()
        loss = (1 - distill) * loss + distill * t * t * kl
    return loss, padded


@torch.no_grad()
def evaluate_nodes(model: torch.nn.Module, data: NodeSamples, batch_size: int = 256) -> dict[str, float]:
    """Loss and acc@1/3/5/10 of a hybrid policy's node part on prepared samples."""
    from coptim.branching.train import TOPK, topk_correct

    model.eval()
    loss_sum, correct = 0.0, torch.zeros(len(TOPK), dtype=torch.float64)
    for start in range(0, len(data), batch_size):
        batch = data.batch(torch.arange(start, min(start + batch_size, len(data))))
        loss, padded = _loss(model, batch)
        loss_sum += float(loss) * int(batch.n_candidates.numel())
        correct += topk_correct(padded, batch, TOPK).sum(0)
    res = {"loss": loss_sum / len(data), "samples": len(data)}
    res.update({f"acc{k}": float(c) / len(data) for k, c in zip(TOPK, correct)})
    return res


def new_hybrid(gnn: torch.nn.Module) -> torch.nn.Module:
    """A hybrid policy around a trained GCNN (its trunk copied and frozen; fresh node part)."""
    from dataclasses import replace

    from coptim.branching.model import build_policy

    if getattr(gnn.cfg, "arch", None) != "gcnn":
        raise InputError(f"the root network must be a trained GCNN policy, got architecture {gnn.cfg.arch!r}")
    model = build_policy(replace(gnn.cfg, arch="hybrid"))
    model.gnn.load_state_dict(gnn.state_dict())
    for p in model.gnn.parameters():
        p.requires_grad_(False)
    return model


def train_hybrid(cfg: HybridConfig, gnn_path: str | Path, train_dir: str | Path, valid_dir: str | Path,
                 out: str | Path, *, on_epoch: Callable[[int, dict[str, Any]], None] | None = None,
                 stop_after_epochs: int | None = None) -> dict[str, Any]:
    """Train (or resume) the node part of a hybrid policy; returns a summary (see the module docstring)."""
    from coptim.branching.model import load_file, policy_from_payload, policy_payload
    from coptim.branching.rule import load_policy
    from coptim.training.checkpoint import append_log, rewrite_log, save_atomic

    out = Path(out)
    gnn = load_policy(gnn_path)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = new_hybrid(gnn)
    train_set, valid_set = NodeSamples(train_dir, gnn, teacher=cfg.distill > 0), NodeSamples(valid_dir, gnn)
    data_id = {"train_samples": len(train_set), "valid_samples": len(valid_set),
               "gnn": {k: float(v.double().sum()) for k, v in gnn.state_dict().items() if v.is_floating_point()}}
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=cfg.lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=cfg.lr_factor, patience=cfg.lr_patience)
    generator = torch.Generator().manual_seed(cfg.seed)
    cfg_dict = asdict(cfg)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path, log_path = out / "checkpoint.pt", out / "log.csv"
    epoch, best_loss, best_epoch, train_s, stopped, best = 0, math.inf, 0, 0.0, None, {}
    if ckpt_path.exists():
        obj = load_file(ckpt_path)
        if obj.get("hybrid_config") != cfg_dict or obj.get("data") != data_id:
            raise InputError(f"{ckpt_path} was made with other settings, data or root GCNN; use another output folder")
        model = policy_from_payload(obj, ckpt_path)
        model.train()
        for p in model.gnn.parameters():
            p.requires_grad_(False)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(params, lr=cfg.lr)
        optimizer.load_state_dict(obj["optimizer"])
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=cfg.lr_factor,
                                                               patience=cfg.lr_patience)
        scheduler.load_state_dict(obj["scheduler"])
        generator.set_state(obj["rng"])
        epoch, best_loss, best_epoch = int(obj["epoch"]), float(obj["best_valid_loss"]), int(obj["best_epoch"])
        train_s, stopped, best = float(obj["train_s"]), obj.get("stopped"), dict(obj.get("best_metrics", {}))
        rewrite_log(log_path, CSV_COLUMNS, "epoch", epoch)
    else:
        log_path.unlink(missing_ok=True)
        x = train_set.features.double()
        model.node_norm.set_stats(x.mean(0), x.var(0, unbiased=False))
    done_here = 0
    if stopped != "early_stopping":
        stopped = None
    while stopped is None:
        if epoch >= cfg.epochs:
            stopped = "finished"
            break
        if cfg.time_budget_s is not None and train_s >= cfg.time_budget_s:
            stopped = "time_budget"
            break
        if stop_after_epochs is not None and done_here >= stop_after_epochs:
            stopped = "stop_after"
            break
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(len(train_set), generator=generator)
        loss_sum = 0.0
        for start in range(0, len(order), cfg.batch_size):
            batch = train_set.batch(order[start:start + cfg.batch_size])
            loss, _ = _loss(model, batch, cfg.distill, cfg.temperature)
            if not torch.isfinite(loss):
                raise InputError(f"non-finite training loss at epoch {epoch + 1}: check the samples' features")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += float(loss.detach()) * int(batch.n_candidates.numel())
        train_s += time.perf_counter() - t0
        epoch += 1
        done_here += 1
        val = evaluate_nodes(model, valid_set)
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step(val["loss"])
        if val["loss"] < best_loss:
            best_loss, best_epoch = val["loss"], epoch
            best = {k: v for k, v in val.items() if k.startswith("acc")}
            save_atomic(policy_payload(model, extra={"epoch": epoch, "valid": val, "hybrid_config": cfg_dict,
                                                     "root_gcnn": str(gnn_path)}), out / "best.pt")
        if epoch - best_epoch >= cfg.early_stopping:
            stopped = "early_stopping"
        row = {"epoch": epoch, "lr": lr, "train_loss": loss_sum / len(train_set), "valid_loss": val["loss"],
               **{f"valid_acc{k}": val[f"acc{k}"] for k in (1, 3, 5, 10)}, "best_valid_loss": best_loss,
               "train_s": round(train_s, 3)}
        save_atomic(policy_payload(model, extra={
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": generator.get_state(),
            "epoch": epoch, "best_valid_loss": best_loss, "best_epoch": best_epoch, "best_metrics": best,
            "train_s": train_s, "stopped": stopped, "hybrid_config": cfg_dict, "data": data_id}), ckpt_path)
        append_log(log_path, CSV_COLUMNS, row)
        if on_epoch is not None:
            on_epoch(epoch, row)
    return {"epoch": epoch, "stopped": stopped, "best_epoch": best_epoch, "best_valid_loss": best_loss,
            **{f"best_valid_{k}": v for k, v in best.items()}, "train_s": train_s,
            "train_samples": len(train_set), "valid_samples": len(valid_set),
            "skipped_without_root": train_set.missing_roots + valid_set.missing_roots, "out": str(out)}
