"""``coptim branching``: learned branching inside SCIP (Gasse et al., 2019).

``collect`` writes strong-branching expert samples (see :mod:`coptim.branching.collect`);
training commands are attached from their own module (see the end of this file). Heavy
modules are imported inside the commands so that ``coptim --help`` stays fast.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Optional

import typer

from coptim.errors import InputError

app = typer.Typer(
    help="Learned branching inside SCIP (Gasse et al. 2019): expert samples, GCNN training, branching rule.",
    no_args_is_help=True,
)


def _instance_files(folder: Path) -> list[Path]:
    from coptim.problems.milp import _SUFFIXES

    if not folder.is_dir():
        raise InputError("instance folder not found", folder)
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                   and p.name.lower().endswith(_SUFFIXES))
    if not files:
        raise InputError("no .mps/.lp instance files in this folder", folder)
    return files


def _scip_params(pairs: list[str]) -> dict[str, Any]:
    """``["presolving/maxrounds=0"]`` -> ``{"presolving/maxrounds": 0}`` (values read as JSON when they parse)."""
    import json

    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--scip-param must look like name=value, got {pair!r}")
        try:
            params[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            params[key.strip()] = raw
    return params


@app.command()
def collect(
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: instances/ (if generated) and samples/."),
    samples: int = typer.Option(..., "--samples", help="Target number of samples in OUT/samples."),
    kind: str = typer.Option("setcover", "--kind",
                             help="Instance generator: setcover, cauctions, facility or indset."),
    size: str = typer.Option("easy", "--size", help="easy, medium, hard, or the generator's size number."),
    instances: Optional[int] = typer.Option(
        None, "--instances", help="Number of instances to generate into OUT/instances (default 100), or to "
        "use from --instances-dir (default all)."),
    instances_dir: Optional[Path] = typer.Option(
        None, "--instances-dir", help="Use the MPS/LP files of this folder instead of generating instances."),
    seed: int = typer.Option(0, "--seed", help="Seed of the generated instances and of the first pass's episodes."),
    workers: int = typer.Option(1, "--workers", "-w", help="Parallel worker processes (one SCIP each)."),
    time_limit: float = typer.Option(600.0, "--time-limit", "-t", help="SCIP time limit per episode, seconds."),
    expert_probability: float = typer.Option(
        0.05, "--expert-probability", help="Probability of querying the strong-branching expert at a node."),
    max_per_episode: Optional[int] = typer.Option(
        None, "--max-per-episode", help="Stop an episode after this many samples (default: no cap)."),
    scip_param: list[str] = typer.Option(
        [], "--scip-param", help="Extra SCIP parameter as name=value (repeatable), e.g. presolving/maxrounds=0."),
    backend: str = typer.Option("local", "--backend", help="local (process pool) or ray."),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster address (with --backend ray)."),
) -> None:
    """Collect (observation, strong-branching scores) samples; resumable, stops at --samples."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from coptim import parallel, problems
    from coptim.branching import collect as col

    console = Console(stderr=True)
    if samples < 1:
        raise InputError(f"--samples must be at least 1, got {samples}")
    if instances is not None and instances < 1:
        raise InputError(f"--instances must be at least 1, got {instances}")
    if max_per_episode is not None and max_per_episode < 1:
        raise InputError(f"--max-per-episode must be at least 1, got {max_per_episode}")
    parallel.check_args(workers, backend, address)
    params = _scip_params(scip_param)
    if instances_dir is not None:
        paths = _instance_files(instances_dir)
        if instances is not None:
            paths = paths[:instances]
    else:
        prob = problems.get("milp")
        if kind not in prob.generators:
            raise InputError(f"unknown generator {kind!r}; choose one of {', '.join(prob.generators)}")
        number = prob.size_of(kind, size)
        count = 100 if instances is None else instances
        paths, written = problems.generate_files(prob, kind, number, count, seed, out / "instances",
                                                 progress=count >= 20, console=console)
        if written:
            console.print(f"generated {written} {kind} instance(s) of size {number} in {out / 'instances'}")
    sample_dir = out / "samples"
    start = len(col.sample_files(sample_dir)) if sample_dir.is_dir() else 0
    episodes = 0
    with Progress(TextColumn("[bold]samples"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[note]}"), console=console, disable=not console.is_terminal) as bar:
        task = bar.add_task("samples", total=samples, completed=min(start, samples), note="")

        def progress(result: Any, total: int) -> None:
            nonlocal episodes
            episodes += 1
            note = f"{episodes} episode(s); last {Path(result.instance).name} s{result.seed}: " \
                   f"{result.samples} sample(s), {result.status}"
            bar.update(task, completed=min(total, samples), note=note)
            if not console.is_terminal and not result.skipped:
                console.print(f"{total}/{samples} samples | {note} | {result.time_s:.1f} s")

        summary = col.collect(paths, sample_dir, samples=samples, seed=seed, workers=workers, backend=backend,
                              address=address, expert_probability=expert_probability, time_limit=time_limit,
                              max_samples_per_episode=max_per_episode, scip_params=params, progress=progress)
    for error in summary.errors[:5]:
        console.print(f"[red]episode failed[/red]: {error}")
    if len(summary.errors) > 5:
        console.print(f"... and {len(summary.errors) - 5} more failed episode(s)")
    if summary.episodes:
        typer.echo(f"{summary.samples} sample(s) in {sample_dir} ({summary.new_samples} new from "
                   f"{summary.episodes} episode(s), {summary.skipped} episode(s) already done; "
                   f"{summary.samples_per_minute:.1f} new samples/min)", err=True)
    else:
        typer.echo(f"{summary.samples} sample(s) in {sample_dir} (nothing new to do)", err=True)
    if summary.errors and summary.episodes == 0:
        raise typer.Exit(1)


@app.command()
def roots(
    samples: Path = typer.Option(..., "--samples", help="A sample folder from 'coptim branching collect'; the roots "
                                 "go to its sibling folder 'roots'."),
    workers: int = typer.Option(1, "--workers", "-w", help="Parallel worker processes (one SCIP each)."),
    time_limit: float = typer.Option(600.0, "--time-limit", "-t", help="SCIP time limit per root, seconds."),
    scip_param: list[str] = typer.Option(
        [], "--scip-param", help="The extra SCIP parameters the samples were collected with, as name=value."),
) -> None:
    """Root-node observations of the collected episodes (for the hybrid policy); resumable."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from coptim import parallel
    from coptim.branching import roots as rts

    parallel.check_args(workers, "local", None)
    console = Console(stderr=True)
    with Progress(TextColumn("[bold]roots"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, disable=not console.is_terminal) as bar:
        task = bar.add_task("roots", total=None)
        summary = rts.write_roots(samples, workers=workers, time_limit=time_limit,
                                  scip_params=_scip_params(scip_param),
                                  progress=lambda done, total: bar.update(task, completed=done, total=total))
    for error in summary["errors"][:5]:
        console.print(f"[red]root failed[/red]: {error}")
    typer.echo(f"{summary['written']} root observation(s) written, {summary['existing']} already there, "
               f"{summary['no_branching']} episode(s) without branching, {len(summary['errors'])} error(s); "
               f"{summary['episodes']} episode(s) in {summary['roots']}", err=True)
    if summary["errors"]:
        raise typer.Exit(1)


# ----------------------------------------------------------------------------- training commands
#
# Training lives in its own light module, ``coptim.branching.train_cli`` (torch is imported
# inside its commands); its command functions are attached to this sub-app here.

_TRAINING_COMMANDS = ("train", "train-hybrid", "evaluate")


def _attach_training_commands() -> None:
    try:
        module = importlib.import_module("coptim.branching.train_cli")
    except ModuleNotFoundError as exc:
        if exc.name != "coptim.branching.train_cli":
            raise
        return
    for name in _TRAINING_COMMANDS:
        command = getattr(module, name.replace("-", "_"), None)
        if command is not None:
            app.command(name)(command)


_attach_training_commands()
