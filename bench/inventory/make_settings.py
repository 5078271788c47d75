"""Write the shipped settings files of instances/inventory (lost sales, backlog, serial, warehouse, transshipment).

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
learning_rate = 0.01
batch_size = 1024
steps = 600
eval_every = 25
final_lr_ratio = 0.03
episode = 50
warm_start = "none"
"""


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for p in (4, 9, 19, 39):
        for L in (1, 2, 3, 4):
            (OUT / f"lost-sales-p{p}-L{L}.toml").write_text(LOST_SALES.format(p=p, L=L))


BACKLOG = """# One store, backlogged demand, Poisson(5), h = 1: base-stock is optimal (exact reference).
name = "backlog-p{p}-L{L}"
lost_sales = false

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
seed = 111

[validation]
scenarios = 1024
horizon = 600
warmup = 100
seed = 222

[test]
scenarios = 1024
horizon = 5000
warmup = 1000
seed = 333

[training]
architecture = "mlp"
hidden = 64
layers = 2
learning_rate = 0.01
batch_size = 1024
steps = 600
eval_every = 25
final_lr_ratio = 0.03
episode = 50
warm_start = "none"
"""

SERIAL = """# Serial chain, backlogged demand at the store, Poisson(5): echelon base-stock is optimal (Clark-Scarf).
name = "serial-{k}stage"
lost_sales = false
{locations}
[demand]
distribution = "poisson"

[train]
scenarios = 8192
horizon = 100
warmup = 30
seed = 121

[validation]
scenarios = 1024
horizon = 600
warmup = 100
seed = 232

[test]
scenarios = 1024
horizon = 5000
warmup = 1000
seed = 343

[training]
architecture = "mlp"
hidden = 64
layers = 2
learning_rate = 0.01
batch_size = 1024
steps = 600
eval_every = 25
final_lr_ratio = 0.03
episode = 50
warm_start = "none"
"""

STAGE = """
[[locations]]
name = "{name}"
supplier = "{supplier}"
lead_time = {L}
holding_cost = {h}
"""

WAREHOUSE = """# One warehouse and {n} stores, lost demand, correlated normal demand (correlation 0.5).
# Store means and standard deviations drawn once with numpy default_rng(7) (see make_settings.py).
name = "warehouse-{n}"
lost_sales = true

[[locations]]
name = "warehouse"
supplier = "external"
lead_time = 3
holding_cost = 0.3

[[locations]]
name = "store"
count = {n}
supplier = "warehouse"
lead_time = 2
holding_cost = 1.0
underage_cost = 9.0
demand_mean = {means}
demand_std = {stds}

[demand]
distribution = "normal"
correlation = 0.5

[train]
scenarios = 8192
horizon = 40
warmup = 10
seed = 131

[validation]
scenarios = 256
horizon = 300
warmup = 60
seed = 242

[test]
scenarios = 512
horizon = 1200
warmup = 200
seed = 353

[training]
architecture = "gnn"
hidden = 32
layers = 2
learning_rate = 0.003
batch_size = 64
steps = 800
eval_every = 25
"""


TRANSSHIP = """# {n} stores supplied externally, backlogged Poisson demand, lateral transshipment between stores.
# Store means drawn once with numpy default_rng(7) (see make_settings.py); h = 1, p = 9, L = 2 at every
# store, so the fully pooled system gives an exact lower bound (coptim.inventory.bounds).
name = "transship-{n}"
lost_sales = false

[[locations]]
name = "store"
count = {n}
supplier = "external"
lead_time = 2
holding_cost = 1.0
underage_cost = 9.0
demand_mean = {means}

[demand]
distribution = "poisson"

[transshipment]
cost = 0.5

[train]
scenarios = 8192
horizon = 40
warmup = 10
seed = 141

[validation]
scenarios = 256
horizon = 300
warmup = 60
seed = 252

[test]
scenarios = 512
horizon = 1200
warmup = 200
seed = 363

[training]
architecture = "gnn"
hidden = 32
layers = 2
learning_rate = 0.01
batch_size = 64
steps = 300
eval_every = 25
"""


def transship() -> None:
    import numpy as np

    for n in (3, 10):
        rng = np.random.default_rng(7)
        means = np.round(rng.uniform(2.5, 7.5, n), 2)
        (OUT / f"transship-{n}.toml").write_text(TRANSSHIP.format(n=n, means=[float(m) for m in means]))


def more() -> None:
    import numpy as np

    for p, L in ((9, 2), (4, 4)):
        (OUT / f"backlog-p{p}-L{L}.toml").write_text(BACKLOG.format(p=p, L=L))
    chains = {
        2: [("upstream", "external", 2, 0.5), ("store", "upstream", 2, 1.0)],
        3: [("top", "external", 2, 0.3), ("middle", "top", 2, 0.6), ("store", "middle", 2, 1.0)],
    }
    for k, stages in chains.items():
        locs = ""
        for name, supplier, L, h in stages:
            locs += STAGE.format(name=name, supplier=supplier, L=L, h=h)
        locs += "underage_cost = 9.0\ndemand_mean = 5.0\n"
        (OUT / f"serial-{k}stage.toml").write_text(SERIAL.format(k=k, locations=locs))
    for n in (3, 10, 50):
        rng = np.random.default_rng(7)
        means = np.round(rng.uniform(2.5, 7.5, n), 2)
        stds = np.round(means * rng.uniform(0.25, 0.5, n), 2)
        (OUT / f"warehouse-{n}.toml").write_text(
            WAREHOUSE.format(n=n, means=[float(m) for m in means], stds=[float(s) for s in stds])
        )


if __name__ == "__main__":
    main()
    more()
    transship()
