"""Stores with lateral transshipment (N = 3, 10): classical policies, HDPO-trained MLP and GNN, lower bounds.

For each shipped setting ``transship-N`` (backlogged Poisson demand, transshipment cost per unit
in the setting's ``[transshipment]`` table):

1. the lower bounds of ``coptim.inventory.bounds``: the fully pooled system (exact; also
   simulated on the summed demand of the test scenarios, policy ``pooled-bound``) and the
   tighter rebalancing bound (pooled lead-time demand, free rebalancing before each period);
2. tune base-stock (no transshipment) and base-stock with proportional balancing on 512
   training scenarios; run free rebalancing (optimal when transshipment is free);
3. train the MLP and the GNN with HDPO (checkpointed, resumable) and ship their weights and
   model cards; the GNN trained on ``transship-3`` is also run on the larger settings;
4. evaluate everything on the same test scenarios with integer orders and flows.

Run (single thread; rows already in ``bench/results/inventory_transshipment.csv`` are skipped):

    .venv/bin/python bench/inventory/transshipment.py > /tmp/transshipment.log 2>&1
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time

import torch

from lost_sales import CKPT, RESULTS, hardware  # noqa: E402  (same folder)

CSV = RESULTS / "inventory_transshipment.csv"
FIELDS = ["setting", "stores", "transship_cost", "policy", "train_scenarios", "steps", "test_cost_per_period",
          "test_cost_per_store", "stderr", "pooled_bound_per_store", "bound_per_store", "gap_to_pooled_pct",
          "gap_to_bound_pct", "params", "best_validation", "best_step", "train_cpu_s", "train_wall_s", "hardware"]
#: Training scenarios used to tune the classical policies.
TUNE_SCENARIOS = 512


def _rows() -> list[dict]:
    if not CSV.exists():
        return []
    with CSV.open() as f:
        return list(csv.DictReader(f))


def _write(row: dict) -> None:
    """Append ``row``, rewriting the CSV through a temporary file so that it is never half-written."""
    rows = _rows() + [row]
    tmp = CSV.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, CSV)
    print(", ".join(f"{k}={row[k]}" for k in ("setting", "policy", "test_cost_per_store", "gap_to_bound_pct",
                                               "train_cpu_s")), flush=True)


def _row(s, policy: str, result: dict, bounds: tuple[float, float], **extra) -> dict:
    pooled, bound = bounds
    n = len(s.network.stores)
    cost = result["cost_per_period_per_store"]
    row = {"setting": s.name, "stores": n, "transship_cost": s.transshipment.cost, "policy": policy,
           "train_scenarios": "", "steps": "", "test_cost_per_period": result["cost_per_period"],
           "test_cost_per_store": cost, "stderr": result["stderr"], "pooled_bound_per_store": pooled,
           "bound_per_store": bound, "gap_to_pooled_pct": 100 * (cost / pooled - 1),
           "gap_to_bound_pct": 100 * (cost / bound - 1), "params": "", "best_validation": "", "best_step": "",
           "train_cpu_s": "", "train_wall_s": "", "hardware": hardware()}
    row.update(extra)
    return row


def _model_card(s, arch: str, res, result: dict, cpu: float, bound: float) -> None:
    from coptim.inventory.registry import save_weights, weights_path

    tr = s.training
    target = weights_path(s, arch)
    save_weights(res.model, s, arch, target)
    n = len(s.network.stores)
    target.with_suffix(".md").write_text(
        f"# {s.name} - {arch.upper()} trained with HDPO\n\n"
        f"- Setting: `instances/inventory/{s.name}.toml` ({n} stores supplied externally, backlogged Poisson "
        f"demand, transshipment at {s.transshipment.cost} per unit).\n"
        f"- Data: {s.train.scenarios} training scenarios x {s.train.horizon} periods (warm-up {s.train.warmup}, "
        f"seed {s.train.seed}); validation {s.validation.scenarios} x {s.validation.horizon}.\n"
        f"- Model: {arch}, hidden {tr.hidden}, {tr.layers} layers, centred inputs; orders and flows between "
        f"stores (softmax over keep / send, times the stock on hand); HDPO from random weights, Adam lr "
        f"{tr.learning_rate} (cosine decay), batch {tr.batch_size}, {tr.steps} steps; best validation at step "
        f"{res.best_step}.\n"
        f"- Command: `.venv/bin/python bench/inventory/transshipment.py --settings {s.name} --archs {arch}`.\n"
        f"- Time: {cpu:.0f} CPU-s ({res.time_s:.0f} s wall) on {hardware()}.\n"
        f"- Measured on the test scenarios ({result['scenarios']} x {result['periods']} periods after a "
        f"{result['warmup']}-period warm-up, integer orders and flows): {result['cost_per_period_per_store']:.4f} "
        f"per period per store; lower bound (rebalancing) {bound:.4f} "
        f"({100 * (result['cost_per_period_per_store'] / bound - 1):.2f}% above).\n"
    )


def main() -> None:
    from coptim.inventory.bounds import FreeRebalancing, evaluate_pooled, pooled_bound, rebalancing_bound
    from coptim.inventory.evaluation import evaluate
    from coptim.inventory.registry import load_network, weights_path
    from coptim.inventory.settings import load_setting, with_training
    from coptim.inventory.training import train_hdpo
    from coptim.inventory.tuning import tune

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="*", default=["transship-3", "transship-10"])
    parser.add_argument("--archs", nargs="*", default=["mlp", "gnn"])
    parser.add_argument("--steps", type=int, default=None, help="override the setting's number of HDPO steps")
    args = parser.parse_args()
    torch.set_num_threads(1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    CKPT.mkdir(parents=True, exist_ok=True)
    for name in args.settings:
        s = load_setting(name)
        if args.steps is not None:
            s = with_training(s, steps=args.steps)
        bounds = (pooled_bound(s)["cost_per_period_per_store"], rebalancing_bound(s)["cost_per_period_per_store"])
        done = {(r["setting"], r["policy"], r["steps"]) for r in _rows()}

        def run(policy: str, make, params: str | None = None) -> None:
            """Build a policy (tuning time counted) and evaluate it, unless its row is there."""
            if (s.name, policy, "") in done:
                return
            t0 = time.process_time()
            pol = make()
            cpu = time.process_time() - t0
            _write(_row(s, policy, evaluate(s, pol, "test"), bounds, params=params or json.dumps(pol.params()),
                        train_cpu_s=cpu))

        if (s.name, "pooled-bound", "") not in done:
            _write(_row(s, "pooled-bound", evaluate_pooled(s, "test"), bounds, params=json.dumps(pooled_bound(s))))
        for policy in ("base-stock", "base-stock-balancing"):
            run(policy, lambda: tune(s, policy, scenarios=TUNE_SCENARIOS)[0])
        run("free-rebalancing", lambda: FreeRebalancing(s))
        for arch in args.archs:
            if (s.name, arch, str(s.training.steps)) in done:
                continue
            cpu = time.process_time()
            res = train_hdpo(s, seed=0, architecture=arch,
                             checkpoint=CKPT / f"{s.name}-{arch}-{s.training.steps}.ckpt")
            cpu = time.process_time() - cpu
            result = evaluate(s, res.model, "test")
            _model_card(s, arch, res, result, cpu, bounds[1])
            _write(_row(s, arch, result, bounds, train_scenarios=s.train.scenarios, steps=s.training.steps,
                        best_validation=res.best_validation, best_step=res.best_step, train_cpu_s=cpu,
                        train_wall_s=res.time_s))
        source = weights_path(load_setting("transship-3"), "gnn")
        if s.name != "transship-3" and "gnn" in args.archs and source.exists():
            run("gnn (trained on transship-3)", lambda: load_network(s, "gnn", source),
                params=str(source.relative_to(source.parents[2])))


if __name__ == "__main__":
    main()
