"""Write a ``references.csv`` sidecar (``name,reference,reference_kind``) from benchmark CSVs.

    .venv/bin/python bench/learned/references.py bench/results/seeded-tsp200-lkh.csv --out DIR/references.csv

The reference of an instance is the best feasible objective over the given CSVs (kind ``bks``:
a best-known value, not a proven optimum). ``coptim bench`` then reports gaps to it for every
instance of that folder.
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

from coptim import bench, problems


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("csv", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    best: dict[str, tuple[float, str]] = {}
    for path in args.csv:
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row["feasible"] != "True" or not row["objective"]:
                    continue
                value = float(row["objective"])
                prob = problems.get(row["problem"])
                if prob.name == "milp":
                    raise SystemExit("references.py handles tsp, cvrp and knapsack (milp instances carry their own sense)")
                maximise = prob.sense == "max"
                old = best.get(row["instance"])
                if old is None or (value > old[0] if maximise else value < old[0]):
                    best[row["instance"]] = (value, row["solver"])
    if not best:
        raise SystemExit("no feasible run in the given CSVs")
    lines = ["name,reference,reference_kind"]
    lines += [f"{name},{value:.10g},bks" for name, (value, _) in sorted(best.items()) if math.isfinite(value)]
    bench.write_text_atomic(args.out, "\n".join(lines) + "\n")
    print(f"wrote {len(best)} references to {args.out}")


if __name__ == "__main__":
    main()
