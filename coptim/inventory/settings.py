"""Inventory settings: the network, its costs, its demand and its scenario sets.

A setting is a frozen dataclass, validated on construction, and loadable from TOML.
The network is a tree of locations: each location is supplied either by an external
supplier with unlimited stock (``supplier = "external"``) or by another location.
Customer demand arrives at the leaves ("stores"); inner locations (warehouses, upstream
stages of a serial chain) only ship to their children.

Example TOML (one store, lost sales)::

    name = "lost-sales-p4-L1"
    lost_sales = true

    [[locations]]
    name = "store"
    supplier = "external"
    lead_time = 1
    holding_cost = 1.0
    underage_cost = 4.0
    demand_mean = 5.0

    [demand]
    distribution = "poisson"

A ``[[locations]]`` table may carry ``count = N``; it then stands for ``N`` locations named
``name-0 .. name-(N-1)`` and each of its numeric fields may be a list of length ``N``.

A network of stores that are all supplied externally may also move stock between its stores
(lateral transshipment) at a cost per unit moved::

    [transshipment]
    cost = 0.5
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from coptim.errors import InputError

#: Folder of the shipped settings files.
SHIPPED_DIR = Path(__file__).resolve().parents[2] / "instances" / "inventory"

EXTERNAL = -1
DISTRIBUTIONS = ("poisson", "normal")


def _finite_nonneg(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{what} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise InputError(f"{what} must be finite, got {value}")
    if value < 0:
        raise InputError(f"{what} must not be negative, got {value}")
    return float(value)


def _int_at_least(value: Any, low: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{what} must be an integer, got {value!r}")
    if value < low:
        raise InputError(f"{what} must be at least {low}, got {value}")
    return value


@dataclass(frozen=True)
class Network:
    """Locations of a tree-shaped supply network.

    Parameters
    ----------
    names
        One name per location.
    supplier
        Index of each location's supplier, or ``-1`` for the external supplier.
    lead_time
        Periods between an order (shipment) and its arrival, at least 1.
    holding_cost
        Cost per unit on hand at the end of a period.
    underage_cost
        Cost per unit of unmet demand (lost or backlogged) per period; stores only.
    demand_mean, demand_std
        Per-period demand at each store (ignored for inner locations).
    """

    names: tuple[str, ...]
    supplier: tuple[int, ...]
    lead_time: tuple[int, ...]
    holding_cost: tuple[float, ...]
    underage_cost: tuple[float, ...]
    demand_mean: tuple[float, ...]
    demand_std: tuple[float, ...]

    def __post_init__(self) -> None:
        n = len(self.names)
        if n == 0:
            raise InputError("the network has no locations; define at least one [[locations]] table")
        for f in fields(self):
            if len(getattr(self, f.name)) != n:
                raise InputError(f"network field {f.name} has {len(getattr(self, f.name))} entries for {n} locations")
        if len(set(self.names)) != n:
            raise InputError("location names must be unique")
        for i, name in enumerate(self.names):
            _int_at_least(self.lead_time[i], 1, f"lead time of location {name!r}")
            _finite_nonneg(self.holding_cost[i], f"holding cost of location {name!r}")
            _finite_nonneg(self.underage_cost[i], f"underage cost of location {name!r}")
            _finite_nonneg(self.demand_mean[i], f"demand mean of location {name!r}")
            _finite_nonneg(self.demand_std[i], f"demand standard deviation of location {name!r}")
            s = self.supplier[i]
            if s != EXTERNAL and not (0 <= s < n):
                raise InputError(f"location {name!r} has no valid supplier")
            if s == i:
                raise InputError(f"location {name!r} cannot supply itself")
        roots = [i for i in range(n) if self.supplier[i] == EXTERNAL]
        if not roots:
            raise InputError("no location is supplied externally, so no stock can enter the network")
        for i in range(n):  # every chain of suppliers must end at the external supplier
            seen, j = set(), i
            while self.supplier[j] != EXTERNAL:
                if j in seen:
                    raise InputError(f"the suppliers of location {self.names[i]!r} form a cycle")
                seen.add(j)
                j = self.supplier[j]
        if not any(self.is_store):
            raise InputError("the network has no store")
        for i in range(n):
            if self.is_store[i] and self.demand_mean[i] <= 0:
                raise InputError(f"store {self.names[i]!r} needs a positive demand mean")

    @property
    def size(self) -> int:
        """Number of locations."""
        return len(self.names)

    @property
    def is_store(self) -> tuple[bool, ...]:
        """True for leaves (locations that supply nobody and face demand)."""
        supplied = set(self.supplier)
        return tuple(i not in supplied for i in range(self.size))

    @property
    def stores(self) -> tuple[int, ...]:
        """Indices of the stores."""
        return tuple(i for i, s in enumerate(self.is_store) if s)

    @property
    def max_lead_time(self) -> int:
        """Longest lead time in the network."""
        return max(self.lead_time)

    def children(self, i: int) -> tuple[int, ...]:
        """Locations supplied by ``i``."""
        return tuple(j for j, s in enumerate(self.supplier) if s == i)

    def descendants(self, i: int) -> tuple[int, ...]:
        """``i`` and every location downstream of it."""
        out, todo = [], [i]
        while todo:
            j = todo.pop()
            out.append(j)
            todo.extend(self.children(j))
        return tuple(sorted(out))

    @property
    def kind(self) -> str:
        """``"single"``, ``"stores"`` (several stores, all supplied externally), ``"serial"``,
        ``"warehouse"`` (one inner node, many stores) or ``"tree"``."""
        if self.size == 1:
            return "single"
        if all(s == EXTERNAL for s in self.supplier):
            return "stores"
        if all(len(self.children(i)) <= 1 for i in range(self.size)) and len(self.stores) == 1:
            return "serial"
        inner = [i for i in range(self.size) if not self.is_store[i]]
        if len(inner) == 1 and self.supplier[inner[0]] == EXTERNAL:
            return "warehouse"
        return "tree"


@dataclass(frozen=True)
class Demand:
    """Demand distribution shared by the stores.

    Parameters
    ----------
    distribution
        ``"poisson"`` (independent) or ``"normal"`` (truncated at 0, correlated).
    correlation
        Pairwise correlation between stores for normal demand, in ``[0, 1)``.
    integer
        Round normal demand to integers.
    """

    distribution: str = "poisson"
    correlation: float = 0.0
    integer: bool = False

    def __post_init__(self) -> None:
        if self.distribution not in DISTRIBUTIONS:
            raise InputError(f"demand distribution must be one of {', '.join(DISTRIBUTIONS)}, got {self.distribution!r}")
        c = _finite_nonneg(self.correlation, "demand correlation")
        if c >= 1:
            raise InputError(f"demand correlation must be below 1, got {c}")
        if c > 0 and self.distribution == "poisson":
            raise InputError("correlated demand needs distribution = \"normal\"")


@dataclass(frozen=True)
class Transshipment:
    """Lateral transshipment between stores (see :func:`coptim.inventory.simulator.step`).

    Parameters
    ----------
    cost
        Cost per unit moved from one store to another.
    """

    cost: float

    def __post_init__(self) -> None:
        _finite_nonneg(self.cost, "transshipment cost")


@dataclass(frozen=True)
class Split:
    """One scenario set: how many scenarios, how long, which seed.

    The first ``warmup`` periods of every scenario are simulated but not counted.
    """

    scenarios: int
    horizon: int
    warmup: int
    seed: int

    def __post_init__(self) -> None:
        _int_at_least(self.scenarios, 1, "number of scenarios")
        _int_at_least(self.horizon, 1, "horizon")
        _int_at_least(self.warmup, 0, "warm-up")
        _int_at_least(self.seed, 0, "seed")
        if self.warmup >= self.horizon:
            raise InputError(f"warm-up ({self.warmup}) must be shorter than the horizon ({self.horizon})")


@dataclass(frozen=True)
class Training:
    """HDPO training options.

    Parameters
    ----------
    architecture
        ``"mlp"`` or ``"gnn"``.
    hidden
        Width of the hidden layers; ``layers`` of them.
    learning_rate, batch_size, steps
        Adam step size, scenarios per gradient step, number of gradient steps.
    warm_start
        ``"none"`` or a classical policy (tuned on the training scenarios) that the network
        imitates before HDPO starts.
    final_lr_ratio
        The step size decays (cosine) to ``learning_rate * final_lr_ratio`` at the last step.
    eval_every
        Validate every this many steps and keep the best model.
    episode
        HDPO simulates only the first this-many periods of each training scenario (0: all
        of them); the training split's warm-up still applies. Shorter episodes give less
        noisy pathwise gradients (the paper trains on 50 periods, the first 30 uncounted).
    """

    architecture: str = "mlp"
    hidden: int = 64
    layers: int = 2
    learning_rate: float = 3e-3
    batch_size: int = 512
    steps: int = 1500
    eval_every: int = 50
    final_lr_ratio: float = 0.03
    warm_start: str = "none"
    episode: int = 0

    def __post_init__(self) -> None:
        _int_at_least(self.episode, 0, "episode length")
        if self.architecture not in ("mlp", "gnn"):
            raise InputError(f"architecture must be \"mlp\" or \"gnn\", got {self.architecture!r}")
        _int_at_least(self.hidden, 1, "hidden width")
        _int_at_least(self.layers, 1, "number of hidden layers")
        lr = _finite_nonneg(self.learning_rate, "learning rate")
        if lr == 0:
            raise InputError("learning rate must be positive")
        _int_at_least(self.batch_size, 1, "batch size")
        _int_at_least(self.steps, 0, "number of steps")
        _int_at_least(self.eval_every, 1, "eval_every")
        if self.warm_start not in ("none", "constant", "base-stock", "capped-base-stock", "echelon-base-stock"):
            raise InputError(f"warm_start must be none or a classical policy name, got {self.warm_start!r}")
        r = _finite_nonneg(self.final_lr_ratio, "final_lr_ratio")
        if r > 1:
            raise InputError(f"final_lr_ratio must be at most 1, got {r}")


@dataclass(frozen=True)
class Setting:
    """A complete inventory setting.

    Parameters
    ----------
    name
        Short name (``"lost-sales-p4-L1"``).
    network
        Locations, costs and store demand.
    lost_sales
        Unmet store demand is lost (True) or backlogged (False).
    demand
        Demand distribution.
    train, validation, test
        Scenario sets.
    training
        HDPO options.
    transshipment
        Lateral transshipment between stores, or None (no transshipment).
    """

    name: str
    network: Network
    lost_sales: bool = True
    demand: Demand = field(default_factory=Demand)
    train: Split = field(default_factory=lambda: Split(8192, 100, 30, 1))
    validation: Split = field(default_factory=lambda: Split(1024, 600, 100, 2))
    test: Split = field(default_factory=lambda: Split(1024, 5000, 1000, 3))
    training: Training = field(default_factory=Training)
    transshipment: Transshipment | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InputError("a setting needs a non-empty name")
        if not isinstance(self.lost_sales, bool):
            raise InputError(f"lost_sales must be true or false, got {self.lost_sales!r}")
        if self.demand.distribution == "poisson" and any(
            self.network.demand_std[i] not in (0.0, math.sqrt(self.network.demand_mean[i]))
            for i in self.network.stores
        ):
            raise InputError("Poisson demand has its standard deviation fixed by its mean; leave demand_std out")
        self._check_episode()
        self._check_transshipment()

    def _check_episode(self) -> None:
        e = self.training.episode
        if e and not (self.train.warmup < e <= self.train.horizon):
            raise InputError(
                f"training episode of {e} periods must be longer than the training warm-up "
                f"({self.train.warmup}) and at most the training horizon ({self.train.horizon})"
            )

    def _check_transshipment(self) -> None:
        if self.transshipment is None:
            return
        kind = self.network.kind
        if kind == "single":
            raise InputError("transshipment needs at least two stores")
        if kind != "stores":
            raise InputError(
                "transshipment needs a network of stores supplied externally (supplier = \"external\" for every "
                f"location); this network is a {kind}"
            )

    def split(self, name: str) -> Split:
        """The scenario set called ``"train"``, ``"validation"`` or ``"test"``."""
        if name not in ("train", "validation", "test"):
            raise InputError(f"unknown scenario set {name!r}; choose train, validation or test")
        return getattr(self, name)


# --------------------------------------------------------------------------- TOML


def _expand_locations(tables: Any, path: Path | None) -> list[dict[str, Any]]:
    if not isinstance(tables, list) or not tables:
        raise InputError("the network has no locations; define at least one [[locations]] table", path)
    out: list[dict[str, Any]] = []
    for k, table in enumerate(tables):
        if not isinstance(table, dict):
            raise InputError(f"locations entry {k} is not a table", path)
        table = dict(table)
        count = table.pop("count", None)
        if count is None:
            out.append(table)
            continue
        count = _int_at_least(count, 1, f"count of locations entry {k}")
        base = table.get("name", f"loc{k}")
        for j in range(count):
            item = {}
            for key, value in table.items():
                if isinstance(value, list):
                    if len(value) != count:
                        raise InputError(f"field {key!r} of locations entry {base!r} has {len(value)} values for count = {count}", path)
                    item[key] = value[j]
                else:
                    item[key] = value
            item["name"] = f"{base}-{j}"
            out.append(item)
    return out


_LOCATION_KEYS = {"name", "supplier", "lead_time", "holding_cost", "underage_cost", "demand_mean", "demand_std"}


def network_from_tables(tables: Any, path: Path | None = None, poisson: bool = True) -> Network:
    """Build a :class:`Network` from a list of ``[[locations]]`` tables (after ``count`` expansion)."""
    items = _expand_locations(tables, path)
    names = []
    for k, item in enumerate(items):
        unknown = set(item) - _LOCATION_KEYS
        if unknown:
            raise InputError(f"unknown field {sorted(unknown)[0]!r} in location {item.get('name', k)!r}", path)
        if "name" not in item:
            raise InputError(f"location {k} has no name", path)
        names.append(str(item["name"]))
    index = {name: i for i, name in enumerate(names)}
    # A supplier may be given as the name of a repeated group's base only when unambiguous.
    supplier = []
    for item in items:
        if "supplier" not in item:
            raise InputError(f"location {item['name']!r} has no supplier; give supplier = \"external\" or a location name", path)
        s = item["supplier"]
        if s == "external":
            supplier.append(EXTERNAL)
        elif s in index:
            supplier.append(index[s])
        else:
            raise InputError(f"location {item['name']!r} has supplier {s!r}, which is not a location of the network", path)

    def col(key: str, default: Any) -> tuple:
        return tuple(item.get(key, default) for item in items)

    means = col("demand_mean", 0.0)
    stds = tuple(
        item.get("demand_std", math.sqrt(m) if poisson and isinstance(m, (int, float)) and m >= 0 and math.isfinite(m) else 0.0)
        for item, m in zip(items, means)
    )
    lead = col("lead_time", None)
    for item, value in zip(items, lead):
        if value is None:
            raise InputError(f"location {item['name']!r} has no lead_time", path)
    return Network(
        names=tuple(names),
        supplier=tuple(supplier),
        lead_time=lead,
        holding_cost=col("holding_cost", 0.0),
        underage_cost=col("underage_cost", 0.0),
        demand_mean=means,
        demand_std=stds,
    )


def _build(cls: type, data: Any, what: str, path: Path | None) -> Any:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise InputError(f"[{what}] must be a table", path)
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise InputError(f"unknown field {sorted(unknown)[0]!r} in [{what}]", path)
    try:
        return cls(**data)
    except InputError as err:
        raise InputError(err.message, path) from None
    except TypeError as err:
        raise InputError(f"[{what}] is incomplete: {err}", path) from None


def setting_from_dict(data: dict[str, Any], path: Path | None = None) -> Setting:
    """Build a :class:`Setting` from parsed TOML."""
    known = {"name", "lost_sales", "locations", "demand", "train", "validation", "test", "training", "transshipment"}
    unknown = set(data) - known
    if unknown:
        raise InputError(f"unknown top-level field {sorted(unknown)[0]!r}", path)
    demand = _build(Demand, data.get("demand", {}), "demand", path)
    try:
        network = network_from_tables(data.get("locations"), path, poisson=demand.distribution == "poisson")
    except InputError as err:
        raise InputError(err.message, path) from None
    kwargs: dict[str, Any] = {"name": data.get("name", path.stem if path else ""), "network": network, "demand": demand}
    if "lost_sales" in data:
        kwargs["lost_sales"] = data["lost_sales"]
    for key, cls in (("train", Split), ("validation", Split), ("test", Split), ("training", Training),
                     ("transshipment", Transshipment)):
        if key in data:
            kwargs[key] = _build(cls, data[key], key, path)
    try:
        return Setting(**kwargs)
    except InputError as err:
        raise InputError(err.message, path) from None


def load_setting(name_or_path: str | Path) -> Setting:
    """Load a setting by shipped name (``"lost-sales-p4-L1"``) or from a TOML file path.

    Raises
    ------
    InputError
        If the name is unknown, the file unreadable or the setting invalid.
    """
    p = Path(name_or_path)
    if p.suffix != ".toml" and not p.exists():
        shipped = SHIPPED_DIR / f"{name_or_path}.toml"
        if not shipped.exists():
            raise InputError(
                f"unknown setting {str(name_or_path)!r}: not a file and not one of the shipped settings "
                f"({', '.join(shipped_names()[:4])}, ...)"
            )
        p = shipped
    if not p.exists():
        raise InputError("settings file not found", p)
    try:
        data = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"not valid TOML: {err}", p) from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read the settings file: {err}", p) from None
    return setting_from_dict(data, p)


def shipped_names() -> list[str]:
    """Names of the settings shipped in ``instances/inventory``."""
    return sorted(f.stem for f in SHIPPED_DIR.glob("*.toml"))


def with_training(setting: Setting, **changes: Any) -> Setting:
    """A copy of ``setting`` with some training options changed."""
    return replace(setting, training=replace(setting.training, **changes))
