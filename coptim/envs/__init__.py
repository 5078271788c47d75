"""Constructive MDPs for learned solvers: batched torch environments and a single-instance adapter.

See :mod:`coptim.envs.routing` for the batched contract and :mod:`coptim.envs.single` for the
Gymnasium-style adapter. :mod:`coptim.envs.branching` is variable selection inside SCIP
(:class:`BranchingEnv`, one episode per solve).
"""

from coptim.envs.routing import (
    ENVS,
    CVRPEnv,
    Env,
    KnapsackEnv,
    State,
    TSPEnv,
    make,
    normalise_coords,
    normalise_coords_torch,
    symmetry,
)
from coptim.envs.branching import BranchingEnv
from coptim.envs.single import SingleInstanceEnv

__all__ = [
    "ENVS", "BranchingEnv", "CVRPEnv", "Env", "KnapsackEnv", "State", "TSPEnv", "SingleInstanceEnv", "make",
    "normalise_coords", "normalise_coords_torch", "symmetry",
]
