"""Lost-sales benchmark: exact optimum (RVI), classical policies and HDPO on the 16 shipped settings.

For each setting ``lost-sales-p{p}-L{L}`` (p in 4, 9, 19, 39; L in 1..4):

1. solve the DP and record its cost and time;
2. simulate the optimal policy on the test scenarios (same scenarios as every other policy,
   so gaps are measured with common random numbers);
3. tune constant, base-stock and capped base-stock on the training scenarios; run myopic;
4. train the MLP with HDPO (checkpointed, resumable), ship the best weights and a model card;
5. append one row per setting to ``bench/results/inventory_lost_sales.csv``.

Run (single thread, one setting after another; settings already in the CSV are skipped):

    nohup .venv/bin/python bench/inventory/lost_sales.py > /tmp/lost_sales.log 2>&1 &
    .venv/bin/python bench/inventory/lost_sales.py --only lost-sales-p4-L1
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
CSV = RESULTS / "inventory_lost_sales.csv"
CKPT = RESULTS / "inventory_ckpt"

FIELDS = [
    "setting", "p", "L", "dp_cost", "dp_lower", "dp_upper", "dp_time_s", "dp_states",
    "optimal_test", "hdpo_test", "hdpo_gap_vs_dp_pct", "hdpo_gap_same_scen_pct", "hdpo_stderr",
    "capped_base_stock_test", "capped_gap_same_scen_pct", "capped_params",
    "base_stock_test", "base_stock_gap_same_scen_pct", "base_stock_params",
    "constant_test", "constant_gap_same_scen_pct", "myopic_test", "myopic_gap_same_scen_pct",
    "hdpo_best_validation", "hdpo_best_step", "hdpo_steps", "hdpo_train_time_s", "warm_start",
    "test_scenarios", "test_periods", "test_warmup", "hardware",
]


def hardware() -> str:
    """CPU model and torch thread count, for the record."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}; torch {torch.__version__}; {torch.get_num_threads()} thread(s)"


def model_card(setting, row: dict, path: Path) -> None:
    """Write the model card that ships next to the weights."""
    tr = setting.training
    start = ("from random weights (no warm start)" if tr.warm_start == "none"
             else f"after a warm start imitating the tuned {tr.warm_start} policy")
    path.write_text(
        f"""# {setting.name} - MLP trained with HDPO

- Setting: `instances/inventory/{setting.name}.toml` (one store, lost sales, Poisson(5) demand,
  h = 1, p = {row['p']}, lead time {row['L']}).
- Data: {setting.train.scenarios} training scenarios x {setting.train.horizon} periods (warm-up
  {setting.train.warmup}, seed {setting.train.seed}); validation {setting.validation.scenarios} x
  {setting.validation.horizon} (warm-up {setting.validation.warmup}, seed {setting.validation.seed}).
- Model: MLP, {tr.layers} hidden layers of {tr.hidden} (ELU), sigmoid output times 4 x mean demand.
- Training: {start}, HDPO (Adam, lr {tr.learning_rate}, cosine decay to
  {tr.final_lr_ratio} x, batch {tr.batch_size} scenarios of {tr.episode or setting.train.horizon} periods, {tr.steps} steps),
  best on validation (integer orders) kept: step {row['hdpo_best_step']}.
- Command: `.venv/bin/python bench/inventory/lost_sales.py --only {setting.name}`
  (equivalently `coptim inventory train {setting.name}`).
- Time: {float(row['hdpo_train_time_s']):.0f} s on {row['hardware']}.
- Measured on the test scenarios ({row['test_scenarios']} x {row['test_periods']} periods after a
  {row['test_warmup']}-period warm-up, integer orders): {float(row['hdpo_test']):.4f} per period;
  exact optimum (RVI) {float(row['dp_cost']):.4f}; optimal policy on the same scenarios
  {float(row['optimal_test']):.4f}; gap {float(row['hdpo_gap_same_scen_pct']):.3f}% (same scenarios),
  {float(row['hdpo_gap_vs_dp_pct']):.3f}% (vs the exact value).
"""
    )


