"""An attention encoder-decoder policy of the AM / POMO family for the environments of :mod:`coptim.envs`.

Encoder: a per-problem linear embedding of the node features, then ``layers`` transformer
blocks (multi-head self-attention and a feed-forward layer, each with a residual connection
followed by instance norm over the nodes, or RMS norm per node).

Decoder (one query per partial solution): the query is the sum of projections of the current
node's embedding, the first node's embedding (TSP), the mean node embedding and the
environment's scalar context (remaining capacity). The node projections are computed once per
instance, so a decoding step costs one multi-head attention of ``starts`` queries over the
cached keys/values of the nodes, then a single-head compatibility with the node embeddings,
clipped with ``clip * tanh`` and masked. The glimpse's output projection is folded into the cached
logit keys (``W_out^T h^T``), which saves one matrix product per decoding step.

The glimpse runs through :func:`torch.nn.functional.scaled_dot_product_attention` from
:data:`FUSED_MIN_NODES` nodes and :data:`FUSED_MIN_ROLLOUTS` rollouts per instance on, in fp32: the
fused kernel never materialises the ``(B, H, P, N)`` scores, the largest per-step buffers
(``bench/learned/glimpse.py`` measures both paths: same decisions, less CPU time from CVRP100 to
CVRP1000 and in POMO training). With fewer nodes or rollouts (greedy decoding), and under bf16
autocast, two matrix products and a softmax were faster on this CPU. Both compute the same function
(to float rounding).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from coptim.envs.routing import Env, State, _gather_nodes
from coptim.errors import InputError

#: Input features per node for each problem (the CVRP depot has its own 2-feature embedding).
NODE_FEATURES = {"tsp": 2, "cvrp": 3, "knapsack": 2}
CONTEXT_FEATURES = {"tsp": 0, "cvrp": 1, "knapsack": 1}
NORMS = ("instance", "rms")
#: Instance size (nodes incl. depot) and rollouts per instance from which the glimpse uses the fused kernel.
FUSED_MIN_NODES = 50
FUSED_MIN_ROLLOUTS = 4


def _fused(nodes: int, rollouts: int) -> bool:
    return (nodes >= FUSED_MIN_NODES and rollouts >= FUSED_MIN_ROLLOUTS
            and not torch.is_autocast_enabled("cpu"))


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of :class:`AttentionModel`; stored in every checkpoint."""

    problem: str
    dim: int = 128
    layers: int = 6
    heads: int = 8
    ff: int = 512
    norm: str = "instance"
    clip: float = 10.0

    def __post_init__(self) -> None:
        if self.problem not in NODE_FEATURES:
            raise InputError(f"no attention model for problem {self.problem!r}; choose one of {', '.join(NODE_FEATURES)}")
        check_transformer(self)
        if not isinstance(self.clip, (int, float)) or not math.isfinite(self.clip) or self.clip <= 0:
            raise InputError(f"model clip must be a positive number, got {self.clip!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> "ModelConfig":
        return config_from_dict(cls, d)


def check_transformer(cfg: Any) -> None:
    """Check the transformer sizes (``dim``, ``layers``, ``heads``, ``ff``) and ``norm`` of a model configuration."""
    for name in ("dim", "layers", "heads", "ff"):
        v = getattr(cfg, name)
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 4096:
            raise InputError(f"model {name} must be an integer between 1 and 4096, got {v!r}")
    if cfg.dim % cfg.heads:
        raise InputError(f"model dim {cfg.dim} must be a multiple of the number of heads {cfg.heads}")
    if cfg.norm not in NORMS:
        raise InputError(f"model norm must be one of {', '.join(NORMS)}, got {cfg.norm!r}")


def config_from_dict(cls: Any, d: Any) -> Any:
    """The configuration dataclass ``cls`` from a mapping, refusing unknown keys."""
    if not isinstance(d, dict):
        raise InputError("model configuration must be a mapping")
    unknown = set(d) - set(cls.__dataclass_fields__)
    if unknown:
        raise InputError(f"unknown model configuration keys: {', '.join(sorted(map(str, unknown)))}")
    return cls(**d)


class _Norm(nn.Module):
    def __init__(self, dim: int, kind: str):
        super().__init__()
        self.kind = kind
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if kind == "instance" else None

    def forward(self, h: Tensor) -> Tensor:  # (B, N, d)
        if self.kind == "instance":
            centred = h - h.mean(dim=1, keepdim=True)
            var = (centred * centred).mean(dim=1, keepdim=True)
            return centred * torch.rsqrt(var + 1e-5) * self.weight + self.bias
        return h * torch.rsqrt(h.pow(2).mean(dim=-1, keepdim=True) + 1e-6) * self.weight


class _Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.heads = cfg.heads
        self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim, bias=False)
        self.out = nn.Linear(cfg.dim, cfg.dim)
        self.norm1 = _Norm(cfg.dim, cfg.norm)
        self.ff = nn.Sequential(nn.Linear(cfg.dim, cfg.ff), nn.ReLU(), nn.Linear(cfg.ff, cfg.dim))
        self.norm2 = _Norm(cfg.dim, cfg.norm)

    def forward(self, h: Tensor) -> Tensor:
        b, n, d = h.shape
        q, k, v = self.qkv(h).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d)
        h = self.norm1(h + self.out(att))
        return self.norm2(h + self.ff(h))


