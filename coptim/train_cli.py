"""``coptim train PROBLEM --method pomo --size N ... --out DIR``: train a learned constructive policy.

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

METHODS = ("pomo",)


def train(
    problem: str = typer.Argument(..., help="Problem: tsp, cvrp or knapsack."),
    method: str = typer.Option("pomo", "--method", help="Training method (pomo: REINFORCE, shared multi-start baseline)."),
    size: int = typer.Option(..., "--size", "-n", help="Training instance size (nodes, customers or items)."),
    out: Path = typer.Option(..., "--out", "-o", help="Run directory: checkpoint.pt, policy.pt, best.pt, log.csv; "
                             "an existing checkpoint there is resumed."),
    epochs: int = typer.Option(10, "--epochs", help="Epochs (validation, log row and checkpoint after each)."),
    steps_per_epoch: int = typer.Option(100, "--steps-per-epoch", help="Gradient steps per epoch."),
    batch_size: int = typer.Option(64, "--batch-size", help="Instances per step."),
    lr: float = typer.Option(5e-4, "--lr", help="Adam learning rate (the peak of a schedule)."),
    lr_schedule: str = typer.Option("constant", "--lr-schedule",
                                    help="constant or cosine (decay to --min-lr over epochs x steps-per-epoch)."),
    warmup_steps: int = typer.Option(0, "--warmup-steps", help="Linear learning-rate warm-up steps."),
    min_lr: float = typer.Option(0.0, "--min-lr", help="Final learning rate of the cosine schedule."),
    starts: Optional[int] = typer.Option(None, "--starts", help="Rollouts (distinct starts) per instance; default size."),
    augment: int = typer.Option(1, "--augment", help="Symmetric copies per instance in training (1..8, routing only)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the weights, the data and the sampling."),
    val_size: int = typer.Option(200, "--val-size", help="Validation instances (fixed seed, references cached)."),
    layers: int = typer.Option(3, "--layers", help="Encoder layers."),
    dim: int = typer.Option(128, "--dim", help="Embedding dimension."),
    heads: int = typer.Option(8, "--heads", help="Attention heads."),
    norm: str = typer.Option("instance", "--norm", help="instance or rms."),
    time_budget: Optional[float] = typer.Option(None, "--time-budget", help="Stop after this many training CPU seconds."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON summary on stdout."),
) -> None:
    """Train a POMO attention policy with a progress bar, validation gaps per epoch and resumable checkpoints."""
    if method not in METHODS:
        raise InputError(f"unknown training method {method!r}; available: {', '.join(METHODS)}")
    if time_budget is not None and not time_budget > 0:
        raise InputError(f"--time-budget must be positive, got {time_budget}")
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from coptim.training import TrainConfig
    from coptim.training import train as run_training

    cfg = TrainConfig(problem, size, epochs=epochs, steps_per_epoch=steps_per_epoch, batch_size=batch_size, lr=lr,
                      starts=starts, augment=augment, seed=seed, val_size=val_size,
                      lr_schedule=lr_schedule, warmup_steps=warmup_steps, min_lr=min_lr,
                      model={"layers": layers, "dim": dim, "heads": heads, "norm": norm})
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
               TextColumn("{task.fields[status]}"))
    with Progress(*columns, console=console, disable=not console.is_terminal and not sys.stderr.isatty()) as bar:
        task = bar.add_task(f"pomo {problem}{size}", total=cfg.total_steps, status="")
        last: dict[str, float] = {}

        def on_step(step: int, total: int, info: dict) -> None:
            last.update({k: v for k, v in info.items() if k.startswith("val_")})
            status = f"loss {info['loss']:.4f}"
            if "val_greedy_gap_pct" in last:
                status += f" | val gap greedy {last['val_greedy_gap_pct']:.2f}% multistart {last['val_multistart_gap_pct']:.2f}%"
            bar.update(task, completed=step, status=status)
            if "val_greedy_gap_pct" in info and not console.is_terminal:
                console.print(f"step {step}/{total}: {status}")

        summary = run_training(cfg, out, time_budget_s=time_budget, on_step=on_step)
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        console.print(f"{summary['stopped']} at step {summary['step']}: {summary['samples']} samples in "
                      f"{summary['train_cpu_s']:.1f} CPU s ({summary['samples_per_cpu_s']:.0f}/s); best validation "
                      f"greedy gap {summary['best_val_greedy_gap_pct']:.3f}%; weights in {out}")


app = typer.Typer(help="Train learned solvers (POMO).", add_completion=False, pretty_exceptions_enable=False)
app.command("train")(train)

if __name__ == "__main__":
    app()
