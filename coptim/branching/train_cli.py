"""``coptim branching train`` and ``coptim branching evaluate``: imitation learning of strong branching.

For the ``branching`` sub-app of :mod:`coptim.branching.cli`::

    from coptim.branching.train_cli import evaluate as evaluate_command, train as train_command
    app.command("train")(train_command)
    app.command("evaluate")(evaluate_command)

:data:`app` is a Typer app with the two commands (``python -m coptim.branching.train_cli``).
Bad settings, data or checkpoints raise :class:`~coptim.errors.InputError` (exit 2 through
``coptim.cli.main``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from coptim.errors import InputError


def _report(summary: dict, out: Path, as_json: bool, console: object) -> None:
    """The end of a training command: one JSON object on stdout, or two lines on stderr."""
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    console.print(f"{summary['stopped']} after epoch {summary['epoch']}: best validation loss "
                  f"{summary['best_valid_loss']:.4f} at epoch {summary['best_epoch']} (acc@1 "
                  f"{summary.get('best_valid_acc1', float('nan')):.3f}, acc@5 {summary.get('best_valid_acc5', float('nan')):.3f});"
                  f" {summary['train_s']:.1f} s of training; weights in {out / 'best.pt'}")
    if "test" in summary:
        t = summary["test"]
        console.print(f"test ({t['samples']} samples): loss {t['loss']:.4f}, acc@1 {t['acc1']:.3f}, "
                      f"acc@3 {t['acc3']:.3f}, acc@5 {t['acc5']:.3f}, acc@10 {t['acc10']:.3f}")


def train(
    train_dir: Path = typer.Option(..., "--train", help="Folder of training samples (.npz from 'coptim branching collect')."),
    valid_dir: Path = typer.Option(..., "--valid", help="Folder of validation samples (early stopping, lr decay)."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder: checkpoint.pt, best.pt, policy.pt, log.csv; "
                             "an existing checkpoint there is resumed."),
    epochs: int = typer.Option(100, "--epochs", help="Maximum epochs."),
    seed: int = typer.Option(0, "--seed", help="Seed of the initial weights and the sample order."),
    batch_size: int = typer.Option(32, "--batch-size", help="Samples per gradient step."),
    lr: float = typer.Option(1e-3, "--lr", help="Adam learning rate."),
    epoch_size: Optional[int] = typer.Option(None, "--epoch-size", help="Batches per epoch drawn with replacement "
                                             "(Gasse: 312); default one pass over the training samples."),
    patience: int = typer.Option(10, "--patience", help="Epochs without a better validation loss before the "
                                 "learning rate is multiplied by 0.2."),
    early_stopping: int = typer.Option(20, "--early-stopping", help="Epochs without a better validation loss "
                                       "before training stops."),
    emb_size: int = typer.Option(64, "--emb-size", help="Embedding width of the GCNN."),
    precision: str = typer.Option("fp32", "--precision", help="fp32, or bf16 (autocast in training and validation: "
                                  "about twice as fast on CPUs with bf16)."),
    time_budget: Optional[float] = typer.Option(None, "--time-budget", help="Stop after the epoch at which this "
                                                "many training seconds have been spent."),
    test_dir: Optional[Path] = typer.Option(None, "--test", help="Held-out samples: report the best policy's "
                                            "accuracy on them at the end."),
    init: Optional[Path] = typer.Option(None, "--init", help="Start from this policy's weights (fine-tuning on "
                                        "more data) instead of random ones."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON summary on stdout."),
) -> None:
    """Train a GCNN branching policy by imitating strong branching (Gasse et al. 2019), resumable."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from coptim.branching.train import TrainConfig, evaluate as run_evaluate, train as run_training

    if test_dir is not None and not test_dir.is_dir():
        raise InputError(f"test sample folder not found: {test_dir}")
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, epoch_size=epoch_size,
                      lr_patience=patience, early_stopping=early_stopping, time_budget_s=time_budget,
                      precision=precision, model={"emb_size": emb_size},
                      init=None if init is None else str(init))
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[status]}"))
    with Progress(*columns, console=console, disable=not console.is_terminal) as bar:
        epochs_task = bar.add_task("epochs", total=epochs, status="")
        batch_task = bar.add_task("batches", total=None, status="")

        def on_batch(done: int, total: int) -> None:
            bar.update(batch_task, completed=done, total=total)

        def on_epoch(epoch: int, row: dict) -> None:
            status = (f"valid loss {row['valid_loss']:.4f} acc@1 {row['valid_acc1']:.3f} acc@5 {row['valid_acc5']:.3f}"
                      f" | best {row['best_valid_loss']:.4f}")
            bar.update(epochs_task, completed=epoch, status=status)
            if not console.is_terminal:
                console.print(f"epoch {epoch}: train loss {row['train_loss']:.4f}, {status}")

        summary = run_training(cfg, train_dir, valid_dir, out, on_epoch=on_epoch, on_batch=on_batch)
    if test_dir is not None:
        from coptim.branching.rule import load_policy

        best = out / "best.pt"
        policy = load_policy(best if best.is_file() else out / "policy.pt")
        summary["test"] = run_evaluate(policy, test_dir, precision=precision)
    _report(summary, out, as_json, console)


