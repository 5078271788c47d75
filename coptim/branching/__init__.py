"""Learned branching inside SCIP (Gasse et al. 2019, rebuilt on SCIP 10 / PySCIPOpt 6, no Ecole).

* :mod:`coptim.branching.features` -- the bipartite observation of a node (constraints, variables, edges).
* :mod:`coptim.branching.collect`, :mod:`coptim.branching.dataset` -- strong-branching expert samples.
* :mod:`coptim.branching.roots` -- each episode's root observation (for the hybrid policy).
* :mod:`coptim.branching.model` -- the GCNN policy, and the hybrid (GCNN at the root, MLP at the nodes).
* :mod:`coptim.branching.train`, :mod:`coptim.branching.hybrid` -- imitation learning with resumable checkpoints.
* :mod:`coptim.branching.rule` -- the PySCIPOpt branching rule that runs a trained policy.

:func:`attach` and :func:`load_policy` are imported lazily, so ``import coptim.branching`` stays cheap::

    import pyscipopt, coptim.branching
    model = pyscipopt.Model(); model.readProblem("instance.mps")
    rule = coptim.branching.attach(model, "setcover-easy-hybrid")   # or a path to a .pt file
    model.optimize()
"""

from __future__ import annotations

from typing import Any

__all__ = ["attach", "load_policy"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from coptim.branching import rule

        return getattr(rule, name)
    raise AttributeError(f"module 'coptim.branching' has no attribute {name!r}")
