"""Evaluate a knapsack POMO policy (``learned-knapsack``): gaps to the optimum on seeded sets, one torch thread.

    .venv/bin/python bench/learned/eval_knapsack.py \
        --sets uncorrelated:100:1000 uncorrelated:200:1000 --out bench/results/learned/knapsack_eval.json

Each set is ``KIND:SIZE:COUNT``: instance ``i`` is ``coptim.problems.knapsack.GENERATORS[KIND](SIZE,
default_rng([seed, SIZE, i]))`` (Pisinger's generators, coefficients in 1..1000, capacity half the total
weight; seed 777 by default). References: the exact ``dp`` solver, cached in
``bench/results/learned/refs/``. Gaps are measured by the knapsack checker. Decoding strategies: greedy
(one rollout) and multistart (one rollout per first item, as POMO; at most ``--starts``); ``--baselines``
classical solvers (by default ``greedy``, by value/weight ratio) are measured on the same instances. Weights: ``--weights``,
or for each set the shipped weights that ``learned-knapsack`` picks for its size.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from coptim.bench import write_text_atomic

ROOT = Path(__file__).resolve().parents[2]


def summary(label: str, objectives: list[float], refs: list[float], cpu_s: float) -> dict:
    """Mean and max gap (percent, to the optimum), the share solved optimally and CPU s per instance; printed."""
    from coptim.problems import gap_percent

    gaps = np.array([gap_percent(o, r, "max") for o, r in zip(objectives, refs)])
    row = {"count": len(gaps), "mean_gap_pct": float(gaps.mean()), "max_gap_pct": float(gaps.max()),
           "optimal_share": float(np.mean(gaps <= 1e-12)), "cpu_s_per_instance": cpu_s / len(gaps)}
    print(f"{label}: mean gap {row['mean_gap_pct']:.4f}% max {row['max_gap_pct']:.3f}% optimal "
          f"{row['optimal_share']:.1%} | {1000 * row['cpu_s_per_instance']:.2f} ms CPU/instance", flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default=None, help="weights file (default: the shipped ones for each set's size)")
    ap.add_argument("--sets", nargs="+", default=["uncorrelated:100:1000", "uncorrelated:200:1000"],
                    help="KIND:SIZE:COUNT sets")
    ap.add_argument("--seed", type=int, default=777)
    ap.add_argument("--decode", nargs="*", default=["greedy", "multistart"], choices=["greedy", "multistart"])
    ap.add_argument("--baselines", nargs="*", default=["greedy"],
                    help="registered knapsack solvers to measure on the same instances (default: greedy)")
    ap.add_argument("--starts", type=int, default=None, help="starts of multistart (default: every item)")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    from coptim import solvers
    from coptim.envs import make
    from coptim.problems import knapsack
    from coptim.solvers.learned import default_weights, load
    from coptim.training.pomo import checked_gap, reference_objectives
    from coptim.policies.decoding import decode_instances

    torch.set_num_threads(1)
    env = make("knapsack")
    report = {"seed": args.seed, "threads": 1, "sets": {}}
    for spec in args.sets:
        kind, size, count = spec.split(":")
        size, count = int(size), int(count)
        weights = args.weights or str(default_weights("knapsack", size))
        model, meta = load("knapsack", weights)
        generate = knapsack.GENERATORS[kind]
        insts = [generate(size, np.random.default_rng([args.seed, size, i]), name=f"kp-{kind}-{size}-{i}")
                 for i in range(count)]
        t0 = time.perf_counter()
        cache = ROOT / f"bench/results/learned/refs/knapsack-{kind}-{size}-s{args.seed}-n{count}.json"
        refs = reference_objectives("knapsack", insts, "dp", None, cache)
        print(f"{spec}: {count} dp references in {time.perf_counter() - t0:.1f} s", flush=True)
        rows = {"weights": Path(weights).name, "policy_size": meta["size"]}
        for strategy in args.decode:
            sols, cpu = [], 0.0
            for lo in range(0, count, args.batch):
                chunk = insts[lo:lo + args.batch]
                c0 = time.process_time()
                with torch.inference_mode():
                    sols += decode_instances(model, env, chunk, strategy,
                                             starts=args.starts if strategy == "multistart" else None)
                cpu += time.process_time() - c0
            _, objs = checked_gap("knapsack", insts, sols, refs)
            rows[strategy] = summary(f"{spec} {strategy}", objs, refs, cpu)
        for name in args.baselines:  # solvers.solve checks every answer
            c0 = time.process_time()
            objs = [solvers.solve("knapsack", inst, name).objective for inst in insts]
            rows[f"solver:{name}"] = summary(f"{spec} solver {name}", objs, refs, time.process_time() - c0)
        report["sets"][spec] = rows
    if args.out:
        write_text_atomic(Path(args.out), json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
