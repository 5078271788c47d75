"""A folder of expert samples as a torch dataset of ``torch_geometric`` graphs.

Each sample file (see :mod:`coptim.branching.collect`) becomes one :class:`BranchingSample`
with attributes ``constraint_features (m, 5)``, ``edge_index (2, E)``, ``edge_attr (E, 1)``,
``variable_features (n, 19)``, ``candidates (k,)``, ``candidate_scores (k,)``, ``action (1,)``
(index into ``candidates``) and ``n_candidates (1,)``. Batched with
``torch_geometric.loader.DataLoader``, ``edge_index`` rows are incremented by the number of
constraints and variables of the graphs before, ``candidates`` by the number of variables,
``action`` is not incremented (it stays an index into each sample's own candidates), and
``n_candidates`` splits the concatenated candidates back into samples.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch_geometric.data import Data

from coptim.errors import InputError

#: Scores above this (an infeasible child can give SCIP's infinity) are clipped when loaded.
SCORE_CLIP = 1e30


class BranchingSample(Data):
    """One node's bipartite graph with the expert's scores and choice."""

    def __inc__(self, key: str, value: Any, *args: Any, **kwargs: Any) -> Any:
        if key == "edge_index":
            return torch.tensor([[self.constraint_features.size(0)], [self.variable_features.size(0)]])
        if key == "candidates":
            return self.variable_features.size(0)
        if key in ("action", "n_candidates"):
            return 0
        return super().__inc__(key, value, *args, **kwargs)


def load_sample(path: str | Path, feature_layout: str | None = None) -> BranchingSample:
    """Read one sample file.

    Parameters
    ----------
    path
        A ``.npz`` file written by :mod:`coptim.branching.collect`.
    feature_layout
        The layout expected (default :data:`coptim.branching.features.FEATURE_LAYOUT`).

    Raises
    ------
    InputError
        If the file cannot be read, lacks a key, or has another feature layout.
    """
    from coptim.branching.features import FEATURE_LAYOUT

    expected = FEATURE_LAYOUT if feature_layout is None else feature_layout
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {key: f[key] for key in f.files}
    except Exception as exc:  # zip/format errors of a damaged file
        raise InputError(f"cannot read this sample file ({type(exc).__name__}: {exc})", path) from None
    needed = ("constraint_features", "edge_index", "edge_features", "variable_features", "candidates",
              "candidate_scores", "action")
    missing = [k for k in needed if k not in arrays]
    if missing:
        raise InputError(f"not a branching sample: no {', '.join(missing)}", path)
    layout = str(arrays.get("feature_layout", "unknown"))
    if layout != expected:
        raise InputError(f"the sample has feature layout {layout!r} but {expected!r} is expected; "
                         "collect the samples again", path)
    scores = np.nan_to_num(arrays["candidate_scores"].astype(np.float64), nan=-SCORE_CLIP, posinf=SCORE_CLIP,
                           neginf=-SCORE_CLIP)
    scores = np.clip(scores, -SCORE_CLIP, SCORE_CLIP)
    candidates = torch.from_numpy(arrays["candidates"].astype(np.int64))
    cons = torch.from_numpy(arrays["constraint_features"].astype(np.float32))
    var = torch.from_numpy(arrays["variable_features"].astype(np.float32))
    return BranchingSample(
        constraint_features=cons,
        edge_index=torch.from_numpy(arrays["edge_index"].astype(np.int64)),
        edge_attr=torch.from_numpy(arrays["edge_features"].astype(np.float32)),
        variable_features=var,
        candidates=candidates,
        candidate_scores=torch.from_numpy(scores.astype(np.float32)),
        action=torch.tensor([int(arrays["action"])], dtype=torch.long),
        n_candidates=torch.tensor([candidates.numel()], dtype=torch.long),
        num_nodes=cons.size(0) + var.size(0),
    )


class BranchingDataset(torch.utils.data.Dataset):
    """All sample files under ``folder`` (recursively, sorted by path).

    Parameters
    ----------
    folder
        A folder of ``.npz`` samples (for instance ``runs/branching/setcover-easy/train``).
    limit
        Use only the first ``limit`` files (None: all).

    Raises
    ------
    InputError
        If the folder does not exist or holds no samples.
    """

    def __init__(self, folder: str | Path, limit: int | None = None):
        from coptim.branching.collect import sample_files

        folder = Path(folder)
        if not folder.is_dir():
            raise InputError("sample folder not found", folder)
        files = sample_files(folder)
        if limit is not None:
            files = files[: int(limit)]
        if not files:
            raise InputError("no sample files (.npz) in this folder", folder)
        self.folder = folder
        self.files = files

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> BranchingSample:
        return load_sample(self.files[index])
