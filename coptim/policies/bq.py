"""A decoder-only policy over the reduced sub-problem, after BQ-NCO (Drakulic et al. 2023), for the TSP.

At every step of a tour the state is the sub-problem that is left: the *origin* (the node just
visited), the *destination* (the first node, where the tour closes) and the remaining nodes.
The network sees only that sub-problem, re-encoded from scratch at each step: the tokens are the
sub-problem's coordinates, min-max normalised together (so that every sub-problem, of any size
or density, fills the unit square), plus a learned marker on the origin and the destination
tokens; ``layers`` transformer blocks (no positional encoding) and a linear head give one logit
per remaining node. Because a suffix of an optimal tour is an optimal solution of its own
sub-problem, every suffix of an expert tour is a training sample (:mod:`coptim.training.imitation`).

The network is equivariant to the order of the remaining nodes, so nothing depends on the order
in which they are listed. With ``knn`` set, only the ``knn`` remaining nodes nearest to the
origin are candidates (and tokens) when more remain: a step then costs the same on a 1,000-node
instance as on a 100-node one, which is what makes large instances practical.

Decoding (:func:`decode`): greedy from one start, from ``starts`` spread starts, and on up to 8
symmetric copies of each instance (``augment``); the shortest tour per instance is kept.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from coptim.envs.routing import normalise_coords_torch, symmetry
from coptim.errors import InputError
from coptim.policies.attention import NORMS, _Block

FORMAT = "coptim-bq-v1"
#: Largest instance a BQ policy decodes without a k-nearest-neighbour restriction (memory grows with n^2).
FULL_VIEW_LIMIT = 1000


@dataclass(frozen=True)
class BQConfig:
    """Architecture of :class:`BQModel`; stored in every checkpoint."""

    problem: str = "tsp"
    dim: int = 128
    layers: int = 4
    heads: int = 8
    ff: int = 512
    norm: str = "rms"

    def __post_init__(self) -> None:
        if self.problem != "tsp":
            raise InputError(f"the BQ policy is implemented for the tsp only, not {self.problem!r}")
        for name in ("dim", "layers", "heads", "ff"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 4096:
                raise InputError(f"model {name} must be an integer between 1 and 4096, got {v!r}")
        if self.dim % self.heads:
            raise InputError(f"model dim {self.dim} must be a multiple of the number of heads {self.heads}")
        if self.norm not in NORMS:
            raise InputError(f"model norm must be one of {', '.join(NORMS)}, got {self.norm!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> "BQConfig":
        if not isinstance(d, dict):
            raise InputError("model configuration must be a mapping")
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise InputError(f"unknown model configuration keys: {', '.join(sorted(map(str, unknown)))}")
        return cls(**d)


class BQModel(nn.Module):
    """Logits of the next node of a TSP sub-problem; see the module docstring."""

    def __init__(self, cfg: BQConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Linear(2, cfg.dim)
        self.markers = nn.Parameter(torch.randn(2, cfg.dim) / math.sqrt(cfg.dim))  # origin, destination
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.layers))  # type: ignore[arg-type]
        self.head = nn.Linear(cfg.dim, 1)

    def forward(self, tokens: Tensor) -> Tensor:
        """``tokens`` ``(B, 2 + r, 2)``: origin, destination, then ``r`` candidates -> ``(B, r)`` logits."""
        h = self.embed(tokens)
        h = torch.cat([h[:, :2] + self.markers, h[:, 2:]], dim=1)
        for block in self.blocks:
            h = block(h)
        return self.head(h[:, 2:]).squeeze(-1)


def subproblem_tokens(coords: Tensor, origin: Tensor, dest: Tensor, cand: Tensor) -> Tensor:
    """The normalised tokens of ``B`` sub-problems.

    ``coords`` ``(B, n, 2)``; ``origin`` and ``dest`` ``(B,)`` node indices; ``cand`` ``(B, r)``
    candidate nodes. Returns ``(B, 2 + r, 2)`` coordinates of origin, destination and candidates,
    min-max normalised together (aspect ratio kept).
    """
    idx = torch.cat([origin.unsqueeze(1), dest.unsqueeze(1), cand], dim=1)
    pts = coords.gather(1, idx.unsqueeze(-1).expand(-1, -1, 2))
    return normalise_coords_torch(pts)


def candidates(coords: Tensor, origin: Tensor, remaining: Tensor, knn: int | None) -> Tensor:
    """``(B, r)`` candidate nodes: every remaining node, or the ``knn`` nearest to the origin.

    ``remaining`` ``(B, n)`` bool must have the same count in every row (true while decoding).
    """
    b = remaining.shape[0]
    r = int(remaining[0].sum())
    if knn is None or r <= knn:
        return remaining.nonzero()[:, 1].view(b, r)
    here = coords.gather(1, origin.view(b, 1, 1).expand(-1, 1, 2))
    dist = (coords - here).pow(2).sum(-1).masked_fill(~remaining, float("inf"))
    return dist.topk(knn, dim=1, largest=False).indices


def greedy_tours(model: BQModel, coords: Tensor, start: Tensor, knn: int | None = None) -> Tensor:
    """Greedy tours ``(B, n)`` from the ``(B,)`` start nodes on ``(B, n, 2)`` coordinates."""
    b, n = coords.shape[:2]
    rows = torch.arange(b, device=coords.device)
    remaining = torch.ones(b, n, dtype=torch.bool, device=coords.device)
    remaining[rows, start] = False
    tour = [start]
    current = start
    with torch.inference_mode():
        for t in range(1, n):
            if n - t == 1:
                nxt = remaining.to(torch.int8).argmax(dim=1)
            else:
                cand = candidates(coords, current, remaining, knn)
                logits = model(subproblem_tokens(coords, current, start, cand))
                nxt = cand.gather(1, logits.argmax(dim=1, keepdim=True)).squeeze(1)
            remaining[rows, nxt] = False
            tour.append(nxt)
            current = nxt
    return torch.stack(tour, dim=1)


def tour_lengths(coords: Tensor, tours: Tensor) -> Tensor:
    """``(B,)`` closed-tour lengths of ``(B, n)`` tours on ``(B, n, 2)`` coordinates."""
    pts = coords.gather(1, tours.unsqueeze(-1).expand(-1, -1, 2))
    return torch.linalg.vector_norm(pts - pts.roll(-1, dims=1), dim=-1).sum(dim=1)


def decode(model: BQModel, coords: Tensor, *, starts: int = 1, augment: int = 1, knn: int | None = None,
           chunk: int = 256) -> Tensor:
    """Best greedy tour per instance over ``starts`` x ``augment`` rollouts: ``(B, n)`` node indices.

    ``coords`` ``(B, n, 2)`` normalised to the unit square; ``starts`` spread start nodes
    (``i * n // starts``); ``augment`` symmetric copies (1..8). Rows are decoded ``chunk`` at a
    time. Lengths are compared in the normalised coordinates (the symmetries are isometries);
    the caller measures the chosen tours on the original instances.
    """
    b, n = coords.shape[:2]
    if isinstance(starts, bool) or not isinstance(starts, int) or not 1 <= starts <= n:
        raise InputError(f"starts must be an integer between 1 and the number of nodes {n}, got {starts!r}")
    if isinstance(augment, bool) or not isinstance(augment, int) or not 1 <= augment <= 8:
        raise InputError(f"augment must be an integer between 1 and 8, got {augment!r}")
    if knn is not None and (isinstance(knn, bool) or not isinstance(knn, int) or knn < 2):
        raise InputError(f"knn must be an integer of at least 2, got {knn!r}")
    if knn is None and n > FULL_VIEW_LIMIT:
        raise InputError(f"an instance of {n} nodes needs a k-nearest-neighbour restriction (knn) above "
                         f"{FULL_VIEW_LIMIT} nodes")
    first = (torch.arange(starts, device=coords.device) * n) // starts
    # rows: augmentation-major, then instance, then start
    views = torch.cat([symmetry(coords, k) for k in range(augment)], dim=0)  # (A*B, n, 2)
    views = views.repeat_interleave(starts, dim=0)  # (A*B*S, n, 2)
    start = first.repeat(augment * b)
    tours = torch.cat([greedy_tours(model, views[lo:lo + chunk], start[lo:lo + chunk], knn)
                       for lo in range(0, views.shape[0], chunk)], dim=0)
    lengths = tour_lengths(coords.repeat(augment, 1, 1).repeat_interleave(starts, dim=0), tours)
    per_instance = lengths.view(augment, b, starts).permute(1, 0, 2).reshape(b, augment * starts)
    best = per_instance.argmin(dim=1)
    a, s = torch.div(best, starts, rounding_mode="floor"), best % starts
    return tours[(a * b + torch.arange(b, device=coords.device)) * starts + s]


# ------------------------------------------------------------------------------ weights files
def payload(model: BQModel, size: int, knn: int | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a BQ weights file holds: format, problem, training size, default knn, architecture, weights."""
    return {"format": FORMAT, "problem": model.cfg.problem, "size": int(size), "knn": knn,
            "model_config": model.cfg.to_dict(),
            "model": {k: v.detach().clone() for k, v in model.state_dict().items()}, **(extra or {})}


def model_from_payload(obj: dict[str, Any], path: str | Path) -> BQModel:
    """Build and load the model of a BQ weights or checkpoint file, checking its architecture."""
    try:
        cfg = BQConfig.from_dict(obj.get("model_config"))
    except (InputError, TypeError) as exc:
        raise InputError(f"checkpoint {path} has an invalid model configuration: {exc}") from None
    if obj.get("problem") != cfg.problem:
        raise InputError(f"checkpoint {path} says problem {obj.get('problem')!r} but its model is for {cfg.problem!r}")
    size, knn = obj.get("size"), obj.get("knn")
    if isinstance(size, bool) or not isinstance(size, int) or size < 2:
        raise InputError(f"checkpoint {path} has an invalid size {size!r}")
    if knn is not None and (isinstance(knn, bool) or not isinstance(knn, int) or knn < 2):
        raise InputError(f"checkpoint {path} has an invalid knn {knn!r}")
    model = BQModel(cfg)
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


def load(path: str | Path) -> tuple[BQModel, dict[str, Any]]:
    """The model of a BQ weights or training checkpoint file, and its metadata (without the tensors)."""
    from coptim.training.checkpoint import read_file

    obj = read_file(path, FORMAT, "coptim BQ policy")
    model = model_from_payload(obj, path)
    return model, {k: v for k, v in obj.items() if k not in ("model", "optimizer", "rng")}
