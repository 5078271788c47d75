"""The branching policy: the bipartite graph convolutional network (GCNN) of Gasse et al. (2019).

A node of the branch-and-bound tree is a bipartite graph: constraints on one side, variables on
the other, an edge per nonzero of the LP matrix. The network embeds constraint, edge and variable
features (each after a fixed pre-normalisation), passes messages variables -> constraints and then
constraints -> variables, and scores every variable with a small MLP; the policy is the softmax of
those scores over the branching candidates of each graph.

Pre-normalisation (Gasse's ``PreNormLayer``): every input feature ``x`` becomes ``(x + shift) * scale``
with ``shift = -mean`` and ``scale = 1 / std`` measured once on training data by :meth:`GCNNPolicy.fit_prenorm`
before training, then frozen (they are buffers, saved with the weights). The Ecole-era PyTorch port
replaced it by a ``LayerNorm`` on the inputs, which turns the single edge feature into a constant; the
fixed pre-normalisation keeps it.

Batches are ``torch_geometric`` batches of samples with ``constraint_features (m, 5)``,
``edge_index (2, E)`` (row 0: constraint, row 1: variable), ``edge_attr (E, 1)``,
``variable_features (n, 19)``, ``candidates (k,)`` (variable indices, incremented by ``n`` when
batched) and ``n_candidates`` (one per graph); see :func:`candidate_logits`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable

import torch
from torch import nn

from coptim.errors import InputError

#: Architectures :class:`PolicyConfig` accepts: the GCNN at every node, or the hybrid (GCNN at the root only).
ARCHITECTURES = ("gcnn", "hybrid")
#: Value of padded (non-candidate) entries in :func:`pad_candidates`.
PAD = float("-inf")


@dataclass(frozen=True)
class PolicyConfig:
    """The architecture of a policy (stored in every checkpoint; a mismatch is refused).

    Parameters
    ----------
    arch
        ``"gcnn"`` (Gasse et al. 2019) or ``"hybrid"`` (Gupta et al. 2020; see :class:`HybridPolicy`).
    emb_size
        Embedding width (64 as Gasse).
    n_constraint_features, n_edge_features, n_variable_features
        Input widths (5, 1 and 19 in the feature layout of :mod:`coptim.branching.features`).
    feature_layout
        The version string of the features the policy was trained on; the branching rule refuses a
        policy whose layout differs from the extractor's.
    """

    arch: str = "gcnn"
    emb_size: int = 64
    n_constraint_features: int = 5
    n_edge_features: int = 1
    n_variable_features: int = 19
    feature_layout: str = "unknown"

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise InputError(f"unknown policy architecture {self.arch!r}; available: {', '.join(ARCHITECTURES)}")
        for name in ("emb_size", "n_constraint_features", "n_edge_features", "n_variable_features"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(f"{name} must be a positive integer, got {v!r}")
        if not isinstance(self.feature_layout, str) or not self.feature_layout:
            raise InputError(f"feature_layout must be a non-empty string, got {self.feature_layout!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> "PolicyConfig":
        """Build from a checkpoint's dict; unknown or missing keys raise :class:`InputError`."""
        if not isinstance(d, dict):
            raise InputError(f"a policy configuration must be a dict, got {type(d).__name__}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise InputError(f"unknown policy configuration key(s) {', '.join(map(str, unknown))}")
        return cls(**d)


class PreNorm(nn.Module):
    """``(x + shift) * scale`` with fixed ``shift``/``scale`` buffers (identity until fitted)."""

    def __init__(self, n_features: int):
        super().__init__()
        self.register_buffer("shift", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x + self.shift) * self.scale

    @torch.no_grad()
    def set_stats(self, mean: torch.Tensor, var: torch.Tensor) -> None:
        """Shift by ``-mean`` and scale by ``1/std`` (1 where the feature is constant)."""
        std = var.clamp_min(0).sqrt()
        scale = torch.where(std > 1e-8, 1.0 / std.clamp_min(1e-8), torch.ones_like(std))
        self.shift.copy_((-mean).to(self.shift.dtype))
        self.scale.copy_(scale.to(self.scale.dtype))


class BipartiteConv(nn.Module):
    """One half-convolution of Gasse et al.: from the ``left`` nodes to the ``right`` nodes.

    The message on edge ``(l, r)`` is ``W_f ReLU(LN(W_l h_l + W_e e + W_r h_r)) + b_f`` (the
    concatenation ``[h_l, e, h_r]`` through one linear layer, then layer norm, ReLU, linear); messages
    are summed at ``r``, layer-normalised, concatenated with ``h_r`` and passed through a two-layer MLP.

    Computed in the cheapest exact order: the first three linear maps per node (then gathered per
    edge), and the last one after the sum, on the ``right`` nodes (``sum_e (W_f x_e + b_f) =
    W_f sum_e x_e + deg * b_f``), so the only work per edge is a gather, layer norm and ReLU: the
    same numbers as Gasse's per-edge layers, up to float rounding, at a fraction of the cost.
    """

    def __init__(self, emb: int, n_edge_features: int):
        super().__init__()
        self.feature_left = nn.Linear(emb, emb)
        self.feature_edge = nn.Linear(n_edge_features, emb, bias=False)
        self.feature_right = nn.Linear(emb, emb, bias=False)
        self.feature_final = nn.Sequential(nn.LayerNorm(emb), nn.ReLU(), nn.Linear(emb, emb))
        self.post_conv = nn.LayerNorm(emb)
        self.output = nn.Sequential(nn.Linear(2 * emb, emb), nn.ReLU(), nn.Linear(emb, emb))

    def forward(self, left: torch.Tensor, edge_index: torch.Tensor, edge: torch.Tensor,
                right: torch.Tensor) -> torch.Tensor:
        # edge_index[0] indexes ``left`` (the sources), edge_index[1] indexes ``right`` (the targets).
        src, dst = edge_index[0], edge_index[1]
        norm, _, final = self.feature_final
        x = self.feature_left(left).index_select(0, src)
        x = x + self.feature_edge(edge)
        x = x + self.feature_right(right).index_select(0, dst)
        x = torch.relu(nn.functional.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps))
        agg = x.new_zeros(right.shape[0], x.shape[1]).index_add_(0, dst, x)
        degree = torch.bincount(dst, minlength=right.shape[0]).to(x.dtype).unsqueeze(-1)
        agg = nn.functional.linear(agg, final.weight) + degree * final.bias
        return self.output(torch.cat([self.post_conv(agg), right], dim=-1))


