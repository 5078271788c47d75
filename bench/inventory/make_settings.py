"""Write the shipped lost-sales settings files (instances/inventory/lost-sales-p{p}-L{L}.toml).

Run: .venv/bin/python bench/inventory/make_settings.py
"""

from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "instances" / "inventory"

LOST_SALES = """# One store, lost sales, Poisson(5) demand, h = 1 (Zipkin 2008; Alvo, Russo and Kanoria 2023).
name = "lost-sales-p{p}-L{L}"
lost_sales = true

[[locations]]
name = "store"
supplier = "external"
lead_time = {L}
holding_cost = 1.0
underage_cost = {p}.0
demand_mean = 5.0

[demand]
distribution = "poisson"

[train]
scenarios = 8192
horizon = 100
warmup = 30
seed = 101

[validation]
scenarios = 1024
horizon = 600
warmup = 100
seed = 202

[test]
scenarios = 1024
horizon = 5000
warmup = 1000
seed = 303

[training]
architecture = "mlp"
hidden = 64
layers = 2
learning_rate = 0.003
batch_size = 512
steps = 1500
eval_every = 50
"""


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for p in (4, 9, 19, 39):
        for L in (1, 2, 3, 4):
            (OUT / f"lost-sales-p{p}-L{L}.toml").write_text(LOST_SALES.format(p=p, L=L))


if __name__ == "__main__":
    main()
