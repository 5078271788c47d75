"""``coptim inventory``: train neural inventory policies and evaluate any policy.

SETTING is the name of a shipped settings file (``lost-sales-p4-L1``) or a path to a TOML file.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from coptim.errors import InputError

app = typer.Typer(help="Inventory networks: simulator, classical policies, exact DP and HDPO training.", no_args_is_help=True)


def _fail(err: InputError) -> None:
    """The main CLI's format for bad input: one line on stderr, exit code 2."""
    typer.echo(f"coptim: error: {err}", err=True)
    raise typer.Exit(2)


@app.command("list")
def list_settings() -> None:
    """List the shipped settings."""
    from coptim.inventory.settings import shipped_names

    for name in shipped_names():
        typer.echo(name)


@app.command()
def train(
    setting: str = typer.Argument(..., help="Shipped setting name or TOML path."),
    architecture: Optional[str] = typer.Option(None, "--arch", help="mlp or gnn (default: the setting's)."),
    method: str = typer.Option("hdpo", help="hdpo or reinforce."),
    steps: Optional[int] = typer.Option(None, help="Override the number of gradient steps."),
    train_scenarios: Optional[int] = typer.Option(None, help="Use only this many training scenarios."),
    seed: int = typer.Option(0, help="Seed of the weights and the minibatch order."),
    out: Optional[Path] = typer.Option(None, help="Where to write the best weights (default: next to the checkpoint)."),
    checkpoint: Optional[Path] = typer.Option(None, help="Checkpoint file; training resumes from it if it exists."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object with the result."),
) -> None:
    """Train a policy for SETTING (HDPO by default), keep the best on validation, report its test cost."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from coptim.inventory.evaluation import evaluate
    from coptim.inventory.registry import save_weights
    from coptim.inventory.settings import load_setting, with_training
    from coptim.inventory.training import train_hdpo, train_reinforce

    try:
        s = load_setting(setting)
        if steps is not None:
            s = with_training(s, steps=steps)
        arch = architecture or s.training.architecture
        if method not in ("hdpo", "reinforce"):
            raise InputError(f"unknown training method {method!r}; choose hdpo or reinforce")
        if method == "reinforce" and arch != "mlp":
            raise InputError("REINFORCE is implemented for the mlp architecture only")
        if method == "reinforce" and s.transshipment is not None:
            raise InputError("REINFORCE is implemented for settings without transshipment only")
        ckpt = checkpoint or Path(f"{s.name}-{arch}-{method}.ckpt")
        target = out or ckpt.with_suffix(".pt")
        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
            TimeRemainingColumn(), console=_console(json_out),
        ) as bar:
            task = bar.add_task(f"{method} {s.name}", total=s.training.steps, info="")

            def progress(k: int, loss: float, best: float) -> None:
                bar.update(task, completed=k, info=f"loss {loss:.4f} best val {best:.4f}")

            start = time.perf_counter()
            if method == "hdpo":
                res = train_hdpo(s, seed=seed, checkpoint=ckpt, progress=progress, architecture=arch,
                                 train_scenarios=train_scenarios)
            else:
                res = train_reinforce(s, seed=seed, checkpoint=ckpt, progress=progress,
                                      train_scenarios=train_scenarios)
            save_weights(res.model, s, arch, target)
            test = evaluate(s, res.model, "test", integer=True)
        out_obj = {
            "setting": s.name,
            "method": method,
            "architecture": arch,
            "weights": str(target),
            "best_validation": res.best_validation,
            "best_step": res.best_step,
            "train_time_s": res.time_s,
            "wall_time_s": time.perf_counter() - start,
            "test": test,
        }
    except InputError as err:
        _fail(err)
    if json_out:
        sys.stdout.write(json.dumps(out_obj) + "\n")
    else:
        typer.echo(f"{s.name}: test cost per period {test['cost_per_period']:.4f} (weights {target})")


def _console(json_out: bool):
    from rich.console import Console

    return Console(stderr=True) if json_out else Console()


@app.command("eval")
def eval_cmd(
    setting: str = typer.Argument(..., help="Shipped setting name or TOML path."),
    policy: str = typer.Option("base-stock", "--policy", help="constant, base-stock, capped-base-stock, "
                               "echelon-base-stock, base-stock-balancing, free-rebalancing, myopic, optimal, "
                               "mlp, gnn or pooled-bound (the pooled system's cost on the same scenarios)."),
    weights: Optional[Path] = typer.Option(None, help="Weights file for mlp/gnn (default: the shipped ones)."),
    split: str = typer.Option("test", help="train, validation or test."),
    continuous: bool = typer.Option(False, help="Do not round orders to integers."),
    json_out: bool = typer.Option(False, "--json", help="Print exactly one JSON object."),
) -> None:
    """Average cost per period (and per store) of a policy on a scenario set of SETTING.

    Where the lower bounds of :mod:`coptim.inventory.bounds` apply (stores supplied externally,
    backlogged Poisson demand), the output also has ``lower_bound`` (the rebalancing bound)
    and ``gap_to_bound_percent``.
    """
    from coptim.inventory.bounds import evaluate_pooled, pooled_bound, rebalancing_bound
    from coptim.inventory.evaluation import evaluate
    from coptim.inventory.registry import make_policy, optimal_cost
    from coptim.inventory.settings import load_setting

    try:
        s = load_setting(setting)
        start = time.perf_counter()
        if policy == "pooled-bound":
            info = pooled_bound(s)
            res = evaluate_pooled(s, split, integer=not continuous)
        else:
            pol, info = make_policy(s, policy, weights)
            res = evaluate(s, pol, split, integer=not continuous)
        out_obj = {"setting": s.name, "policy": policy, "split": split, **res, "params": info,
                   "time_s": time.perf_counter() - start}
        try:
            ref = optimal_cost(s)["cost"]
            out_obj["optimal_cost"] = ref
            out_obj["gap_percent"] = 100.0 * (res["cost_per_period"] - ref) / ref
        except InputError:
            pass
        try:
            bound = rebalancing_bound(s)["cost_per_period"]
            out_obj["lower_bound"] = bound
            out_obj["gap_to_bound_percent"] = 100.0 * (res["cost_per_period"] - bound) / bound
        except InputError:
            pass
    except InputError as err:
        _fail(err)
    if json_out:
        sys.stdout.write(json.dumps(out_obj) + "\n")
    else:
        line = f"{s.name} {policy}: {res['cost_per_period']:.4f} per period (± {res['stderr']:.4f})"
        if "gap_percent" in out_obj:
            line += f", optimum {out_obj['optimal_cost']:.4f}, gap {out_obj['gap_percent']:.2f}%"
        if "gap_to_bound_percent" in out_obj:
            line += f", lower bound {out_obj['lower_bound']:.4f}, gap {out_obj['gap_to_bound_percent']:.2f}%"
        typer.echo(line)


@app.command()
def optimum(
    setting: str = typer.Argument(..., help="Single-store lost-sales setting (name or TOML path)."),
    json_out: bool = typer.Option(False, "--json", help="Print exactly one JSON object."),
) -> None:
    """Exact optimal cost of a single-store lost-sales setting by relative value iteration."""
    from coptim.inventory.registry import optimal_cost
    from coptim.inventory.settings import load_setting

    try:
        summary = optimal_cost(load_setting(setting))
    except InputError as err:
        _fail(err)
    if json_out:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        typer.echo(f"optimal cost {summary['cost']:.4f} per period ({summary['iterations']} iterations, "
                   f"{summary['time_s']:.2f} s)")


if __name__ == "__main__":  # pragma: no cover
    app()
