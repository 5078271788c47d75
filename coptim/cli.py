"""The ``coptim`` command line: solve, generate, bench and list solvers.

Exit codes: 0 on success, 2 on bad input or usage (one line on stderr, no traceback),
1 on an internal error. Heavy modules are imported inside the commands so that
``coptim --help`` answers at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Iterator, Optional

import typer

from coptim.errors import InputError

app = typer.Typer(
    name="coptim",
    help="Combinatorial optimisation where learning meets classical solvers: read standard instance "
    "files (TSPLIB, CVRPLIB, Pisinger knapsack, MPS/LP), solve them with classical or learned "
    "solvers, and benchmark solvers against reference values.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

@app.callback()
def _options(
    threads: int = typer.Option(
        1, "--threads", envvar="COPTIM_THREADS", min=1,
        help="CPU threads for torch and OpenMP in this command (default 1: on a shared 2-core machine "
        "two torch threads slow decoding down many times over).",
    ),
) -> None:
    """Set the thread count of this process, deliberately, before any heavy library is imported."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


DEFAULT_SOLVER = {"tsp": "lkh", "cvrp": "pyvrp", "knapsack": "dp", "milp": "scip"}

PROBLEM_HELP = "Problem: tsp, cvrp, knapsack or milp."


def _parse_options(pairs: list[str]) -> dict[str, Any]:
    """``["runs=5", "verbose=true"]`` -> ``{"runs": 5, "verbose": True}`` (values read as JSON when they parse)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"solver option must look like key=value, got {pair!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        options[key.strip().replace("-", "_")] = value
    return options


def _check_options(fn: Any, options: dict[str, Any], what: str) -> None:
    """Refuse keyword options that ``fn`` does not take, naming the ones it does."""
    import inspect

    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    allowed = [n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY and n != "name"]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InputError(f"{what} has no option {', '.join(unknown)}; its options: {', '.join(allowed) or 'none'}")


@contextlib.contextmanager
def _stdout_to_stderr(active: bool) -> Iterator[None]:
    """Send everything written to file descriptor 1 (C libraries included) to stderr."""
    if not active:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _reference(path: Path) -> tuple[float, str] | None:
    try:
        from coptim import instances
    except ModuleNotFoundError:
        return None
    return instances.reference(path)


@app.command()
def solve(
    problem: str = typer.Argument(..., help=PROBLEM_HELP),
    file: Path = typer.Argument(..., help="Instance file (.tsp, .vrp, Pisinger .csv/.kp, .mps/.lp[.gz])."),
    solver: Optional[str] = typer.Option(
        None, "--solver", "-s", help="Solver name (see 'coptim solvers'); default lkh, pyvrp, dp or scip."
    ),
    time_limit: Optional[float] = typer.Option(
        None, "--time-limit", "-t", help="Time limit in seconds (positive); default: the solver's own."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object on stdout."),
    out: Optional[Path] = typer.Option(
        None, "--out", "-o", help="Write the solution in the problem's format (.tour, .sol, ...)."
    ),
    branching: Optional[str] = typer.Option(
        None, "--branching", help="MILP only: SCIP branching rule (relpscost, pscost, fullstrong, mostinf, random), "
        "or learned:NAME|PATH for a trained policy (solvers/branching/NAME.pt or a .pt file)."
    ),
    option: list[str] = typer.Option(
        [], "--option", "-O", help="Solver option as key=value (repeatable), e.g. -O runs=5."
    ),
) -> None:
    """Solve one instance file and report the checked result."""
    from coptim import problems, solvers

    prob = problems.get(problem)
    name = solver or DEFAULT_SOLVER[problem]
    options = _parse_options(option)
    if branching is not None:
        if problem != "milp":
            raise InputError("--branching applies to milp only")
        options["branching"] = branching
    solvers.get(problem, name)  # unknown solver: fail before reading the file
    instance = prob.read(file)
    with _stdout_to_stderr(as_json):
        result = solvers.solve(problem, instance, name, time_limit=time_limit, seed=seed, **options)
    payload = result.to_dict()
    payload["solution"] = prob.solution_to_json(result.solution) if result.solution is not None else None
    payload["file"] = str(file)
    ref = _reference(file)
    if ref is not None:
        payload["reference"], payload["reference_kind"] = ref
        payload["gap_pct"] = problems.gap_percent(result.objective, ref[0], prob.sense_of(instance))
    if out is not None and result.solution is not None:
        if prob.write_solution is None:
            raise InputError(f"{problem} has no solution file format; use --json")
        _write_solution_atomically(prob, instance, result, out)
    if as_json:
        sys.stdout.write(json.dumps(payload) + "\n")
    else:
        _print_result(payload)
    if not result.feasible and result.solution is not None:
        raise typer.Exit(1)


def _write_solution_atomically(prob: Any, instance: Any, result: Any, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        prob.write_solution(instance, result.solution, tmp, result.objective)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()


def _print_result(payload: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_header=False, box=None)
    keys = ["problem", "instance", "solver", "status", "objective", "feasible", "time_s",
            "reference", "gap_pct", "dual_bound", "gap", "nodes"]
    for key in keys:
        value = payload.get(key)
        if value is None:
            continue
        if isinstance(value, float):
            value = f"{value:.4f}" if key in ("time_s", "gap_pct", "gap") else f"{value:.10g}"
        table.add_row(key, str(value))
    for key, value in payload.get("stats", {}).items():
        table.add_row(key, str(value))
    if payload.get("violations"):
        table.add_row("violations", "; ".join(payload["violations"]))
    Console().print(table)


@app.command()
def generate(
    problem: str = typer.Argument(..., help=PROBLEM_HELP),
    size: str = typer.Option(
        ..., "--size", "-n",
        help="Instance size: nodes, customers, items, set-cover rows, auction bids; or a name "
        "(easy, medium, hard) for the milp generators of Gasse et al.",
    ),
    count: int = typer.Option(1, "--count", "-k", help="Number of instances."),
    seed: int = typer.Option(0, "--seed", help="Seed; instance i uses the seed pair (seed, i)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory (created if missing)."),
    kind: Optional[str] = typer.Option(
        None, "--kind", help="Generator name; default the problem's first (milp: setcover, cauctions, facility, indset)."
    ),
    option: list[str] = typer.Option([], "--option", "-O", help="Generator option as key=value (repeatable)."),
) -> None:
    """Write seeded random instances in the problem's standard format."""
    from coptim import problems

    prob = problems.get(problem)
    if not prob.generators:
        raise InputError(f"{problem} has no generators")
    kind = kind or next(iter(prob.generators))
    if kind not in prob.generators:
        raise InputError(f"unknown generator {kind!r} for {problem}; choose one of {', '.join(prob.generators)}")
    number = prob.size_of(kind, size)
    if count < 1:
        raise InputError(f"--count must be at least 1, got {count}")
    options = _parse_options(option)
    _check_options(prob.generators[kind], options, f"generator {kind!r}")
    _, written = problems.generate_files(prob, kind, number, count, seed, out, options=options,
                                         progress=count >= 20, console=_stderr_console())
    typer.echo(f"wrote {written} {problem} instance(s) to {out} ({count - written} already there)", err=True)


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


