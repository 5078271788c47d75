"""HDPO from random weights (no imitation warm start) with centred inputs, against the reference policy.

For each setting: train the MLP with the from-scratch recipe below (checkpointed, resumable),
measure it on the test scenarios and append a row to ``bench/results/inventory_scratch.csv``.
The reference cost on the same test scenarios is read from the rows of ``lost_sales.py``
(optimal policy from the exact DP) or ``backlog_serial.py`` (optimal base-stock / echelon
base-stock), so run those first. ``--reinforce`` also trains REINFORCE with the same network,
scenarios, episode, batch, steps and step size.

Run (single thread; settings already in the CSV are skipped):

    nohup .venv/bin/python bench/inventory/scratch.py lost-sales-p4-L1 lost-sales-p4-L2 > /tmp/scratch.log 2>&1 &
    .venv/bin/python bench/inventory/scratch.py --reinforce lost-sales-p9-L2
"""

from __future__ import annotations

import argparse
import csv
import time

import torch

from lost_sales import CKPT, RESULTS, hardware  # noqa: E402  (same folder)

CSV = RESULTS / "inventory_scratch.csv"
FIELDS = ["setting", "method", "reference", "reference_test", "test", "gap_pct", "stderr", "best_validation",
          "best_step", "steps", "batch_size", "learning_rate", "episode", "warm_start", "features", "train_cpu_s",
          "train_wall_s", "hardware"]

from coptim.inventory.training import SCRATCH_RECIPE as RECIPE  # noqa: E402


def reference(name: str) -> tuple[str, float]:
    """Reference policy and its test cost, from the other inventory CSVs."""
    for file, key, label in (("inventory_lost_sales.csv", "optimal_test", "optimal (RVI)"),
                             ("inventory_backlog_serial.csv", "reference_test", None)):
        path = RESULTS / file
        if path.exists():
            with path.open() as f:
                for row in csv.DictReader(f):
                    if row["setting"] == name:
                        return label or row["reference"], float(row[key])
    raise SystemExit(f"no reference cost for {name}: run lost_sales.py or backlog_serial.py for it first")


def done() -> set[tuple[str, str]]:
    if not CSV.exists():
        return set()
    with CSV.open() as f:
        return {(r["setting"], r["method"]) for r in csv.DictReader(f)}


def main() -> None:
    from coptim.inventory.evaluation import evaluate
    from coptim.inventory.settings import load_setting, with_training
    from coptim.inventory.training import train_hdpo, train_reinforce

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("settings", nargs="+")
    ap.add_argument("--reinforce", action="store_true", help="also train REINFORCE with the same budget")
    ap.add_argument("--steps", type=int, default=RECIPE["steps"])
    ap.add_argument("--force", action="store_true", help="redo settings already in the CSV")
    args = ap.parse_args()
    torch.set_num_threads(1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    CKPT.mkdir(parents=True, exist_ok=True)
    methods = ("hdpo", "reinforce") if args.reinforce else ("hdpo",)
    for name in args.settings:
        ref_name, ref = reference(name)
        s = with_training(load_setting(name), **{**RECIPE, "steps": args.steps})
        for method in methods:
            if (name, method) in done() and not args.force:
                print("skip", name, method, flush=True)
                continue
            cpu0, wall0 = time.process_time(), time.perf_counter()
            if method == "hdpo":
                ck = CKPT / f"{name}-scratch-{args.steps}.ckpt"
                if args.force and ck.exists():
                    ck.unlink()
                res = train_hdpo(s, seed=0, checkpoint=ck)
            else:
                res = train_reinforce(s, seed=0)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            test = evaluate(s, res.model, "test")
            row = {
                "setting": name, "method": method, "reference": ref_name, "reference_test": ref,
                "test": test["cost_per_period"], "gap_pct": 100.0 * (test["cost_per_period"] / ref - 1.0),
                "stderr": test["stderr"], "best_validation": res.best_validation, "best_step": res.best_step,
                "steps": s.training.steps, "batch_size": s.training.batch_size,
                "learning_rate": s.training.learning_rate, "episode": s.training.episode,
                "warm_start": "none", "features": "centred", "train_cpu_s": cpu, "train_wall_s": wall,
                "hardware": hardware(),
            }
            new = not CSV.exists()
            with CSV.open("a", newline="") as f:
                w = csv.DictWriter(f, fieldnames=FIELDS)
                if new:
                    w.writeheader()
                w.writerow(row)
            print(row, flush=True)


if __name__ == "__main__":
    main()
