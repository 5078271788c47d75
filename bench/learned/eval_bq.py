"""Evaluate a BQ TSP policy (``learned-tsp-bq``): gaps to LKH on seeded uniform sets, and to the optimum on
the shipped TSPLIB instances, with one torch thread.

    .venv/bin/python bench/learned/eval_bq.py --weights solvers/learned/tsp100-bq.pt \
        --uniform 100:1000 1000:128 --tsplib --out bench/results/learned/bq_eval.json

Uniform sets: ``coptim.problems.tsp.generate_uniform(n, default_rng([seed, i]))`` (seed 777 by default;
integer coordinates in [0, 10^6]^2, EUC_2D). References: LKH-3 (``lkh``, ``--ref-runs`` runs, seed 0),
cached in ``bench/results/learned/refs/``. TSPLIB: every shipped instance of ``instances/manifest.csv``
with coordinates and at most ``--tsplib-max`` nodes, against its optimal length. Gaps are measured by
the TSP checker on the original instances (TSPLIB rounding included). ``--knn`` applies to every set
(default: the value stored with the policy); instances above 1,000 nodes need one.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
import torch

from coptim.bench import write_text_atomic

ROOT = Path(__file__).resolve().parents[2]


def measure(model, insts, refs, *, decode: str, starts: int, beam_width: int, knn, batch: int) -> dict:
    from coptim import problems
    from coptim.envs.routing import normalise_coords
    from coptim.policies import bq

    prob = problems.get("tsp")
    augment = 8 if decode == "aug8" else 1
    gaps, cpu = [], 0.0
    by_size: dict[int, list[int]] = {}
    for k, inst in enumerate(insts):
        by_size.setdefault(int(inst.n), []).append(k)
    for n, idx in by_size.items():
        for lo in range(0, len(idx), batch):
            chunk = [insts[k] for k in idx[lo:lo + batch]]
            coords = torch.as_tensor(np.stack([normalise_coords(i.coords) for i in chunk]), dtype=torch.float32)
            c0 = time.process_time()
            tours = bq.decode(model, coords, starts=min(starts, n), augment=augment, beam_width=beam_width, knn=knn)
            cpu += time.process_time() - c0
            for k, inst, tour in zip(idx[lo:lo + batch], chunk, tours.tolist()):
                verdict = prob.check(inst, tour)
                assert verdict.feasible, verdict.violations
                gaps.append((k, problems.gap_percent(verdict.objective, refs[k], "min")))
    gaps.sort()
    values = [g for _, g in gaps]
    return {"count": len(values), "mean_gap_pct": float(np.mean(values)), "max_gap_pct": float(np.max(values)),
            "cpu_s_per_instance": cpu / len(values), "gaps_pct": values}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default=str(ROOT / "solvers/learned/tsp100-bq.pt"))
    ap.add_argument("--uniform", nargs="*", default=["100:1000"], help="SIZE:COUNT uniform sets")
    ap.add_argument("--seed", type=int, default=777)
    ap.add_argument("--tsplib", action="store_true", help="also the shipped TSPLIB instances")
    ap.add_argument("--tsplib-max", type=int, default=1000)
    ap.add_argument("--decode", nargs="*", default=["greedy"], choices=["greedy", "multistart", "aug8", "beam"])
    ap.add_argument("--starts", type=int, default=16, help="starts of multistart")
    ap.add_argument("--beam-width", type=int, default=16, help="width of beam")
    ap.add_argument("--knn", type=int, default=None)
    ap.add_argument("--ref-runs", type=int, default=1, help="LKH runs per reference")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--out", default=str(ROOT / "bench/results/learned/bq_eval.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)

    from coptim import problems
    from coptim.policies import bq
    from coptim.problems.tsp import generate_uniform
    from coptim.training.pomo import reference_objectives

    model, meta = bq.load(args.weights)
    knn = args.knn if args.knn is not None else meta.get("knn")
    sets: list[tuple[str, list, list[float]]] = []
    for spec in args.uniform:
        size, count = (int(v) for v in spec.split(":"))
        insts = [generate_uniform(size, np.random.default_rng([args.seed, i]), name=f"u{size}-s{args.seed}-{i}")
                 for i in range(count)]
        cache = ROOT / f"bench/results/learned/refs/tsp{size}-s{args.seed}-n{count}-runs{args.ref_runs}.json"
        refs = reference_objectives("tsp", insts, "lkh", None, cache, runs=args.ref_runs)
        sets.append((f"uniform TSP{size} (seed {args.seed})", insts, refs))
    if args.tsplib:
        tsp = problems.get("tsp")
        insts, refs = [], []
        with open(ROOT / "instances/manifest.csv", newline="") as fh:
            for row in csv.DictReader(fh):
                if row["problem"] != "tsp" or "tsplib" not in row["suites"].split() or row["reference_kind"] != "optimal":
                    continue
                if int(row["size"]) > args.tsplib_max:
                    continue
                inst = tsp.read(ROOT / "instances" / row["path"])
                if inst.coords is None:
                    continue
                insts.append(inst)
                refs.append(float(row["reference"]))
        sets.append((f"TSPLIB <= {args.tsplib_max} nodes", insts, refs))
    report = {"weights": Path(args.weights).name, "policy_size": meta["size"], "knn": knn, "results": []}
    for name, insts, refs in sets:
        for decode in args.decode:
            starts = args.starts if decode == "multistart" else 1
            width = args.beam_width if decode == "beam" else 1
            r = measure(model, insts, refs, decode=decode, starts=starts, beam_width=width, knn=knn, batch=args.batch)
            r.update(set=name, decode=decode, starts=starts, beam_width=width)
            if name.startswith("TSPLIB"):
                r["instances"] = [i.name for i in insts]
            report["results"].append(r)
            print(f"{name:32s} {decode:10s} n={r['count']:5d} mean gap {r['mean_gap_pct']:7.3f} %  "
                  f"max {r['max_gap_pct']:7.2f} %  {r['cpu_s_per_instance'] * 1000:9.1f} CPU ms/instance", flush=True)
    write_text_atomic(Path(args.out), json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
