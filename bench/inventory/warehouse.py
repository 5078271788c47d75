"""One warehouse and N stores (N = 3, 10, 50): GNN vs MLP trained by HDPO with 128 and 8,192 scenarios.

Reference: echelon base-stock (a warehouse echelon level and one level per store, proportional
allocation when the warehouse runs short), tuned by coordinate search on 256 training scenarios.
Every policy is evaluated on the same test scenarios with integer orders.

Run: ``nohup .venv/bin/python bench/inventory/warehouse.py > /tmp/warehouse.log 2>&1 &``
Rows go to ``bench/results/inventory_warehouse.csv``; runs already there are skipped.
"""

from __future__ import annotations

import argparse
import csv
import time

import torch

from lost_sales import CKPT, RESULTS, hardware  # noqa: E402  (same folder)

CSV = RESULTS / "inventory_warehouse.csv"
FIELDS = ["setting", "stores", "policy", "train_scenarios", "test_cost_per_period", "test_cost_per_store",
          "stderr", "gap_vs_echelon_pct", "best_validation", "best_step", "steps", "train_time_s", "hardware"]


def _done() -> set[tuple[str, str, str, str]]:
    if not CSV.exists():
        return set()
    with CSV.open() as f:
        return {(r["setting"], r["policy"], r["train_scenarios"], r["steps"]) for r in csv.DictReader(f)}


def _write(row: dict) -> None:
    new = not CSV.exists()
    with CSV.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        if new:
            w.writeheader()
        w.writerow(row)
    print(", ".join(f"{k}={row[k]}" for k in ("setting", "policy", "train_scenarios", "test_cost_per_store",
                                               "gap_vs_echelon_pct", "train_time_s")), flush=True)


def main() -> None:
    from coptim.inventory.evaluation import evaluate
    from coptim.inventory.registry import save_weights, weights_path
    from coptim.inventory.settings import load_setting, with_training
    from coptim.inventory.training import train_hdpo
    from coptim.inventory.tuning import tune

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", nargs="*", type=int, default=[3, 10, 50])
    parser.add_argument("--archs", nargs="*", default=["gnn", "mlp"])
    parser.add_argument("--data", nargs="*", type=int, default=[8192, 128])
    parser.add_argument("--steps", type=int, default=None, help="override the setting's number of HDPO steps")
    args = parser.parse_args()
    torch.set_num_threads(1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    CKPT.mkdir(parents=True, exist_ok=True)
    for n in args.stores:
        s = load_setting(f"warehouse-{n}")
        if args.steps is not None:
            s = with_training(s, steps=args.steps)
        done = _done()
        ref_cost = None
        if (s.name, "echelon-base-stock", "", "") not in done:
            t0 = time.perf_counter()
            pol, _ = tune(s, "echelon-base-stock", rounds=2, scenarios=256)
            r = evaluate(s, pol, "test")
            ref_cost = r["cost_per_period"]
            _write({"setting": s.name, "stores": n, "policy": "echelon-base-stock", "train_scenarios": "",
                    "test_cost_per_period": ref_cost, "test_cost_per_store": r["cost_per_period_per_store"],
                    "stderr": r["stderr"], "gap_vs_echelon_pct": 0.0, "best_validation": "", "best_step": "",
                    "steps": "", "train_time_s": time.perf_counter() - t0, "hardware": hardware()})
        else:
            with CSV.open() as f:
                ref_cost = next(float(r["test_cost_per_period"]) for r in csv.DictReader(f)
                                if r["setting"] == s.name and r["policy"] == "echelon-base-stock")
        for data in args.data:
            for arch in args.archs:
                if (s.name, arch, str(data), str(s.training.steps)) in done:
                    continue
                res = train_hdpo(s, seed=0, architecture=arch, train_scenarios=data,
                                 checkpoint=CKPT / f"{s.name}-{arch}-{data}-{s.training.steps}.ckpt")
                r = evaluate(s, res.model, "test")
                if data == s.train.scenarios:
                    target = weights_path(s, arch)
                    save_weights(res.model, s, arch, target)
                    target.with_suffix(".md").write_text(
                        f"# {s.name} - {arch.upper()} trained with HDPO\n\n"
                        f"- Setting: `instances/inventory/{s.name}.toml` (one warehouse, {n} stores, lost sales, "
                        f"correlated normal demand).\n"
                        f"- Data: {data} training scenarios x {s.train.horizon} periods (warm-up {s.train.warmup}, "
                        f"seed {s.train.seed}); validation {s.validation.scenarios} x {s.validation.horizon}.\n"
                        f"- Model: {arch}, hidden {s.training.hidden}, {s.training.layers} layers; HDPO, Adam lr "
                        f"{s.training.learning_rate} (cosine decay), batch {s.training.batch_size}, "
                        f"{s.training.steps} steps; best validation at step {res.best_step}.\n"
                        f"- Command: `.venv/bin/python bench/inventory/warehouse.py --stores {n} --archs {arch} "
                        f"--data {data} --steps {s.training.steps}`.\n"
                        f"- Time: {res.time_s:.0f} s on {hardware()}.\n"
                        f"- Measured on the test scenarios ({r['scenarios']} x {r['periods']} periods after a "
                        f"{r['warmup']}-period warm-up, integer orders): {r['cost_per_period_per_store']:.4f} per "
                        f"period per store; tuned echelon base-stock {ref_cost / n:.4f} "
                        f"({100 * (r['cost_per_period'] / ref_cost - 1):.2f}%).\n"
                    )
                _write({"setting": s.name, "stores": n, "policy": arch, "train_scenarios": data,
                        "test_cost_per_period": r["cost_per_period"],
                        "test_cost_per_store": r["cost_per_period_per_store"], "stderr": r["stderr"],
                        "gap_vs_echelon_pct": 100 * (r["cost_per_period"] / ref_cost - 1),
                        "best_validation": res.best_validation, "best_step": res.best_step, "steps": res.steps,
                        "train_time_s": res.time_s, "hardware": hardware()})


if __name__ == "__main__":
    main()
