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
instance as on a 100-node one, which is what makes large instances practical. The destination,
usually far from such a neighbourhood, is then moved onto the border of the neighbourhood's box
(:func:`subproblem_tokens`) so that the neighbourhood still fills the unit square.

Decoding (:func:`decode`): greedy or beam search (:func:`beam_tours`, ranked by summed
log-probability), from one start or ``starts`` spread starts, on up to 8 symmetric copies of each
instance (``augment``); the shortest tour per instance is kept.
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
from coptim.policies.attention import _Block, check_transformer, config_from_dict

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
        check_transformer(self)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> "BQConfig":
        return config_from_dict(cls, d)


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


def subproblem_tokens(coords: Tensor, origin: Tensor, dest: Tensor, cand: Tensor, *,
                      clamp_dest: bool = False) -> Tensor:
    """The normalised tokens of ``B`` sub-problems.

    ``coords`` ``(B, n, 2)``; ``origin`` and ``dest`` ``(B,)`` node indices; ``cand`` ``(B, r)``
    candidate nodes. Returns ``(B, 2 + r, 2)`` coordinates of origin, destination and candidates,
    min-max normalised together (aspect ratio kept).

    ``clamp_dest`` (used when the candidates are the k nearest of more remaining nodes): a
    destination outside the square box around the origin and the candidates is first moved, along
    the line from the box's centre, onto the box's border. Otherwise a far destination would
    squeeze the neighbourhood into a corner of the unit square, a view the policy never has in
    training, where the destination lies among the remaining nodes.
    """
    idx = torch.cat([origin.unsqueeze(1), dest.unsqueeze(1), cand], dim=1)
    pts = coords.gather(1, idx.unsqueeze(-1).expand(-1, -1, 2))
    if clamp_dest:
        near = torch.cat([pts[:, :1], pts[:, 2:]], dim=1)
        low, high = near.amin(dim=1), near.amax(dim=1)  # (B, 2)
        centre = (low + high) / 2
        half = ((high - low) / 2).amax(dim=1, keepdim=True)  # (B, 1): half side of the square box
        offset = pts[:, 1] - centre
        reach = offset.abs().amax(dim=1, keepdim=True)
        scale = torch.where(reach > half, half / reach.clamp_min(1e-30), torch.ones_like(reach))
        pts = torch.cat([pts[:, :1], (centre + offset * scale).unsqueeze(1), pts[:, 2:]], dim=1)
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


def beam_tours(model: BQModel, coords: Tensor, start: Tensor, width: int = 1, knn: int | None = None) -> Tensor:
    """Beam search of ``width`` tours per row from the ``(B,)`` start nodes on ``(B, n, 2)`` coordinates.

    Partial tours are ranked by their summed log-probability; returns ``(B * width, n)`` tours,
    row-major (the ``width`` tours of row 0 first). ``width=1`` is greedy decoding. Every candidate
    is an unvisited node, so every beam is a tour (beams that cannot be filled repeat a tour).
    """
    b, n = coords.shape[:2]
    dev = coords.device
    coords = coords.repeat_interleave(width, dim=0)
    current = start.repeat_interleave(width)
    rows = torch.arange(b * width, device=dev)
    remaining = torch.ones(b * width, n, dtype=torch.bool, device=dev)
    remaining[rows, current] = False
    score = torch.full((b, width), float("-inf"), device=dev)
    score[:, 0] = 0.0  # all beams start as copies of one
    hist = current.unsqueeze(1)
    with torch.inference_mode():
        for t in range(1, n):
            if n - t == 1:
                nxt = remaining.to(torch.int8).argmax(dim=1)
            else:
                cand = candidates(coords, current, remaining, knn)
                r = cand.shape[1]
                tokens = subproblem_tokens(coords, current, hist[:, 0], cand, clamp_dest=r < n - t)
                logp = torch.log_softmax(model(tokens), dim=-1)
                total = (score.reshape(-1, 1) + logp).view(b, width * r)
                score, flat = total.topk(min(width, width * r), dim=1)
                if score.shape[1] < width:  # fewer candidates than beams: repeat the last beam
                    pad = width - score.shape[1]
                    score = torch.cat([score, score[:, -1:].expand(-1, pad)], dim=1)
                    flat = torch.cat([flat, flat[:, -1:].expand(-1, pad)], dim=1)
                src = (torch.arange(b, device=dev).unsqueeze(1) * width
                       + torch.div(flat, r, rounding_mode="floor")).reshape(-1)
                nxt = cand[src, (flat % r).reshape(-1)]
                remaining, hist = remaining[src], hist[src]
            remaining[rows, nxt] = False
            hist = torch.cat([hist, nxt.unsqueeze(1)], dim=1)
            current = nxt
    return hist


