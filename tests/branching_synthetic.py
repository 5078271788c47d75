"""Synthetic branching samples for the policy/training tests (built like the real dataset's samples).

The expert's scores are a function of the variable features (feature 0 plus the mean of the
edge weights of the variable), so a policy can learn them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import Data

LAYOUT = "synthetic-v1"


class BipartiteSample(Data):
    """A sample whose ``edge_index`` is shifted by (m, n) and ``candidates`` by n when batched."""

    def __inc__(self, key, value, *args, **kwargs):
        if key == "edge_index":
            return torch.tensor([[self.constraint_features.size(0)], [self.variable_features.size(0)]])
        if key == "candidates":
            return self.variable_features.size(0)
        return super().__inc__(key, value, *args, **kwargs)


def sample(rng: np.random.Generator, m: int | None = None, n: int | None = None) -> BipartiteSample:
    m = int(rng.integers(3, 9)) if m is None else m
    n = int(rng.integers(4, 12)) if n is None else n
    nnz = int(rng.integers(n, m * n + 1))
    cells = rng.choice(m * n, nnz, replace=False)
    edge_index = np.stack([cells // n, cells % n]).astype(np.int64)
    edge = rng.random((nnz, 1)).astype(np.float32)
    var = rng.normal(size=(n, 19)).astype(np.float32)
    k = int(rng.integers(1, n + 1))
    cands = np.sort(rng.choice(n, k, replace=False)).astype(np.int64)
    scores = var[cands, 0] * 2.0 + 3.0
    return BipartiteSample(
        constraint_features=torch.from_numpy(rng.normal(size=(m, 5)).astype(np.float32)),
        edge_index=torch.from_numpy(edge_index), edge_attr=torch.from_numpy(edge),
        variable_features=torch.from_numpy(var), candidates=torch.from_numpy(cands),
        candidate_scores=torch.from_numpy(scores.astype(np.float32)), action=torch.tensor(int(scores.argmax())),
        n_candidates=torch.tensor(k), num_nodes=n)


def samples(count: int, seed: int) -> list[BipartiteSample]:
    rng = np.random.default_rng(seed)
    return [sample(rng) for _ in range(count)]


class SampleList(list):
    """A list of samples with a feature layout."""

    def __init__(self, items=(), feature_layout: str = LAYOUT):
        super().__init__(items)
        self.feature_layout = feature_layout


def write_npz(folder, items, layout: str) -> None:
    """Write samples as ``.npz`` files in the format of ``coptim.branching.collect``."""
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i, s in enumerate(items):
        np.savez(folder / f"sample-{i:04d}.npz", constraint_features=s.constraint_features.numpy(),
                 edge_index=s.edge_index.numpy(), edge_features=s.edge_attr.numpy(),
                 variable_features=s.variable_features.numpy(), candidates=s.candidates.numpy(),
                 candidate_scores=s.candidate_scores.numpy(), action=np.int64(s.action), feature_layout=layout)
