"""Checkpoints and shipped weights: atomic writes, safe loads (``weights_only=True``), validation."""

from __future__ import annotations

import csv
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any, TypeVar

import torch

from coptim.errors import InputError
from coptim.policies.attention import AttentionModel, ModelConfig

FORMAT = "coptim-pomo-v1"
#: Default largest instance a policy accepts (attention memory grows with nodes^2 x starts).
DEFAULT_MAX_NODES = 1000
M = TypeVar("M", bound=torch.nn.Module)


def save_atomic(obj: dict[str, Any], path: str | Path) -> None:
    """``torch.save`` to a temporary file in the same directory, fsync, then ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_file(path: str | Path, fmt: str, what: str) -> dict[str, Any]:
    """Load a torch file with ``weights_only=True`` and check its ``format`` entry is ``fmt``.

    ``what`` names the kind of file in the messages ("coptim POMO checkpoint", ...). A missing,
    unreadable (corrupted, truncated, not a torch file) or foreign file gives a clear :class:`InputError`.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} file not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile, KeyError,
            AttributeError, TypeError, IndexError, UnicodeDecodeError) as exc:
        raise InputError(f"{what} file {path} is corrupted, truncated or not a torch file "
                         f"({type(exc).__name__})") from None
    if not isinstance(obj, dict) or obj.get("format") != fmt:
        raise InputError(f"{path} is not a {what} (expected format {fmt!r})")
    return obj


def load_file(path: str | Path) -> dict[str, Any]:
    """Load a POMO checkpoint or shipped routing policy (see :func:`read_file`)."""
    return read_file(path, FORMAT, "coptim POMO checkpoint")


def rewrite_log(path: Path, columns: tuple[str, ...], key: str, upto: int) -> None:
    """Drop the CSV log rows whose ``key`` is past ``upto`` (a killed run may have left some), atomically."""
    if not path.is_file():
        return
    with open(path, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if int(r[key]) <= upto]
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)
    tmp.replace(path)


def append_log(path: Path, columns: tuple[str, ...], row: dict[str, Any]) -> None:
    """Append one row to a CSV log, writing the header first if the file is new."""
    new = not path.is_file()
    with open(path, "a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        if new:
            w.writeheader()
        w.writerow(row)
        fh.flush()


def policy_payload(model: AttentionModel, size: int, max_nodes: int = DEFAULT_MAX_NODES,
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a weights file holds: format, problem, training size, size limit, architecture, weights."""
    return {
        "format": FORMAT, "problem": model.cfg.problem, "size": int(size), "max_nodes": int(max_nodes),
        "model_config": model.cfg.to_dict(), "model": {k: v.detach().clone() for k, v in model.state_dict().items()},
        **(extra or {}),
    }


def model_from_payload(obj: dict[str, Any], path: str | Path, problem: str | None = None) -> AttentionModel:
    """Build and load the model of a checkpoint, checking problem and architecture."""
    if problem is not None and obj.get("problem") != problem:
        raise InputError(f"checkpoint {path} is for problem {obj.get('problem')!r}, not {problem!r}")
    try:
        cfg = ModelConfig.from_dict(obj.get("model_config"))
    except (InputError, TypeError) as exc:
        raise InputError(f"checkpoint {path} has an invalid model configuration: {exc}") from None
    if cfg.problem != obj.get("problem"):
        raise InputError(f"checkpoint {path} says problem {obj.get('problem')!r} but its model is for {cfg.problem!r}")
    for key in ("size", "max_nodes"):
        v = obj.get(key)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InputError(f"checkpoint {path} has an invalid {key} {v!r}")
    return load_weights(AttentionModel(cfg), obj, path)


def load_weights(model: M, obj: dict[str, Any], path: str | Path) -> M:
    """Load ``obj["model"]`` into ``model`` (strictly; finite weights only) and set it to eval mode."""
    state = obj.get("model")
    if not isinstance(state, dict):
        raise InputError(f"checkpoint {path} has no model weights")
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"checkpoint {path} does not match its declared architecture: {first}") from None
    for name, t in model.state_dict().items():
        if not torch.isfinite(t).all():
            raise InputError(f"checkpoint {path} has non-finite weights in {name}")
    model.eval()
    return model


def load_policy(path: str | Path, problem: str | None = None) -> tuple[AttentionModel, dict[str, Any]]:
    """The model of a weights or training checkpoint file, and its metadata (without the tensors)."""
    obj = load_file(path)
    model = model_from_payload(obj, path, problem)
    meta = {k: v for k, v in obj.items() if k not in ("model", "optimizer", "rng")}
    return model, meta


#: The counters a training checkpoint carries, in the order :func:`restore_training` returns them.
COUNTERS = ("step", "train_cpu_s", "train_wall_s", "samples", "best_gap")


def check_settings(obj: dict[str, Any], cfg_dict: dict[str, Any], path: str | Path,
                   later_defaults: dict[str, Any] | None = None) -> None:
    """Refuse to resume checkpoint ``obj`` if it was made with other training settings than ``cfg_dict``.

    ``later_defaults`` are settings added after older checkpoints were written, with the value that
    means "as before".
    """
    stored = obj.get("train_config")
    if isinstance(stored, dict) and later_defaults:
        stored = {**later_defaults, **stored}
    if stored != cfg_dict:
        diff = sorted(k for k in cfg_dict if (stored or {}).get(k) != cfg_dict[k])
        raise InputError(f"{path} was made with other training settings ({', '.join(diff)}); "
                         "use the same settings to resume or another output directory")


def training_state(optimizer: torch.optim.Optimizer, generator: torch.Generator, cfg_dict: dict[str, Any],
                   **counters: Any) -> dict[str, Any]:
    """The resumable part of a training checkpoint: optimiser, RNG, settings and :data:`COUNTERS`."""
    return {"optimizer": optimizer.state_dict(), "rng": generator.get_state(), "train_config": cfg_dict, **counters}


def restore_training(obj: dict[str, Any], optimizer: torch.optim.Optimizer,
                     generator: torch.Generator) -> tuple[int, float, float, int, float]:
    """Load optimiser and RNG state from checkpoint ``obj``; returns its :data:`COUNTERS`."""
    optimizer.load_state_dict(obj["optimizer"])
    generator.set_state(obj["rng"])
    return (int(obj["step"]), float(obj["train_cpu_s"]), float(obj["train_wall_s"]), int(obj["samples"]),
            float(obj["best_gap"]))