def run_one(name: str) -> dict:
    """Everything for one setting; returns the CSV row."""
    from coptim.inventory.dp import solve_lost_sales
    from coptim.inventory.evaluation import evaluate
    from coptim.inventory.policies import TablePolicy
    from coptim.inventory.registry import dp_params, make_policy, save_weights, weights_path
    from coptim.inventory.settings import load_setting
    from coptim.inventory.training import train_hdpo

    s = load_setting(name)
    net = s.network
    row: dict = {"setting": name, "p": int(net.underage_cost[0]), "L": net.lead_time[0], "hardware": hardware()}
    sol = solve_lost_sales(dp_params(s))
    row.update(dp_cost=sol.cost, dp_lower=sol.lower_bound, dp_upper=sol.upper_bound, dp_time_s=sol.time_s,
               dp_states=sol.policy.size)
    opt = evaluate(s, TablePolicy(sol), "test")
    row.update(optimal_test=opt["cost_per_period"], test_scenarios=opt["scenarios"], test_periods=opt["periods"],
               test_warmup=opt["warmup"])

    def gap(value: float) -> float:
        return 100.0 * (value - opt["cost_per_period"]) / opt["cost_per_period"]

    for key, pol_name in (("constant", "constant"), ("base_stock", "base-stock"),
                          ("capped_base_stock", "capped-base-stock"), ("myopic", "myopic")):
        pol, info = make_policy(s, pol_name)
        cost = evaluate(s, pol, "test")["cost_per_period"]
        row[f"{key}_test"] = cost
        short = "capped" if key == "capped_base_stock" else key
        row[f"{short}_gap_same_scen_pct"] = gap(cost)
        if key in ("base_stock", "capped_base_stock"):
            row[f"{short}_params"] = json.dumps({k: v for k, v in info.items() if k != "train_cost"})
    CKPT.mkdir(parents=True, exist_ok=True)
    res = train_hdpo(s, seed=0, checkpoint=CKPT / f"{name}-mlp.ckpt")
    test = evaluate(s, res.model, "test")
    row.update(
        hdpo_test=test["cost_per_period"], hdpo_stderr=test["stderr"], hdpo_gap_same_scen_pct=gap(test["cost_per_period"]),
        hdpo_gap_vs_dp_pct=100.0 * (test["cost_per_period"] - sol.cost) / sol.cost,
        hdpo_best_validation=res.best_validation, hdpo_best_step=res.best_step, hdpo_steps=res.steps,
        hdpo_train_time_s=res.time_s, warm_start=s.training.warm_start,
    )
    target = weights_path(s, "mlp")
    target.parent.mkdir(parents=True, exist_ok=True)
    save_weights(res.model, s, "mlp", target)
    model_card(s, row, target.with_suffix(".md"))
    return row


def redo_policy(policy: str) -> None:
    """Re-measure one classical policy for every row of the CSV (after a change to its tuner)."""
    from coptim.inventory.evaluation import evaluate
    from coptim.inventory.registry import make_policy
    from coptim.inventory.settings import load_setting

    key = policy.replace("-", "_")
    with CSV.open() as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        s = load_setting(row["setting"])
        pol, _ = make_policy(s, policy)
        cost = evaluate(s, pol, "test")["cost_per_period"]
        row[f"{key}_test"] = cost
        row[f"{key}_gap_same_scen_pct"] = 100.0 * (cost / float(row["optimal_test"]) - 1.0)
        print(row["setting"], policy, pol.params(), cost, flush=True)
    with CSV.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="setting names (default: all 16)")
    parser.add_argument("--force", action="store_true", help="redo settings already in the CSV")
    parser.add_argument("--redo-policy", help="only re-measure this classical policy (constant, myopic) in the CSV")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.redo_policy:
        redo_policy(args.redo_policy)
        return
    names = args.only or [f"lost-sales-p{p}-L{L}" for p in (4, 9, 19, 39) for L in (1, 2, 3, 4)]
    RESULTS.mkdir(parents=True, exist_ok=True)
    done = set()
    if CSV.exists() and not args.force:
        with CSV.open() as f:
            done = {r["setting"] for r in csv.DictReader(f)}
    for name in names:
        if name in done:
            print(f"{name}: already in {CSV.name}, skipped", flush=True)
            continue
        start = time.perf_counter()
        row = run_one(name)
        new = not CSV.exists()
        with CSV.open("a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=FIELDS)
            if new:
                w.writeheader()
            w.writerow(row)
        print(f"{name}: HDPO {row['hdpo_test']:.4f} vs optimal {row['optimal_test']:.4f} "
              f"({row['hdpo_gap_same_scen_pct']:.3f}%), capped {row['capped_gap_same_scen_pct']:.3f}%, "
              f"{time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
