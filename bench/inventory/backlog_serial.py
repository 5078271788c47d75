"""Backlogged single store and serial chains: HDPO against the optimal (echelon) base-stock policy.

References, all simulated on the same test scenarios as HDPO (common random numbers):

- ``backlog-*``: the optimal base-stock level from the newsvendor formula (exact, Poisson
  demand over ``L + 1`` periods); its exact cost is reported too.
- ``serial-*``: echelon base-stock is optimal (Clark and Scarf); its levels are found by
  exhaustive integer search on all training scenarios (full grid for two stages, coordinate
  search for three).

Run: ``nohup .venv/bin/python bench/inventory/backlog_serial.py > /tmp/backlog_serial.log 2>&1 &``
Rows go to ``bench/results/inventory_backlog_serial.csv``; settings already there are skipped.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import time
from pathlib import Path

import torch

from lost_sales import CKPT, RESULTS, hardware  # noqa: E402  (same folder)

CSV = RESULTS / "inventory_backlog_serial.csv"
FIELDS = [
    "setting", "kind", "reference", "reference_params", "reference_exact_cost", "reference_test", "hdpo_test",
    "hdpo_gap_pct", "hdpo_stderr", "base_stock_test", "base_stock_gap_pct", "hdpo_best_validation", "hdpo_best_step",
    "hdpo_steps", "hdpo_train_time_s", "test_scenarios", "test_periods", "hardware",
]


def echelon_reference(s):
    """Best echelon base-stock levels on all training scenarios."""
    from coptim.inventory.policies import EchelonBaseStock
    from coptim.inventory.simulator import NetworkTensors, make_scenarios
    from coptim.inventory.tuning import _costs, _level_range, tune

    n = s.network.size
    if n == 2:
        net = NetworkTensors.from_setting(s)
        scen = make_scenarios(s, "train")
        grids = [_level_range(s, i, True) for i in range(n)]
        # Coarse-to-fine: coordinate search first, then the full grid in a window around it.
        start, _ = tune(s, "echelon-base-stock", rounds=3, scenarios=2048)
        centre = [int(v) for v in start.levels]
        window = [range(max(0, c - 4), min(max(g), c + 4) + 1) for c, g in zip(centre, grids)]
        pairs = list(itertools.product(*window))
        cands = torch.tensor(pairs, dtype=torch.float32).unsqueeze(-1)
        costs = _costs(net, scen, "echelon-base-stock", cands)
        best = cands[int(costs.argmin())][:, 0]
        return EchelonBaseStock(best, n)
    pol, _ = tune(s, "echelon-base-stock", rounds=4, scenarios=8192)
    return pol


def run_one(name: str) -> dict:
    from coptim.inventory.dp import backlog_base_stock_optimum
    from coptim.inventory.evaluation import evaluate
    from coptim.inventory.policies import BaseStock
    from coptim.inventory.registry import make_policy, save_weights, weights_path
    from coptim.inventory.settings import load_setting
    from coptim.inventory.training import train_hdpo

    s = load_setting(name)
    net = s.network
    row: dict = {"setting": name, "kind": net.kind, "hardware": hardware()}
    if net.kind == "single":
        level, exact = backlog_base_stock_optimum(net.demand_mean[0], net.lead_time[0], net.holding_cost[0],
                                                  net.underage_cost[0])
        ref = BaseStock([float(level)])
        row.update(reference="optimal base-stock (newsvendor, exact)", reference_exact_cost=exact,
                   reference_params=json.dumps({"levels": [level]}))
    else:
        ref = echelon_reference(s)
        row.update(reference="optimal echelon base-stock (integer search on 8192 training scenarios)",
                   reference_exact_cost="", reference_params=json.dumps(ref.params()))
    r = evaluate(s, ref, "test")
    row.update(reference_test=r["cost_per_period"], test_scenarios=r["scenarios"], test_periods=r["periods"])
    bs, _ = make_policy(s, "base-stock")
    row["base_stock_test"] = evaluate(s, bs, "test")["cost_per_period"]
    row["base_stock_gap_pct"] = 100 * (row["base_stock_test"] / r["cost_per_period"] - 1)
    CKPT.mkdir(parents=True, exist_ok=True)
    res = train_hdpo(s, seed=0, checkpoint=CKPT / f"{name}-mlp.ckpt")
    t = evaluate(s, res.model, "test")
    row.update(hdpo_test=t["cost_per_period"], hdpo_stderr=t["stderr"],
               hdpo_gap_pct=100 * (t["cost_per_period"] / r["cost_per_period"] - 1),
               hdpo_best_validation=res.best_validation, hdpo_best_step=res.best_step, hdpo_steps=res.steps,
               hdpo_train_time_s=res.time_s)
    target = weights_path(s, "mlp")
    save_weights(res.model, s, "mlp", target)
    tr = s.training
    start = ("from random weights (no warm start)" if tr.warm_start == "none"
             else f"after a warm start imitating the tuned {tr.warm_start} policy")
    target.with_suffix(".md").write_text(
        f"""# {name} - MLP trained with HDPO

- Setting: `instances/inventory/{name}.toml` ({net.kind}, backlogged demand, Poisson(5)).
- Data: {s.train.scenarios} training scenarios x {s.train.horizon} periods (warm-up {s.train.warmup},
  seed {s.train.seed}); validation {s.validation.scenarios} x {s.validation.horizon} (seed {s.validation.seed}).
- Model: MLP, {tr.layers} x {tr.hidden} ELU; {start}, HDPO, Adam lr {tr.learning_rate} with cosine
  decay, batch {tr.batch_size} scenarios of {tr.episode or s.train.horizon} periods, {tr.steps} steps; best
  validation at step {res.best_step}.
- Command: `.venv/bin/python bench/inventory/backlog_serial.py --only {name}`.
- Time: {res.time_s:.0f} s on {row['hardware']}.
- Measured on the test scenarios ({r['scenarios']} x {r['periods']} periods after warm-up, integer orders):
  {t['cost_per_period']:.4f} per period vs {r['cost_per_period']:.4f} for the {row['reference']}
  ({row['hdpo_gap_pct']:.3f}%).
"""
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--force", action="store_true", help="redo settings already in the CSV")
    args = parser.parse_args()
    torch.set_num_threads(1)
    names = args.only or ["backlog-p9-L2", "backlog-p4-L4", "serial-2stage", "serial-3stage"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    done = set()
    if CSV.exists() and not args.force:
        with CSV.open() as f:
            done = {r["setting"] for r in csv.DictReader(f)}
    for name in names:
        if name in done:
            continue
        start = time.perf_counter()
        row = run_one(name)
        new = not CSV.exists()
        with CSV.open("a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=FIELDS)
            if new:
                w.writeheader()
            w.writerow(row)
        print(f"{name}: HDPO {row['hdpo_test']:.4f} vs reference {row['reference_test']:.4f} "
              f"({row['hdpo_gap_pct']:.3f}%), {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
