"""Cost per node of learned branching: feature extraction and one GCNN forward pass, one thread.

Usage::

    .venv/bin/python bench/branching/inference_time.py [--rows 500] [--cols 1000] [--policy PATH]
        [--nodes 20] [--repeats 20]

Solves a Gasse-style set cover instance (``generate_setcover(rows, default_rng(0), ncols=cols)``)
with SCIP's default settings (or Gasse et al.'s with ``--gasse``) and the learned rule (the policy given, or an untrained GCNN with
emb 64), stops after ``--nodes`` branchings, and reports per node the time of
``FeatureExtractor.observe`` and of the policy's forward pass (as the rule measures them), then
times the forward pass again on the last observation ``--repeats`` times (median and min) to
take the noise of a shared machine out, and on the whole original matrix (the observation's size
with presolve off: ``rows`` constraints, ``cols`` variables, ``rows*cols*density`` edges). Torch runs
on one thread.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch


def _forward_times(policy, inputs: tuple, repeats: int) -> list[float]:
    """Seconds of ``repeats`` forward passes on ``inputs`` (after one warm-up pass)."""
    times = []
    with torch.inference_mode():
        policy(*inputs)
        for _ in range(repeats):
            t = time.perf_counter()
            policy(*inputs)
            times.append(time.perf_counter() - t)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--cols", type=int, default=1000)
    parser.add_argument("--density", type=float, default=0.05)
    parser.add_argument("--policy", default=None, help="a .pt file or shipped name (default: untrained GCNN, emb 64)")
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--gasse", action="store_true",
                        help="Gasse et al.'s settings (cuts at the root only, no restarts), as in bench.sh")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    from coptim.branching import features
    from coptim.branching.model import GCNNPolicy, PolicyConfig
    from coptim.branching.rule import LearnedBranching, load_policy
    from coptim.problems import milp
    from coptim.solvers.milp_scip import TOP_PRIORITY

    policy = (load_policy(args.policy) if args.policy
              else GCNNPolicy(PolicyConfig(feature_layout=features.FEATURE_LAYOUT)).eval())
    inst = milp.generate_setcover(args.rows, np.random.default_rng(0), ncols=args.cols, density=args.density)
    model = milp.to_scip_model(inst)
    model.setParam("limits/time", 600.0)
    if args.gasse:
        from coptim.solvers.milp_scip import GASSE_PARAMS

        for key, value in GASSE_PARAMS.items():
            model.setParam(key, value)
    last: dict = {}

    class Recording(LearnedBranching):
        def _choose(self):
            choice = super()._choose()
            last["obs"] = self.extractor.observe(self.model)
            if self.branched + 1 >= args.nodes:
                self.model.interruptSolve()
            return choice

    recording = Recording(policy)
    model.includeBranchrule(recording, "coptim-learned", "learned branching (timed)", priority=TOP_PRIORITY,
                            maxdepth=-1, maxbounddist=1.0)
    t0 = time.perf_counter()
    model.optimize()
    wall = time.perf_counter() - t0
    st = recording.stats()
    obs = last.get("obs")
    if obs is None:
        print(f"the instance was solved without branching ({model.getStatus()}); nothing to measure")
        return 1
    x = (torch.from_numpy(obs.constraint_features), torch.from_numpy(obs.edge_index),
         torch.from_numpy(obs.edge_features), torch.from_numpy(obs.variable_features))
    times = _forward_times(policy, x, args.repeats)
    print(f"set cover {args.rows} x {args.cols} (density {args.density:g}); policy "
          f"{args.policy or 'untrained GCNN'} (emb {policy.cfg.emb_size}); torch threads {torch.get_num_threads()}")
    print(f"last observation: {obs.constraint_features.shape[0]} constraints, {obs.variable_features.shape[0]} "
          f"variables, {obs.edge_index.shape[1]} edges, {obs.candidates.size} candidates")
    print(f"in the solve ({st['learned_branched']} nodes branched, {wall:.2f} s wall): extraction "
          f"{st['extract_ms_per_node']:.2f} ms/node, forward {st['inference_ms_per_node']:.2f} ms/node")
    print(f"forward on the last observation, {args.repeats} repeats: median {1e3 * statistics.median(times):.2f} ms, "
          f"min {1e3 * min(times):.2f} ms")
    # the whole original matrix (what the observation is with presolve off), random features
    rng = np.random.default_rng(1)
    full = (torch.from_numpy(rng.normal(size=(inst.n_rows, 5)).astype(np.float32)),
            torch.from_numpy(np.stack([inst.row_indices(), inst.col_idx]).astype(np.int64)),
            torch.from_numpy(rng.normal(size=(inst.nnz, 1)).astype(np.float32)),
            torch.from_numpy(rng.normal(size=(inst.n_vars, 19)).astype(np.float32)))
    times = _forward_times(policy, full, args.repeats)
    print(f"forward on the full {inst.n_rows} x {inst.n_vars} matrix ({inst.nnz} edges), {args.repeats} repeats: "
          f"median {1e3 * statistics.median(times):.2f} ms, min {1e3 * min(times):.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
