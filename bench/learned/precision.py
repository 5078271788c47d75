"""Greedy decoding speed and gap of a TSP policy under fp32 "highest", fp32 "medium" and bf16 autocast.

    .venv/bin/python bench/learned/precision.py --weights solvers/learned/tsp20-pomo.pt

One torch thread. Speed: TSP100 instances per CPU second (batches of 100, 500 instances, after a
warm-up batch; best of --repeats). Gaps: greedy on the cached LKH references written by eval_tsp.py
(1,000 TSP20 instances of seed 777; 100 TSP100 instances of seed 778).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default="solvers/learned/tsp20-pomo.pt")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="bench/results/learned/precision.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from coptim import problems
    from coptim.envs import make
    from coptim.policies import decode
    from coptim.training import evaluate_gap, load_policy, reference_objectives

    res_dir = Path(args.out).parent
    model, _ = load_policy(args.weights, "tsp")
    env = make("tsp")
    gen = problems.get("tsp").generators["uniform"]
    small = [gen(20, np.random.default_rng([777, i]), name=f"eval20-{i}") for i in range(1000)]
    ref_small = reference_objectives("tsp", small, "lkh", None, res_dir / "ref_tsp20_s777_1000.json")
    big = [gen(100, np.random.default_rng([778, i]), name=f"speed100-{i}") for i in range(500)]
    ref_big = reference_objectives("tsp", big[:100], "lkh", None, res_dir / "ref_tsp100_s778_100.json")
    batches = [env.from_instances(big[lo:lo + 100]) for lo in range(0, 500, 100)]
    out = {}
    for label, prec, dtype in (("fp32_highest", "highest", None), ("fp32_medium", "medium", None),
                               ("bf16_autocast", "highest", torch.bfloat16)):
        torch.set_float32_matmul_precision(prec)
        ctx = (lambda: torch.autocast("cpu", dtype=dtype)) if dtype else contextlib.nullcontext
        with ctx():
            decode(model, env, batches[0], "greedy")
            best = 0.0
            for _ in range(args.repeats):
                c0 = time.process_time()
                for d in batches:
                    decode(model, env, d, "greedy")
                best = max(best, len(big) / (time.process_time() - c0))
            g20, _ = evaluate_gap(model, "tsp", small, ref_small, "greedy")
            g100, _ = evaluate_gap(model, "tsp", big[:100], ref_big, "greedy", batch_size=100)
        out[label] = {"tsp100_greedy_instances_per_cpu_s": best, "tsp20_greedy_gap_pct": g20,
                      "tsp100_greedy_gap_pct": g100}
        print(label, out[label], flush=True)
    torch.set_float32_matmul_precision("highest")
    Path(args.out).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
