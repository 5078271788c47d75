"""``coptim train PROBLEM --method pomo|imitation --size N ... --out DIR``: train a learned constructive policy.

``pomo``: the attention model by REINFORCE with the POMO shared baseline (TSP, CVRP, knapsack).
``imitation``: for the TSP, the BQ decoder-only policy by imitation of LKH tours with sub-path
augmentation; for the CVRP and the knapsack, the attention model by teacher forcing on PyVRP and DP
solutions (:mod:`coptim.training.teacher`). The expert solutions are made first (``--experts``
instances, ``--workers`` processes, cached in ``--expert-dir``, default ``OUT/experts``).

For the lead to mount in :mod:`coptim.cli` as a command of the main app::

    from coptim.train_cli import train as train_command
    app.command("train")(train_command)

:data:`app` is a one-command Typer app around the same function (``python -m coptim.train_cli``).
Bad settings raise :class:`~coptim.errors.InputError` (exit 2 through ``coptim.cli.main``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from coptim.errors import InputError

METHODS = ("pomo", "imitation")


def train(
    problem: str = typer.Argument(..., help="Problem: tsp, cvrp or knapsack."),
    method: str = typer.Option("pomo", "--method", help="pomo (REINFORCE, shared multi-start baseline; attention "
                               "model) or imitation (tsp: BQ policy from LKH tours, sub-path augmentation; cvrp and "
                               "knapsack: attention model from PyVRP and DP solutions)."),
    size: int = typer.Option(..., "--size", "-n", help="Training instance size (nodes, customers or items)."),
    out: Path = typer.Option(..., "--out", "-o", help="Run directory: checkpoint.pt, policy.pt, best.pt, log.csv; "
                             "an existing checkpoint there is resumed."),
    epochs: int = typer.Option(10, "--epochs", help="Epochs (validation, log row and checkpoint after each)."),
    steps_per_epoch: int = typer.Option(100, "--steps-per-epoch", help="Gradient steps per epoch."),
    batch_size: int = typer.Option(64, "--batch-size", help="Instances (pomo) or sub-path samples (imitation) per step."),
    lr: float = typer.Option(5e-4, "--lr", help="Adam learning rate (the peak of a schedule)."),
    lr_schedule: str = typer.Option("constant", "--lr-schedule",
                                    help="constant or cosine (decay to --min-lr over epochs x steps-per-epoch)."),
    warmup_steps: int = typer.Option(0, "--warmup-steps", help="Linear learning-rate warm-up steps."),
    min_lr: float = typer.Option(0.0, "--min-lr", help="Final learning rate of the cosine schedule."),
    starts: Optional[int] = typer.Option(None, "--starts", help="Rollouts (distinct starts) per instance; default size."),
    augment: int = typer.Option(1, "--augment", help="Symmetric copies per instance in training (1..8, routing only)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the weights, the data and the sampling."),
    val_size: int = typer.Option(200, "--val-size", help="Validation instances (fixed seed, references cached)."),
    layers: Optional[int] = typer.Option(None, "--layers", help="Transformer layers (default 3 for pomo, 4 for imitation)."),
    dim: Optional[int] = typer.Option(None, "--dim", help="Embedding dimension (default 128)."),
    heads: Optional[int] = typer.Option(None, "--heads", help="Attention heads (default 8)."),
    norm: Optional[str] = typer.Option(None, "--norm", help="instance or rms (default instance for pomo, rms for imitation)."),
    experts: int = typer.Option(10000, "--experts", help="imitation: expert-solved training instances."),
    expert_dir: Optional[Path] = typer.Option(None, "--expert-dir", help="imitation: cache of expert solutions "
                                              "(default OUT/experts; reused by runs with the same size and count)."),
    workers: int = typer.Option(1, "--workers", help="imitation: processes that solve the expert instances."),
    knn: Optional[int] = typer.Option(None, "--knn", help="tsp imitation (BQ): default k-nearest-neighbour restriction stored "
                                      "with the policy (used at inference on larger instances)."),
    init: Optional[Path] = typer.Option(None, "--init", help="Weights to start from (fine-tuning, e.g. to another "
                                        "size, or continued training); the architecture (and for the BQ policy the "
                                        "default --knn) is theirs."),
    capacity: Optional[str] = typer.Option(None, "--capacity", help="cvrp pomo: training capacity, LO:HI to draw "
                                           "each instance's capacity uniformly from LO..HI (default: the uniform "
                                           "distribution's capacity for the size; validation keeps it)."),
    time_budget: Optional[float] = typer.Option(None, "--time-budget", help="Stop after this many training CPU seconds."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON summary on stdout."),
) -> None:
    """Train a learned policy with a progress bar, validation gaps per epoch and resumable checkpoints."""
    if method not in METHODS:
        raise InputError(f"unknown training method {method!r}; available: {', '.join(METHODS)}")
    if time_budget is not None and not time_budget > 0:
        raise InputError(f"--time-budget must be positive, got {time_budget}")
    bq = method == "imitation" and problem == "tsp"
    if method == "imitation":
        if starts is not None or augment != 1:
            raise InputError("--starts and --augment apply to --method pomo only")
    elif expert_dir is not None:
        raise InputError("--expert-dir applies to --method imitation only")
    if knn is not None and not bq:
        raise InputError("--knn applies to --method imitation on the tsp (the BQ policy) only")
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    model = {k: v for k, v in (("dim", dim), ("heads", heads), ("layers", layers), ("norm", norm)) if v is not None}
    cap_range = None if capacity is None else _capacity_range(capacity)
    if cap_range is not None and (problem != "cvrp" or method != "pomo"):
        raise InputError("--capacity applies to --method pomo on the cvrp only")
    common = dict(epochs=epochs, steps_per_epoch=steps_per_epoch, batch_size=batch_size, lr=lr, seed=seed,
                  val_size=val_size, lr_schedule=lr_schedule, warmup_steps=warmup_steps, min_lr=min_lr)
    if bq:
        from coptim.training.imitation import ImitationConfig
        from coptim.training.imitation import train as run_imitation

        if init is not None:
            model, init_knn = _init_bq(init, model)
            knn = init_knn if knn is None else knn
        cfg = ImitationConfig(size, experts=experts, knn=knn, model=model,
                              init=None if init is None else str(init), **common)
    else:
        from coptim.training import TrainConfig
        from coptim.training import train as run_attention

        if init is not None:
            model = _init_architecture(init, problem, model)
        cfg = TrainConfig(problem, size, starts=starts, augment=augment, init=None if init is None else str(init),
                          model={"layers": 3, "norm": "instance", **model}, method=method,
                          experts=experts if method == "imitation" else 0, capacity=cap_range, **common)
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
               TextColumn("{task.fields[status]}"))
    with Progress(*columns, console=console, disable=not console.is_terminal and not sys.stderr.isatty()) as bar:
        task = bar.add_task(f"{method} {problem}{size}", total=cfg.total_steps, status="")
        last: dict[str, float] = {}

        def on_step(step: int, total: int, info: dict) -> None:
            last.update({k: v for k, v in info.items() if k.startswith("val_")})
            status = f"loss {info['loss']:.4f}"
            if "val_greedy_gap_pct" in last:
                status += f" | val gap greedy {last['val_greedy_gap_pct']:.2f}%"
            if "val_multistart_gap_pct" in last:
                status += f" multistart {last['val_multistart_gap_pct']:.2f}%"
            bar.update(task, completed=step, status=status)
            if "val_greedy_gap_pct" in info and not console.is_terminal:
                console.print(f"step {step}/{total}: {status}")

        if method == "imitation":
            from coptim.training.experts import EXPERTS

            experts_task = bar.add_task(f"expert solutions ({EXPERTS[problem][0]})", total=None, status="")

            def on_shard(done: int, total: int) -> None:
                bar.update(experts_task, completed=done, total=total, status="shards")

            run = run_imitation if bq else run_attention
            summary = run(cfg, out, expert_dir=expert_dir, workers=workers, time_budget_s=time_budget,
                          on_step=on_step, on_shard=on_shard)
        else:
            summary = run_attention(cfg, out, time_budget_s=time_budget, on_step=on_step)
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        console.print(f"{summary['stopped']} at step {summary['step']}: {summary['samples']} samples in "
                      f"{summary['train_cpu_s']:.1f} CPU s ({summary['samples_per_cpu_s']:.0f}/s); best validation "
                      f"greedy gap {summary['best_val_greedy_gap_pct']:.3f}%; weights in {out}")


def _capacity_range(text: str) -> list[int]:
    """``--capacity`` ``LO:HI`` or ``C`` as ``[lo, hi]``."""
    parts = text.split(":")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2):
        raise InputError(f"--capacity must be an integer or LO:HI, got {text!r}")
    return [values[0], values[-1]]


def _init_bq(init: Path, given: dict) -> tuple[dict, int | None]:
    """The architecture and stored knn of BQ ``--init`` weights; command-line options must agree."""
    from coptim.policies.bq import load

    _, meta = load(init)
    return _agreeing(init, meta, given), meta.get("knn")


def _init_architecture(init: Path, problem: str, given: dict) -> dict:
    """The architecture of the ``--init`` weights; options given on the command line must agree with it."""
    from coptim.training.checkpoint import load_policy

    _, meta = load_policy(init, problem)
    return _agreeing(init, meta, given)


def _agreeing(init: Path, meta: dict, given: dict) -> dict:
    arch = {k: v for k, v in meta["model_config"].items() if k != "problem"}
    clash = sorted(k for k, v in given.items() if arch.get(k) != v)
    if clash:
        raise InputError(f"--init weights {init} have {', '.join(f'{k}={arch.get(k)}' for k in clash)}; "
                         f"drop --{' --'.join(clash)} or give the same values")
    return arch


app = typer.Typer(help="Train learned solvers (POMO, imitation).", add_completion=False, pretty_exceptions_enable=False)
app.command("train")(train)

if __name__ == "__main__":
    app()
