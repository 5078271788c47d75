"""HDPO vs REINFORCE from the same random weights, with the same budget.

Both train the same MLP with the setting's own recipe (its ``[training]`` table: scenarios,
episode length, batch, steps, step-size schedule, validation), from the same seed; REINFORCE
adds a Gaussian exploration noise around the network's order (its scale is learned) and uses
score-function gradients with the cost-to-go and a mean baseline. Both are measured on the
test scenarios with integer orders against the reference on the same scenarios: the optimal
policy (exact DP) for lost sales, the optimal base-stock for backlog.

Run (one thread; pairs already in the CSV are skipped; checkpoints resume):

    .venv/bin/python bench/inventory/reinforce.py lost-sales-p9-L2 lost-sales-p4-L4 backlog-p9-L2

Rows go to ``bench/results/inventory_reinforce.csv``.
"""

from __future__ import annotations

import argparse
import csv
import time

import torch

from lost_sales import CKPT, RESULTS, hardware  # noqa: E402  (same folder)

CSV = RESULTS / "inventory_reinforce.csv"
FIELDS = ["setting", "method", "reference", "reference_test", "test", "gap_pct", "stderr", "best_validation",
          "best_step", "steps", "batch_size", "learning_rate", "episode", "train_cpu_s", "hardware"]


def reference(name: str):
    """The reference policy of a setting and its name."""
    from coptim.inventory.registry import make_policy
    from coptim.inventory.settings import load_setting

    s = load_setting(name)
    if s.network.kind == "single" and s.lost_sales:
        return make_policy(s, "optimal")[0], "optimal (exact DP)"
    if s.network.kind == "single":
        return make_policy(s, "base-stock")[0], "optimal base-stock"
    raise SystemExit(f"{name}: this comparison is for single-store settings")


def main() -> None:
    from coptim.inventory.evaluation import evaluate
    from coptim.inventory.settings import load_setting
    from coptim.inventory.training import train_hdpo, train_reinforce

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("settings", nargs="*", default=["lost-sales-p9-L2"])
    args = ap.parse_args()
    torch.set_num_threads(1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    CKPT.mkdir(parents=True, exist_ok=True)
    done = set()
    if CSV.exists():
        with CSV.open() as f:
            done = {(r["setting"], r["method"]) for r in csv.DictReader(f)}
    for name in args.settings:
        s = load_setting(name)
        ref_policy, ref_name = reference(name)
        ref = evaluate(s, ref_policy, "test")["cost_per_period"]
        for method, fn in (("hdpo", train_hdpo), ("reinforce", train_reinforce)):
            if (name, method) in done:
                print("skip", name, method, flush=True)
                continue
            cpu0 = time.process_time()
            res = fn(s, seed=0, checkpoint=CKPT / f"{name}-{method}-compare.ckpt")
            cpu = time.process_time() - cpu0
            test = evaluate(s, res.model, "test")
            tr = s.training
            row = {"setting": name, "method": method, "reference": ref_name, "reference_test": ref,
                   "test": test["cost_per_period"], "gap_pct": 100.0 * (test["cost_per_period"] / ref - 1.0),
                   "stderr": test["stderr"], "best_validation": res.best_validation, "best_step": res.best_step,
                   "steps": tr.steps, "batch_size": tr.batch_size, "learning_rate": tr.learning_rate,
                   "episode": tr.episode, "train_cpu_s": cpu, "hardware": hardware()}
            new = not CSV.exists()
            with CSV.open("a", newline="") as f:
                w = csv.DictWriter(f, fieldnames=FIELDS)
                if new:
                    w.writeheader()
                w.writerow(row)
            print(row, flush=True)


if __name__ == "__main__":
    main()