def train_hybrid(
    gnn: str = typer.Option(..., "--gnn", help="The trained GCNN run at the root (best.pt of 'coptim branching train', "
                            "or a shipped NAME)."),
    train_dir: Path = typer.Option(..., "--train", help="Folder of training samples, with roots "
                                   "('coptim branching roots')."),
    valid_dir: Path = typer.Option(..., "--valid", help="Folder of validation samples, with roots."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder: checkpoint.pt, best.pt, log.csv; resumed if "
                             "a checkpoint is there."),
    epochs: int = typer.Option(300, "--epochs", help="Maximum epochs."),
    seed: int = typer.Option(0, "--seed", help="Seed of the node part's weights and of the sample order."),
    batch_size: int = typer.Option(64, "--batch-size", help="Samples per gradient step."),
    lr: float = typer.Option(1e-3, "--lr", help="Adam learning rate."),
    early_stopping: int = typer.Option(30, "--early-stopping", help="Epochs without a better validation loss "
                                       "before training stops."),
    time_budget: Optional[float] = typer.Option(None, "--time-budget", help="Stop after this many training seconds."),
    distill: float = typer.Option(0.0, "--distill", help="Weight in [0, 1] of knowledge distillation from the GCNN "
                                  "(the rest is cross-entropy on the expert's choice)."),
    temperature: float = typer.Option(2.0, "--temperature", help="Softmax temperature of the distillation."),
    test_dir: Optional[Path] = typer.Option(None, "--test", help="Held-out samples with roots: report the best "
                                            "policy's accuracy on them."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON summary on stdout."),
) -> None:
    """Train the hybrid policy (Gupta et al. 2020): a trained GCNN at the root, a node MLP by imitation
    (optionally distilled from the GCNN)."""
    from rich.console import Console

    from coptim.branching.hybrid import HybridConfig, NodeSamples, evaluate_nodes, train_hybrid as run

    console = Console(stderr=True)
    cfg = HybridConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, early_stopping=early_stopping,
                       time_budget_s=time_budget, distill=distill, temperature=temperature)
    with console.status("training the hybrid policy") as status:
        def on_epoch(epoch: int, row: dict) -> None:
            line = (f"epoch {epoch}: train loss {row['train_loss']:.4f}, valid loss {row['valid_loss']:.4f} "
                    f"acc@1 {row['valid_acc1']:.3f} acc@5 {row['valid_acc5']:.3f} | best {row['best_valid_loss']:.4f}")
            status.update(line)
            if not console.is_terminal and epoch % 10 == 0:
                console.print(line)

        summary = run(cfg, gnn, train_dir, valid_dir, out, on_epoch=on_epoch)
    if test_dir is not None:
        from coptim.branching.rule import load_policy

        policy = load_policy(out / "best.pt")
        summary["test"] = evaluate_nodes(policy, NodeSamples(test_dir, policy.gnn))
    _report(summary, out, as_json, console)


def evaluate(
    policy: str = typer.Argument(..., help="A policy: shipped NAME or a .pt file (best.pt of a training run)."),
    samples: Path = typer.Option(..., "--samples", help="Folder of held-out samples."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Loss and top-k accuracy of a policy against strong branching (ties with the best score count).

    A hybrid policy is evaluated as it branches: each sample with its episode's root embeddings
    (the samples need their roots, see 'coptim branching roots').
    """
    from coptim.branching.rule import load_policy
    from coptim.branching.train import TOPK, evaluate as run_evaluate, open_samples

    model = load_policy(policy)
    if getattr(model, "uses_root", False):  # a hybrid policy: every sample with its episode's root
        from coptim.branching.hybrid import NodeSamples, evaluate_nodes

        res = evaluate_nodes(model, NodeSamples(samples, model.gnn))
    else:
        res = run_evaluate(model, open_samples(samples, "evaluation"))
    if as_json:
        sys.stdout.write(json.dumps(res) + "\n")
        return
    typer.echo(f"{res['samples']} samples: loss {res['loss']:.4f}, "
               + ", ".join(f"acc@{k} {res[f'acc{k}']:.3f}" for k in TOPK))


app = typer.Typer(help="Learned branching: train and evaluate policies.", add_completion=False,
                  pretty_exceptions_enable=False)
app.command("train")(train)
app.command("train-hybrid")(train_hybrid)
app.command("evaluate")(evaluate)

if __name__ == "__main__":
    app()
