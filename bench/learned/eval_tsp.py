"""Evaluate a TSP POMO policy: gaps on a fixed seeded set against LKH (cross-checked with the exact
solver), and decoding speed on TSP100, one torch thread.

    .venv/bin/python bench/learned/eval_tsp.py --weights solvers/learned/tsp20-pomo.pt \
        --count 1000 --out bench/results/learned/tsp20_eval.json

Instances: ``coptim.problems.tsp.generate_uniform(n, default_rng([seed, i]))`` (integer coordinates
in [0, 10^6]^2, EUC_2D). Gaps are measured with the TSP checker on these instances (rounded
distances), references from ``coptim.solvers.solve(..., "lkh")``, cached under bench/results/learned/.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default="solvers/learned/tsp20-pomo.pt")
    ap.add_argument("--size", type=int, default=20)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=777)
    ap.add_argument("--exact-check", type=int, default=50, help="instances whose LKH value is compared with 'exact'")
    ap.add_argument("--speed-size", type=int, default=100)
    ap.add_argument("--speed-count", type=int, default=500)
    ap.add_argument("--speed-batch", type=int, default=100)
    ap.add_argument("--speed-gap-count", type=int, default=100, help="TSP100 instances whose greedy gap to LKH is measured")
    ap.add_argument("--out", default="bench/results/learned/tsp20_eval.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.set_float32_matmul_precision("highest")

    from coptim import problems, solvers
    from coptim.envs import make
    from coptim.policies import decode
    from coptim.training import load_policy, reference_objectives, evaluate_gap

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model, meta = load_policy(args.weights, "tsp")
    gen = problems.get("tsp").generators["uniform"]
    insts = [gen(args.size, np.random.default_rng([args.seed, i]), name=f"eval{args.size}-{i}") for i in range(args.count)]
    t0 = time.perf_counter()
    refs = reference_objectives("tsp", insts, "lkh", None, out.parent / f"ref_tsp{args.size}_s{args.seed}_{args.count}.json")
    ref_s = time.perf_counter() - t0
    exact_diffs = []
    for inst, ref in list(zip(insts, refs))[: args.exact_check]:
        r = solvers.solve("tsp", inst, "exact", time_limit=60)
        exact_diffs.append({"status": r.status, "lkh_minus_exact_pct": 100 * (ref - r.objective) / r.objective})
    results = {"weights": args.weights, "weights_meta": {k: v for k, v in meta.items() if k != "train_config"},
               "size": args.size, "count": args.count, "seed": args.seed, "reference": "lkh",
               "reference_time_s": ref_s,
               "exact_check": {"instances": len(exact_diffs),
                               "all_optimal": all(d["status"] == "optimal" for d in exact_diffs),
                               "max_lkh_minus_exact_pct": max((d["lkh_minus_exact_pct"] for d in exact_diffs), default=None)},
               "machine": platform.processor() or platform.machine(), "torch": torch.__version__, "threads": 1}
    env = make("tsp")
    for name, strategy, opts in (("greedy", "greedy", {}), ("multistart20", "multistart", {"starts": 20}),
                                 ("multistart20_aug8", "aug8", {"starts": 20})):
        c0, w0 = time.process_time(), time.perf_counter()
        gap, objs = evaluate_gap(model, "tsp", insts, refs, strategy, batch_size=250, **opts)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        results[name] = {"gap_pct": gap, "cpu_s": cpu, "wall_s": wall, "ms_per_instance_cpu": 1000 * cpu / len(insts)}
        print(name, results[name], flush=True)

    # one instance per call through the solver registry (what 'coptim solve' does), weights cached
    import coptim.solvers.learned  # noqa: F401  (registers learned-tsp)

    latency = {}
    for strategy in ("greedy", "aug8"):
        solvers.solve("tsp", insts[0], "learned-tsp", checkpoint=args.weights, decode=strategy)
        c0, w0 = time.process_time(), time.perf_counter()
        for inst in insts[:100]:
            res = solvers.solve("tsp", inst, "learned-tsp", checkpoint=args.weights, decode=strategy)
            assert res.feasible
        latency[strategy] = {"ms_per_call_cpu": 10 * (time.process_time() - c0),
                             "ms_per_call_wall": 10 * (time.perf_counter() - w0)}
    results["single_instance_solve_tsp20"] = latency
    print("single-instance", latency, flush=True)

    # TSP100 greedy decoding speed (batched, one thread), per precision setting
    big = [gen(args.speed_size, np.random.default_rng([args.seed + 1, i]), name=f"speed{args.speed_size}-{i}")
           for i in range(args.speed_count)]
    data = [env.from_instances(big[lo:lo + args.speed_batch]) for lo in range(0, len(big), args.speed_batch)]
    speed = {}
    for label, prec, dtype in (("fp32_highest", "highest", None), ("fp32_medium", "medium", None),
                               ("bf16_autocast", "highest", torch.bfloat16)):
        torch.set_float32_matmul_precision(prec)
        decode(model, env, data[0], "greedy")  # warm-up
        c0, w0 = time.process_time(), time.perf_counter()
        for d in data:
            if dtype is None:
                decode(model, env, d, "greedy")
            else:
                with torch.autocast("cpu", dtype=dtype):
                    decode(model, env, d, "greedy")
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        speed[label] = {"instances_per_cpu_s": len(big) / cpu, "instances_per_wall_s": len(big) / wall}
        print(label, speed[label], flush=True)
    torch.set_float32_matmul_precision("highest")
    results[f"tsp{args.speed_size}_greedy_speed"] = {"count": len(big), "batch": args.speed_batch, **speed}
    sub = big[: args.speed_gap_count]
    refs_big = reference_objectives("tsp", sub, "lkh", None,
                                    out.parent / f"ref_tsp{args.speed_size}_s{args.seed + 1}_{len(sub)}.json")
    gap_big, _ = evaluate_gap(model, "tsp", sub, refs_big, "greedy", batch_size=args.speed_batch)
    gap_big_aug, _ = evaluate_gap(model, "tsp", sub, refs_big, "aug8", batch_size=args.speed_batch)
    results[f"tsp{args.speed_size}_gap_pct"] = {"count": len(sub), "greedy": gap_big, "aug8_all_starts": gap_big_aug}
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
