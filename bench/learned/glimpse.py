"""The attention policy's glimpse, fused kernel against two matrix products: same decisions, CPU time.

    .venv/bin/python bench/learned/glimpse.py --out bench/results/learned/glimpse.json

For each path (``plain``: ``softmax(q K^T) V``; ``fused``: ``scaled_dot_product_attention``, which
:mod:`coptim.policies.attention` uses from ``FUSED_MIN_NODES`` nodes and ``FUSED_MIN_ROLLOUTS`` rollouts
on, in fp32) and ``--repeats`` rounds,
alternating the paths: CPU seconds (one torch thread, fp32) of

* ``cvrp100``: the shipped CVRP weights, greedy and ``aug8`` (100 starts x 8) on ``--count`` seeded
  CVRP100 instances, one instance per call as the solver runs;
* ``cvrp1000``: ``aug8`` with ``--starts-1000`` starts on one CVRP1000 instance (512 rollouts);
* ``knapsack``: the shipped knapsack weights, greedy and every start, 100 and 200 items;
* ``pomo_step``: one POMO training step on CVRP100 (batch 16, 100 starts) from the shipped weights.

The objectives of both paths are compared instance by instance (``identical``).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=50)
    ap.add_argument("--starts-1000", type=int, default=64)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", default="bench/results/learned/glimpse.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.set_float32_matmul_precision("highest")

    from coptim import problems, solvers
    from coptim.policies import attention
    from coptim.training import TrainConfig, train

    cvrp_gen = problems.get("cvrp").generators["uniform"]
    kp_gen = problems.get("knapsack").generators["uncorrelated"]
    cvrp100 = [cvrp_gen(100, np.random.default_rng([31, i])) for i in range(args.count)]
    cvrp1000 = cvrp_gen(1000, np.random.default_rng([31, 1000]))
    knap = [kp_gen(n, np.random.default_rng([31, n, i])) for n in (100, 200) for i in range(args.count // 2)]
    shipped = Path(__file__).resolve().parents[2] / "solvers" / "learned" / "cvrp100-im-pomo.pt"

    def solve_all(problem, insts, solver, decodings):
        c0 = time.process_time()
        objs = [solvers.solve(problem, i, solver, **d).objective for i in insts for d in decodings]
        return time.process_time() - c0, objs

    tasks = {
        "cvrp100": lambda: solve_all("cvrp", cvrp100, "learned-cvrp", [{"decode": "greedy"}, {"decode": "aug8"}]),
        "cvrp1000": lambda: solve_all("cvrp", [cvrp1000], "learned-cvrp",
                                      [{"decode": "aug8", "starts": args.starts_1000}]),
        "knapsack": lambda: solve_all("knapsack", knap, "learned-knapsack",
                                      [{"decode": "greedy"}, {"decode": "multistart"}]),
    }

    def pomo_step():
        cfg = TrainConfig("cvrp", 100, epochs=1, steps_per_epoch=args.steps, batch_size=16, lr=1e-5,
                          init=str(shipped), model={"layers": 3, "norm": "instance"})
        with tempfile.TemporaryDirectory() as d:
            s = train(cfg, d, validate=False)
        return s["train_cpu_s"] / s["step"], []

    tasks["pomo_step"] = pomo_step
    paths = {"plain": 10**9, "fused": attention.FUSED_MIN_NODES}
    cpu: dict[str, dict[str, list[float]]] = {p: {t: [] for t in tasks} for p in paths}
    objs: dict[str, dict[str, list]] = {p: {} for p in paths}
    try:
        for _ in range(args.repeats):
            for path, threshold in paths.items():
                attention.FUSED_MIN_NODES = threshold
                for name, task in tasks.items():
                    t, o = task()
                    cpu[path][name].append(t)
                    objs[path][name] = o
    finally:
        attention.FUSED_MIN_NODES = paths["fused"]
    result = {
        "cpu_s_min": {p: {t: min(v) for t, v in d.items()} for p, d in cpu.items()},
        "cpu_s_all": cpu,
        "identical": {t: objs["plain"][t] == objs["fused"][t] for t in tasks if t != "pomo_step"},
        "speedup": {t: min(cpu["plain"][t]) / min(cpu["fused"][t]) for t in tasks},
        "settings": vars(args), "fused_min_nodes": paths["fused"], "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(out)
    print(json.dumps({k: result[k] for k in ("cpu_s_min", "identical", "speedup")}, indent=1))


if __name__ == "__main__":
    main()
