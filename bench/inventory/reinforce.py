"""HDPO vs REINFORCE with the same network, scenarios, batch, steps and validation, from random weights.

Run: ``.venv/bin/python bench/inventory/reinforce.py [SETTING ...]`` (default lost-sales-p9-L2);
rows go to ``bench/results/inventory_reinforce.csv``.
"""

from __future__ import annotations

import csv
import sys

import torch

from lost_sales import RESULTS, hardware  # noqa: E402  (same folder)

CSV = RESULTS / "inventory_reinforce.csv"
FIELDS = ["setting", "method", "steps", "batch_size", "learning_rate", "best_validation", "best_step", "test",
          "train_time_s", "hardware"]
STEPS = 300


def main() -> None:
    from coptim.inventory.evaluation import evaluate
    from coptim.inventory.settings import load_setting, with_training
    from coptim.inventory.training import train_hdpo, train_reinforce

    torch.set_num_threads(1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name in sys.argv[1:] or ["lost-sales-p9-L2"]:
        s = with_training(load_setting(name), steps=STEPS, warm_start="none", learning_rate=3e-3)
        for method, fn in (("hdpo", train_hdpo), ("reinforce", train_reinforce)):
            res = fn(s, seed=0)
            row = {"setting": name, "method": method, "steps": STEPS, "batch_size": s.training.batch_size,
                   "learning_rate": s.training.learning_rate, "best_validation": res.best_validation,
                   "best_step": res.best_step, "test": evaluate(s, res.model, "test")["cost_per_period"],
                   "train_time_s": res.time_s, "hardware": hardware()}
            new = not CSV.exists()
            with CSV.open("a", newline="") as f:
                w = csv.DictWriter(f, fieldnames=FIELDS)
                if new:
                    w.writeheader()
                w.writerow(row)
            print(row, flush=True)


if __name__ == "__main__":
    main()