@app.command()
def bench(
    problem: str = typer.Argument(..., help=PROBLEM_HELP),
    instances: str = typer.Option(..., "--instances", "-i", help="A directory, a glob, a file or a suite name."),
    solvers_: str = typer.Option(..., "--solvers", "-s", help="Comma-separated solver names."),
    time_limit: float = typer.Option(10.0, "--time-limit", "-t", help="Time limit per run in seconds."),
    seeds: int = typer.Option(1, "--seeds", help="Number of seeds per instance and solver (0..K-1)."),
    workers: int = typer.Option(1, "--workers", "-w", help="Parallel worker processes."),
    out: Path = typer.Option(..., "--out", "-o", help="Results CSV; rows already there are skipped."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Directory for PNG plots."),
    backend: str = typer.Option("local", "--backend", help="local (process pool) or ray."),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster address (with --backend ray)."),
    option: list[str] = typer.Option([], "--option", "-O", help="Solver option as key=value, for every solver."),
) -> None:
    """Run instances x solvers x seeds, append rows to a CSV and print a summary per solver."""
    from coptim import bench as bench_mod
    from coptim import instances as inst_mod

    paths = inst_mod.resolve(instances, problem)
    names = [s.strip() for s in solvers_.split(",") if s.strip()]
    bench_mod.run_bench(
        problem, paths, names, time_limit=time_limit, seeds=seeds, workers=workers, out=out,
        backend=backend, address=address, plot_dir=plot, options=_parse_options(option) or None,
    )


@app.command("solvers")
def list_solvers(
    problem: Optional[str] = typer.Argument(None, help="Only this problem's solvers."),
) -> None:
    """List the registered solvers with their options."""
    from rich.console import Console
    from rich.table import Table

    from coptim import problems, solvers

    if problem is not None:
        problems.get(problem)
    table = Table("problem", "solver", "exact", "options", "description")
    for spec in solvers.available(problem):
        table.add_row(spec.problem, spec.name, "yes" if spec.exact else "", ", ".join(spec.options), spec.description)
    Console().print(table)


def _mount_subcommands() -> None:
    from coptim.branching.cli import app as branching_app
    from coptim.inventory.cli import app as inventory_app
    from coptim.train_cli import train as train_command

    app.command("train")(train_command)
    app.add_typer(inventory_app, name="inventory", help="Inventory networks: simulate, train (HDPO) and evaluate policies.")
    app.add_typer(branching_app, name="branching",
                  help="Learned branching inside SCIP (Gasse et al. 2019): collect expert samples, train, branch.")


_mount_subcommands()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``coptim`` script; exits with 0, 1 or 2."""
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="coptim", standalone_mode=False)
    except typer.TyperException as exc:  # usage errors (exit 2) and other CLI errors
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            print(f"coptim: error: {exc.format_message()}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("coptim: aborted", file=sys.stderr)
        sys.exit(1)
    except InputError as exc:
        print(f"coptim: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("coptim: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # an internal error: say so, traceback only on request
        if os.environ.get("COPTIM_DEBUG"):
            raise
        print(f"coptim: internal error: {type(exc).__name__}: {exc} (set COPTIM_DEBUG=1 for a traceback)",
              file=sys.stderr)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