class GCNNPolicy(nn.Module):
    """Gasse et al.'s GCNN: one logit per variable of a (batched) bipartite graph.

    Parameters
    ----------
    cfg
        The architecture; ``cfg.feature_layout`` is exposed as :attr:`feature_layout`.
    """

    def __init__(self, cfg: PolicyConfig | None = None):
        super().__init__()
        cfg = cfg or PolicyConfig()
        self.cfg = cfg
        emb = cfg.emb_size
        self.cons_norm = PreNorm(cfg.n_constraint_features)
        self.edge_norm = PreNorm(cfg.n_edge_features)
        self.var_norm = PreNorm(cfg.n_variable_features)
        self.cons_embedding = nn.Sequential(nn.Linear(cfg.n_constraint_features, emb), nn.ReLU(),
                                            nn.Linear(emb, emb), nn.ReLU())
        self.var_embedding = nn.Sequential(nn.Linear(cfg.n_variable_features, emb), nn.ReLU(),
                                           nn.Linear(emb, emb), nn.ReLU())
        self.conv_v_to_c = BipartiteConv(emb, cfg.n_edge_features)
        self.conv_c_to_v = BipartiteConv(emb, cfg.n_edge_features)
        self.output = nn.Sequential(nn.Linear(emb, emb), nn.ReLU(), nn.Linear(emb, 1, bias=False))
        self.register_buffer("prenorm_fitted", torch.tensor(False))

    @property
    def feature_layout(self) -> str:
        """The feature layout the policy was built for."""
        return self.cfg.feature_layout

    def forward(self, constraint_features: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor,
                variable_features: torch.Tensor) -> torch.Tensor:
        """Logits of every variable, shape ``(n,)``.

        ``edge_index`` row 0 indexes constraints and row 1 variables (as in the samples).
        """
        return self.output(self.embed(constraint_features, edge_index, edge_attr, variable_features)).squeeze(-1)

    def embed(self, constraint_features: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor,
              variable_features: torch.Tensor) -> torch.Tensor:
        """The variables' embeddings after both half-convolutions, shape ``(n, emb)``."""
        c = self.cons_embedding(self.cons_norm(constraint_features))
        e = self.edge_norm(edge_attr)  # as Gasse: edges enter each convolution through its own linear map
        v = self.var_embedding(self.var_norm(variable_features))
        c = self.conv_v_to_c(v, edge_index.flip(0), e, c)
        return self.conv_c_to_v(c, edge_index, e, v)

    def logits(self, data: Any) -> torch.Tensor:
        """Logits of every variable of a sample or batch (a ``torch_geometric`` ``Data``/``Batch``)."""
        return self(data.constraint_features, data.edge_index, data.edge_attr, data.variable_features)

    @torch.no_grad()
    def fit_prenorm(self, loader: Iterable[Any], max_batches: int | None = None) -> dict[str, int]:
        """Fit the pre-normalisation shifts and scales on training batches (Gasse's pre-training).

        Means and variances are accumulated in float64 over every constraint, edge and variable of
        the batches (at most ``max_batches`` of them), then frozen in the buffers.

        Returns
        -------
        dict
            How many constraints, edges and variables were seen.
        """
        sums = {k: None for k in ("cons", "edge", "var")}
        counts = {"cons": 0, "edge": 0, "var": 0}
        for b, batch in enumerate(loader):
            if max_batches is not None and b >= max_batches:
                break
            for key, x in (("cons", batch.constraint_features), ("edge", batch.edge_attr),
                           ("var", batch.variable_features)):
                x = x.to(torch.float64)
                s = torch.stack([x.sum(0), (x * x).sum(0)])
                sums[key] = s if sums[key] is None else sums[key] + s
                counts[key] += x.shape[0]
        if counts["var"] == 0:
            raise InputError("cannot fit the pre-normalisation: no training samples")
        for key, norm in (("cons", self.cons_norm), ("edge", self.edge_norm), ("var", self.var_norm)):
            if counts[key] == 0:
                continue
            mean = sums[key][0] / counts[key]
            var = sums[key][1] / counts[key] - mean * mean
            norm.set_stats(mean, var)
        self.prenorm_fitted.fill_(True)
        return {"constraints": counts["cons"], "edges": counts["edge"], "variables": counts["var"]}


