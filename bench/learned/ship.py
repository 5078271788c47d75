"""Make a shipped weights file from a training run: model and metadata only (no optimiser, no RNG).

    .venv/bin/python bench/learned/ship.py runs/pomo-tsp20 solvers/learned/tsp20-pomo.pt

Takes RUN/checkpoint.pt (the final state of the run), keeps the architecture, the weights and the
training record (settings, steps, samples, CPU seconds), and writes DEST atomically.
"""

from __future__ import annotations

import sys
from pathlib import Path

from coptim.training.checkpoint import load_file, model_from_payload, policy_payload, save_atomic


def main() -> None:
    run, dest = Path(sys.argv[1]), Path(sys.argv[2])
    obj = load_file(run / "checkpoint.pt")
    model = model_from_payload(obj, run / "checkpoint.pt")
    record = {k: obj[k] for k in ("step", "epoch", "samples", "train_cpu_s", "train_wall_s", "train_config")}
    save_atomic(policy_payload(model, obj["size"], obj["max_nodes"], extra={"training": record}), dest)
    print(f"wrote {dest} ({dest.stat().st_size} bytes): step {record['step']}, {record['samples']} samples, "
          f"{record['train_cpu_s']:.1f} CPU s")


if __name__ == "__main__":
    main()
