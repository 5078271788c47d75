"""Train the shipped TSP20 POMO policy: one torch thread, fp32, a budget of training CPU seconds.

    .venv/bin/python bench/learned/train_tsp20.py --out runs/pomo-tsp20 --budget 300

(the defaults: 3 layers, batch 64, constant lr 5e-4, no augmentation: the recipe of the first shipped
weights, best.pt at step 1700; they were sampled with torch.multinomial, another random stream, so
the current code gives other weights.)

Recipe options: ``--schedule cosine --warmup W --min-lr L`` (cosine decay over ``--epochs`` x
``--steps-per-epoch`` steps, after a linear warm-up) and ``--augment A`` (A symmetric copies per
instance share the POMO baseline). The shipped weights (solvers/learned/tsp20-pomo.md):

    .venv/bin/python bench/learned/train_tsp20.py --out runs/c4 --budget 300 --lr 2e-3 --schedule cosine \
        --warmup 200 --epochs 20 --batch 8 --augment 8

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
    ap.add_argument("--schedule", choices=("constant", "cosine"), default="constant",
                    help="learning-rate schedule over epochs x steps-per-epoch steps")
    ap.add_argument("--warmup", type=int, default=0, help="linear learning-rate warm-up steps")
    ap.add_argument("--min-lr", type=float, default=0.0, help="final learning rate of the cosine schedule")
    ap.add_argument("--augment", type=int, default=1, help="symmetric copies per instance in training (1..8)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.set_float32_matmul_precision("highest")
    from coptim.training import TrainConfig, train

    cfg = TrainConfig("tsp", 20, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, batch_size=args.batch,
                      lr=args.lr, seed=0, val_size=200, val_seed=1234, model={"layers": args.layers},
                      lr_schedule=args.schedule, warmup_steps=args.warmup, min_lr=args.min_lr, augment=args.augment)

    def progress(step, total, info):
        if "val_greedy_gap_pct" in info:
            print(json.dumps({"step": step, **info}), flush=True)

    summary = train(cfg, args.out, time_budget_s=args.budget, on_step=progress)
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