class HybridPolicy(nn.Module):
    """The CPU-friendly hybrid of Gupta et al. (2020): the GCNN once at the root, a small MLP at every node.

    At the root, :meth:`root_embeddings` runs the GCNN trunk (:meth:`GCNNPolicy.embed`) on the root's
    bipartite graph and gives one embedding per variable. At each node only the candidates' 19
    current variable features go through an MLP, modulated by their root embeddings with FiLM
    (``h * (1 + gamma(r)) + beta(r)``, Gupta et al.'s best variant) and scored by a two-layer head
    (:meth:`node_logits`): microseconds per node instead of a graph convolution over every edge.
    The FiLM layer starts at zero, so an untrained hybrid is a plain node MLP.

    ``forward`` takes one graph as its own root (scores of every variable), so the generic tools
    that call ``policy(cons, edge_index, edge, var)`` work; the branching rule uses the two parts.
    """

    uses_root = True

    def __init__(self, cfg: PolicyConfig):
        super().__init__()
        self.cfg = cfg
        emb = cfg.emb_size
        self.gnn = GCNNPolicy(cfg)
        self.node_norm = PreNorm(cfg.n_variable_features)
        self.node_mlp = nn.Sequential(nn.Linear(cfg.n_variable_features, emb), nn.ReLU(),
                                      nn.Linear(emb, emb), nn.ReLU())
        self.film = nn.Linear(emb, 2 * emb)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)
        self.head = nn.Sequential(nn.Linear(emb, emb), nn.ReLU(), nn.Linear(emb, 1, bias=False))

    @property
    def feature_layout(self) -> str:
        return self.cfg.feature_layout

    def root_embeddings(self, constraint_features: torch.Tensor, edge_index: torch.Tensor,
                        edge_attr: torch.Tensor, variable_features: torch.Tensor) -> torch.Tensor:
        """The root's variable embeddings ``(n, emb)`` (call once per solve)."""
        return self.gnn.embed(constraint_features, edge_index, edge_attr, variable_features)

    def node_logits(self, root_embeddings: torch.Tensor, variable_features: torch.Tensor) -> torch.Tensor:
        """Logits ``(k,)`` of ``k`` variables from their root embeddings ``(k, emb)`` and node features ``(k, 19)``."""
        h = self.node_mlp(self.node_norm(variable_features))
        gamma, beta = self.film(root_embeddings).chunk(2, dim=-1)
        return self.head(h * (1 + gamma) + beta).squeeze(-1)

    def forward(self, constraint_features: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor,
                variable_features: torch.Tensor) -> torch.Tensor:
        root = self.root_embeddings(constraint_features, edge_index, edge_attr, variable_features)
        return self.node_logits(root, variable_features)

    def logits(self, data: Any) -> torch.Tensor:
        return self(data.constraint_features, data.edge_index, data.edge_attr, data.variable_features)


