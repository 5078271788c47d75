"""Train the shipped TSP20 POMO policy: one torch thread, fp32, a budget of training CPU seconds.

    .venv/bin/python bench/learned/train_tsp20.py --out runs/pomo-tsp20 --budget 300

(the shipped weights: the defaults below, i.e. 3 layers, batch 64, lr 5e-4; best.pt is step 1700.)

Resumable (run the same command again after a kill). Validation: 200 seeded TSP20 instances
against LKH (cached in OUT/reference.json).
"""

from __future__ import annotations

import argparse
import json

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="runs/pomo-tsp20")
    ap.add_argument("--budget", type=float, default=300.0, help="training CPU seconds")
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps-per-epoch", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=1000, help="upper bound; the CPU budget usually stops first")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.set_float32_matmul_precision("highest")
    from coptim.training import TrainConfig, train

    cfg = TrainConfig("tsp", 20, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, batch_size=args.batch,
                      lr=args.lr, seed=0, val_size=200, val_seed=1234, model={"layers": args.layers})

    def progress(step, total, info):
        if "val_greedy_gap_pct" in info:
            print(json.dumps({"step": step, **info}), flush=True)

    summary = train(cfg, args.out, time_budget_s=args.budget, on_step=progress)
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
