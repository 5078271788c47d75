"""Print the inventory results (bench/results/inventory_*.csv) as markdown tables for the README.

Run: .venv/bin/python bench/inventory/report.py
"""

from __future__ import annotations

import csv
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"


def _rows(name: str) -> list[dict]:
    path = RESULTS / name
    if not path.exists():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))


def main() -> None:
    rows = _rows("inventory_lost_sales.csv")
    if rows:
        print("### Lost sales, one store, Poisson(5), h = 1 (test: gap to the optimal policy on the same scenarios)\n")
        print("| p | L | optimum (RVI) | RVI time s | HDPO | HDPO gap % | capped BS gap % | base-stock gap % "
              "| myopic gap % | constant gap % | HDPO train s |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in sorted(rows, key=lambda r: (int(r["p"]), int(r["L"]))):
            print(f"| {r['p']} | {r['L']} | {float(r['dp_cost']):.4f} | {float(r['dp_time_s']):.2f} "
                  f"| {float(r['hdpo_test']):.4f} | {float(r['hdpo_gap_same_scen_pct']):.3f} "
                  f"| {float(r['capped_gap_same_scen_pct']):.2f} | {float(r['base_stock_gap_same_scen_pct']):.2f} "
                  f"| {float(r['myopic_gap_same_scen_pct']):.2f} | {float(r['constant_gap_same_scen_pct']):.2f} "
                  f"| {float(r['hdpo_train_time_s']):.0f} |")
        worst = max(float(r["hdpo_gap_same_scen_pct"]) for r in rows)
        print(f"\n{len(rows)} settings; worst HDPO gap {worst:.3f}%.\n")
    rows = _rows("inventory_backlog_serial.csv")
    if rows:
        print("### Backlog and serial (test: gap to the optimal base-stock / echelon base-stock on the same scenarios)\n")
        print("| setting | reference | reference cost | HDPO | HDPO gap % | installation base-stock gap % | HDPO train s |")
        print("|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['setting']} | {r['reference']} | {float(r['reference_test']):.4f} | {float(r['hdpo_test']):.4f} "
                  f"| {float(r['hdpo_gap_pct']):.3f} | {float(r['base_stock_gap_pct']):.2f} "
                  f"| {float(r['hdpo_train_time_s']):.0f} |")
        print()
    rows = _rows("inventory_warehouse.csv")
    if rows:
        print("### One warehouse, N stores (test cost per period per store; gap to tuned echelon base-stock)\n")
        print("| stores | policy | training scenarios | steps | cost per store | gap % | train s |")
        print("|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['stores']} | {r['policy']} | {r['train_scenarios'] or '-'} | {r['steps'] or '-'} "
                  f"| {float(r['test_cost_per_store']):.4f} | {float(r['gap_vs_echelon_pct']):.2f} "
                  f"| {float(r['train_time_s']):.0f} |")
        print()
    rows = _rows("inventory_transshipment.csv")
    if rows:
        print("### Stores with transshipment (test cost per period per store; gaps to the rebalancing bound and "
              "to the pooled bound)\n")
        print("| setting | policy | training steps | cost per store | stderr per store | gap to bound % "
              "| gap to pooled % | tune/train CPU s |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows:
            cpu = f"{float(r['train_cpu_s']):.1f}" if r["train_cpu_s"] else "-"
            print(f"| {r['setting']} | {r['policy']} | {r['steps'] or '-'} | {float(r['test_cost_per_store']):.4f} "
                  f"| {float(r['stderr']) / int(r['stores']):.4f} | {float(r['gap_to_bound_pct']):.2f} "
                  f"| {float(r['gap_to_pooled_pct']):.2f} | {cpu} |")
        bounds = {r["setting"]: (float(r["bound_per_store"]), float(r["pooled_bound_per_store"])) for r in rows}
        print("\nLower bounds per store: " + "; ".join(f"{k} rebalancing {b:.4f}, pooled {p:.4f}"
                                                     for k, (b, p) in bounds.items()) + ".\n")
    rows = _rows("inventory_reinforce.csv")
    if rows:
        print("### HDPO vs REINFORCE (same network, seed, scenarios, steps, batch and schedule; from random weights)\n")
        print("| setting | method | reference | test | gap % | best step | train CPU s |")
        print("|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['setting']} | {r['method']} | {r['reference']} | {float(r['test']):.4f} "
                  f"| {float(r['gap_pct']):.3f} | {r['best_step']} | {float(r['train_cpu_s']):.0f} |")
        print()

if __name__ == "__main__":
    main()