def build_policy(cfg: PolicyConfig) -> nn.Module:
    """The network of ``cfg`` (fresh weights from the global torch RNG)."""
    if cfg.arch == "gcnn":
        return GCNNPolicy(cfg)
    if cfg.arch == "hybrid":
        return HybridPolicy(cfg)
    raise InputError(f"unknown policy architecture {cfg.arch!r}")  # pragma: no cover (PolicyConfig checks)


# ----------------------------------------------------------------------------- candidates


def graph_of_candidates(n_candidates: torch.Tensor) -> torch.Tensor:
    """For each candidate of a batch, the index of its graph (``n_candidates`` has one entry per graph)."""
    n = n_candidates.reshape(-1).to(torch.long)
    return torch.repeat_interleave(torch.arange(n.numel()), n)


def candidate_logits(model: nn.Module, data: Any) -> torch.Tensor:
    """The logits of the candidates of a sample or batch, flat, shape ``(sum k,)``."""
    return model.logits(data)[data.candidates.reshape(-1).to(torch.long)]


def candidate_softmax(cand_logits: torch.Tensor, n_candidates: torch.Tensor) -> torch.Tensor:
    """The policy: a softmax over the candidates of each graph (flat; sums to 1 per graph)."""
    from torch_geometric.utils import softmax

    index = graph_of_candidates(n_candidates)
    return softmax(cand_logits, index, num_nodes=int(n_candidates.numel()))


def pad_candidates(values: torch.Tensor, n_candidates: torch.Tensor, fill: float = PAD) -> torch.Tensor:
    """Flat per-candidate values as a ``(graphs, max k)`` tensor, ``fill`` beyond each graph's ``k``."""
    n = n_candidates.reshape(-1).to(torch.long)
    width = int(n.max()) if n.numel() else 0
    out = values.new_full((n.numel(), width), fill)
    index = graph_of_candidates(n)
    starts = torch.cumsum(n, 0) - n
    pos = torch.arange(values.shape[0]) - starts[index]
    out[index, pos] = values
    return out


# ----------------------------------------------------------------------------- weights files

#: ``format`` of every branching policy and training checkpoint file.
FORMAT = "coptim-branching-v1"


def policy_payload(model: nn.Module, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a weights file holds: format, architecture, feature layout, weights (and ``extra`` metadata)."""
    return {"format": FORMAT, "config": model.cfg.to_dict(), "feature_layout": model.cfg.feature_layout,
            "model": {k: v.detach().clone() for k, v in model.state_dict().items()}, **(extra or {})}


def load_file(path: Any) -> dict[str, Any]:
    """Read a policy or training checkpoint with ``torch.load(weights_only=True)``.

    Raises
    ------
    InputError
        If the file is missing, unreadable (corrupted, truncated, not a torch file) or not a
        coptim branching checkpoint.
    """
    from coptim.training.checkpoint import read_file

    return read_file(path, FORMAT, "coptim branching policy")


def policy_from_payload(obj: dict[str, Any], path: Any) -> nn.Module:
    """Build the network a checkpoint declares and load its weights (eval mode), checking everything.

    Raises
    ------
    InputError
        On an unknown or invalid architecture, a feature layout that disagrees with the
        configuration, weights that do not fit the architecture, or non-finite weights.
    """
    try:
        cfg = PolicyConfig.from_dict(obj.get("config"))
    except (InputError, TypeError) as exc:
        raise InputError(f"policy {path} has an invalid architecture: {exc}") from None
    if obj.get("feature_layout") != cfg.feature_layout:
        raise InputError(f"policy {path} is inconsistent: feature layout {obj.get('feature_layout')!r} "
                         f"but its configuration says {cfg.feature_layout!r}")
    state = obj.get("model")
    if not isinstance(state, dict):
        raise InputError(f"policy {path} has no weights")
    model = build_policy(cfg)
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"policy {path} does not match its declared architecture {cfg.arch!r}: {first}") from None
    for name, t in model.state_dict().items():
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise InputError(f"policy {path} has non-finite weights in {name}")
    model.eval()
    return model
