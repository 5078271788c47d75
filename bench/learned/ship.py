"""Make a shipped weights file from a training run: model and training record only (no optimiser, no RNG).

    .venv/bin/python bench/learned/ship.py runs/pomo-tsp20 solvers/learned/tsp20-pomo.pt [--final]
    .venv/bin/python bench/learned/ship.py runs/bq/tsp100-a solvers/learned/tsp100-bq.pt     # imitation (BQ) runs too

By default takes RUN/best.pt, the weights with the best greedy gap on the run's validation set
(checked at the end of every epoch), with the record of that epoch from RUN/log.csv; with
``--final`` the last state of the run (RUN/checkpoint.pt). Writes DEST atomically.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from coptim.errors import InputError
from coptim.policies import bq
from coptim.training.checkpoint import load_file, model_from_payload, policy_payload, read_file, save_atomic


def main() -> None:
    run, dest = Path(sys.argv[1]), Path(sys.argv[2])
    final = "--final" in sys.argv[3:]
    try:
        load_file(run / "checkpoint.pt")
        read, build, is_bq = load_file, model_from_payload, False
    except InputError:  # an imitation (BQ) run
        def read(path):
            return read_file(path, bq.FORMAT, "coptim BQ checkpoint")
        build, is_bq = bq.model_from_payload, True
    ckpt = read(run / "checkpoint.pt")
    source = run / ("checkpoint.pt" if final else "best.pt")
    obj = ckpt if final else read(source)
    model = build(obj, source)
    record = {"step": int(obj["step"]), "train_config": ckpt["train_config"], "source": source.name}
    if final:
        record.update(samples=ckpt["samples"], train_cpu_s=ckpt["train_cpu_s"], train_wall_s=ckpt["train_wall_s"])
    else:
        with open(run / "log.csv", newline="") as fh:
            row = next(r for r in csv.DictReader(fh) if int(r["step"]) == record["step"])
        record.update(samples=int(row["samples"]), train_cpu_s=float(row["train_cpu_s"]),
                      train_wall_s=float(row["train_wall_s"]), val_greedy_gap_pct=float(row["val_greedy_gap_pct"]))
        if not is_bq:
            record["val_multistart_gap_pct"] = float(row["val_multistart_gap_pct"])
    if is_bq:
        save_atomic(bq.payload(model, obj["size"], obj["knn"], extra={"training": record}), dest)
    else:
        save_atomic(policy_payload(model, obj["size"], obj["max_nodes"], extra={"training": record}), dest)
    print(f"wrote {dest} ({dest.stat().st_size} bytes) from {source}: step {record['step']}, "
          f"{record['samples']} samples, {record['train_cpu_s']:.1f} training CPU s")


if __name__ == "__main__":
    main()