def tour_lengths(coords: Tensor, tours: Tensor) -> Tensor:
    """``(B,)`` closed-tour lengths of ``(B, n)`` tours on ``(B, n, 2)`` coordinates."""
    pts = coords.gather(1, tours.unsqueeze(-1).expand(-1, -1, 2))
    return torch.linalg.vector_norm(pts - pts.roll(-1, dims=1), dim=-1).sum(dim=1)


def decode(model: BQModel, coords: Tensor, *, starts: int = 1, augment: int = 1, beam_width: int = 1,
           knn: int | None = None, chunk: int = 256) -> Tensor:
    """Best tour per instance over ``starts`` x ``augment`` x ``beam_width`` rollouts: ``(B, n)`` node indices.

    ``coords`` ``(B, n, 2)`` normalised to the unit square; ``starts`` spread start nodes
    (``i * n // starts``); ``augment`` symmetric copies (1..8); ``beam_width`` tours kept by beam
    search from each (1: greedy). Rows are decoded ``chunk`` at a time. Lengths are compared in the
    normalised coordinates (the symmetries are isometries); the caller measures the chosen tours
    on the original instances.
    """
    b, n = coords.shape[:2]
    if isinstance(starts, bool) or not isinstance(starts, int) or not 1 <= starts <= n:
        raise InputError(f"starts must be an integer between 1 and the number of nodes {n}, got {starts!r}")
    if isinstance(augment, bool) or not isinstance(augment, int) or not 1 <= augment <= 8:
        raise InputError(f"augment must be an integer between 1 and 8, got {augment!r}")
    if isinstance(beam_width, bool) or not isinstance(beam_width, int) or beam_width < 1:
        raise InputError(f"beam_width must be a positive integer, got {beam_width!r}")
    if knn is not None and (isinstance(knn, bool) or not isinstance(knn, int) or knn < 2):
        raise InputError(f"knn must be an integer of at least 2, got {knn!r}")
    if knn is None and n > FULL_VIEW_LIMIT:
        raise InputError(f"an instance of {n} nodes needs a k-nearest-neighbour restriction (knn) above "
                         f"{FULL_VIEW_LIMIT} nodes")
    first = (torch.arange(starts, device=coords.device) * n) // starts
    # rows: augmentation-major, then instance, then start (then beam)
    views = torch.cat([symmetry(coords, k) for k in range(augment)], dim=0)  # (A*B, n, 2)
    views = views.repeat_interleave(starts, dim=0)  # (A*B*S, n, 2)
    start = first.repeat(augment * b)
    step = max(1, chunk // beam_width)
    tours = torch.cat([beam_tours(model, views[lo:lo + step], start[lo:lo + step], beam_width, knn)
                       for lo in range(0, views.shape[0], step)], dim=0)  # (A*B*S*W, n)
    rollouts = starts * beam_width
    lengths = tour_lengths(coords.repeat(augment, 1, 1).repeat_interleave(rollouts, dim=0), tours)
    per_instance = lengths.view(augment, b, rollouts).permute(1, 0, 2).reshape(b, augment * rollouts)
    best = per_instance.argmin(dim=1)
    a, s = torch.div(best, rollouts, rounding_mode="floor"), best % rollouts
    return tours[(a * b + torch.arange(b, device=coords.device)) * rollouts + s]


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
    from coptim.training.checkpoint import load_weights

    return load_weights(BQModel(cfg), obj, path)


def load(path: str | Path) -> tuple[BQModel, dict[str, Any]]:
    """The model of a BQ weights or training checkpoint file, and its metadata (without the tensors)."""
    from coptim.training.checkpoint import read_file

    obj = read_file(path, FORMAT, "coptim BQ policy")
    model = model_from_payload(obj, path)
    return model, {k: v for k, v in obj.items() if k not in ("model", "optimizer", "rng")}
