"""Make a shipped weights file from a training run: model and training record only (no optimiser, no RNG).

    .venv/bin/python bench/learned/ship.py runs/pomo-tsp20 solvers/learned/tsp20-pomo.pt [--final]

By default takes RUN/best.pt, the weights with the best greedy gap on the run's validation set
(checked at the end of every epoch), with the record of that epoch from RUN/log.csv; with
``--final`` the last state of the run (RUN/checkpoint.pt). Writes DEST atomically.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from coptim.training.checkpoint import load_file, model_from_payload, policy_payload, save_atomic


def main() -> None:
    run, dest = Path(sys.argv[1]), Path(sys.argv[2])
    final = "--final" in sys.argv[3:]
    ckpt = load_file(run / "checkpoint.pt")
    source = run / ("checkpoint.pt" if final else "best.pt")
    obj = ckpt if final else load_file(source)
    model = model_from_payload(obj, source)
    record = {"step": int(obj["step"]), "train_config": ckpt["train_config"], "source": source.name}
    if final:
        record.update(samples=ckpt["samples"], train_cpu_s=ckpt["train_cpu_s"], train_wall_s=ckpt["train_wall_s"])
    else:
        with open(run / "log.csv", newline="") as fh:
            row = next(r for r in csv.DictReader(fh) if int(r["step"]) == record["step"])
        record.update(samples=int(row["samples"]), train_cpu_s=float(row["train_cpu_s"]),
                      train_wall_s=float(row["train_wall_s"]), val_greedy_gap_pct=float(row["val_greedy_gap_pct"]),
                      val_multistart_gap_pct=float(row["val_multistart_gap_pct"]))
    save_atomic(policy_payload(model, obj["size"], obj["max_nodes"], extra={"training": record}), dest)
    print(f"wrote {dest} ({dest.stat().st_size} bytes) from {source}: step {record['step']}, "
          f"{record['samples']} samples, {record['train_cpu_s']:.1f} training CPU s")


if __name__ == "__main__":
    main()