@dataclass
class Cache:
    """Per-instance tensors computed once by :meth:`AttentionModel.encode`."""

    emb: Tensor  # (B, N, d) node embeddings
    keys: Tensor  # (B, H, dh, N) glimpse keys, transposed and scaled by 1/sqrt(dh)
    # the same keys untransposed, for the fused kernel; not derived from ``keys`` by a transposed view because
    # a matmul on that view is not bit-identical for one rollout (greedy), and the plain path must stay as it was
    keys_rows: Tensor  # (B, H, N, dh)
    values: Tensor  # (B, H, N, dh)
    logit_keys: Tensor  # (B, d, N): W_out^T h^T / sqrt(d), the output projection folded into the keys
    logit_bias: Tensor  # (B, 1, N): b_out . h / sqrt(d)
    q_current: Tensor  # (B, N, d)
    q_first: Tensor | None  # (B, N, d)
    q_graph: Tensor  # (B, 1, d)

    def repeat(self, count: int) -> "Cache":
        """The cache for ``count`` copies of the batch (copy-major), e.g. for augmentation."""
        def rep(t):
            return None if t is None else t.repeat(count, *([1] * (t.dim() - 1)))
        return Cache(*(rep(getattr(self, f)) for f in self.__dataclass_fields__))


class AttentionModel(nn.Module):
    """The policy network; see the module docstring."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.dim
        self.embed = nn.Linear(NODE_FEATURES[cfg.problem], d)
        self.embed_depot = nn.Linear(2, d) if cfg.problem == "cvrp" else None
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.layers))
        self.w_current = nn.Linear(d, d, bias=False)
        self.w_first = nn.Linear(d, d, bias=False) if cfg.problem == "tsp" else None
        self.w_graph = nn.Linear(d, d, bias=False)
        ctx = CONTEXT_FEATURES[cfg.problem]
        self.w_context = nn.Linear(ctx, d, bias=False) if ctx else None
        self.w_kv = nn.Linear(d, 2 * d, bias=False)
        self.w_out = nn.Linear(d, d)

    def features(self, data: dict[str, Tensor]) -> Tensor:
        p = self.cfg.problem
        if p == "tsp":
            return self.embed(data["coords"])
        if p == "cvrp":
            coords = data["coords"]
            dem = data["demand"].to(coords.dtype) / data["capacity"].to(coords.dtype).unsqueeze(1)
            cust = self.embed(torch.cat([coords[:, 1:], dem[:, 1:, None]], dim=-1))
            return torch.cat([self.embed_depot(coords[:, :1]), cust], dim=1)
        return self.embed(torch.stack([data["weight_n"], data["value_n"]], dim=-1))

    def encode(self, data: dict[str, Tensor]) -> Cache:
        h = self.features(data)
        for block in self.blocks:
            h = block(h)
        b, n, d = h.shape
        hd = self.cfg.heads
        k, v = self.w_kv(h).view(b, n, 2, hd, d // hd).permute(2, 0, 3, 1, 4)
        return Cache(
            emb=h, keys=(k.transpose(2, 3) / math.sqrt(d // hd)).contiguous(),
            keys_rows=(k / math.sqrt(d // hd)).contiguous(), values=v.contiguous(),
            logit_keys=torch.matmul(self.w_out.weight.t(), h.transpose(1, 2)) / math.sqrt(d),
            logit_bias=(torch.matmul(h, self.w_out.bias) / math.sqrt(d)).unsqueeze(1), q_current=self.w_current(h),
            q_first=self.w_first(h) if self.w_first is not None else None,
            q_graph=self.w_graph(h.mean(dim=1, keepdim=True)),
        )

    def log_probs(self, cache: Cache, env: Env, state: State) -> Tensor:
        """``(B, P, N)`` log-probabilities of the next action (``-inf`` where masked)."""
        current, first, scalars = env.context(state)
        q = cache.q_graph.expand(-1, state.mask.shape[1], -1)
        if current is not None:
            q = q + _gather_nodes(cache.q_current, current)
        if first is not None and cache.q_first is not None:
            q = q + _gather_nodes(cache.q_first, first)
        if scalars is not None and self.w_context is not None:
            q = q + self.w_context(scalars.to(q.dtype))
        b, p, d = q.shape
        hd = self.cfg.heads
        qh = q.view(b, p, hd, d // hd).transpose(1, 2)  # (B, H, P, dh)
        mask = state.mask
        if _fused(mask.shape[-1], p):
            glimpse = F.scaled_dot_product_attention(qh, cache.keys_rows, cache.values, attn_mask=mask.unsqueeze(1),
                                                     scale=1.0)  # (B, H, P, dh)
        else:
            att = torch.matmul(qh, cache.keys).masked_fill_(~mask.unsqueeze(1), float("-inf"))
            glimpse = torch.matmul(torch.softmax(att, dim=-1), cache.values)
        glimpse = glimpse.transpose(1, 2).reshape(b, p, d)
        # (glimpse W_out^T + b_out) h^T / sqrt(d), with W_out and b_out folded into the cached keys
        score = self.cfg.clip * torch.tanh(torch.matmul(glimpse, cache.logit_keys) + cache.logit_bias)
        score = score.masked_fill(~mask, float("-inf"))
        return torch.log_softmax(score, dim=-1)
