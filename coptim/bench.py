"""The benchmark runner: instances x solvers x seeds, one CSV row per run, a summary at the end.

:func:`run_bench` does everything the ``coptim bench`` command needs. Each run reads its
instance in the worker, calls :func:`coptim.solvers.solve` and comes back as one row with
the columns of :data:`COLUMNS`. Rows are appended to the results CSV as runs finish (flushed
and synced), so a killed benchmark loses at most the runs in progress; started again with
the same ``out`` file, it skips every run already there: same instance path, solver, solver
options, seed and time limit (see :class:`Key`).
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import math
import os
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, NamedTuple

from coptim import instances as _instances
from coptim import parallel, plots, problems
from coptim import solvers as _solvers
from coptim.errors import InputError

COLUMNS = ("problem", "instance", "path", "solver", "options", "seed", "time_limit", "objective", "feasible",
           "status", "time_s", "reference", "gap_pct", "nodes", "dual_bound", "error")

#: Shift (seconds) of the shifted geometric mean of run times in the summary.
TIME_SHIFT = 1.0


class Key(NamedTuple):
    """The identity of a run in the results file: a run with the same key is not run again."""

    path: str
    solver: str
    options: str
    seed: int
    time_limit: float


def options_text(options: dict[str, Any]) -> str:
    """Solver options as they appear in the ``options`` column: compact sorted JSON, or ``""``."""
    return json.dumps(options, sort_keys=True, separators=(",", ":"), default=str) if options else ""


@dataclass(frozen=True)
class Job:
    """One run of the grid, sent to a worker.

    Parameters
    ----------
    problem, path, solver, seed, time_limit
        What to run. ``path`` is absolute.
    reference
        The instance's reference value, if known (looked up once, in the main process).
    options
        Solver options, as sorted ``(name, value)`` pairs.
    modules
        Modules to import in the worker first: those defining the solver and the problem,
        so that solvers registered outside coptim's own modules exist in worker processes.
    keep_solution
        Return the solution too (used to draw one solution).
    """

    problem: str
    path: str
    solver: str
    seed: int
    time_limit: float
    reference: float | None = None
    options: tuple[tuple[str, Any], ...] = ()
    modules: tuple[str, ...] = ()
    keep_solution: bool = False

    @property
    def key(self) -> Key:
        """The identity of the run in the results file."""
        return Key(self.path, self.solver, options_text(dict(self.options)), self.seed, float(self.time_limit))


@dataclass(frozen=True)
class JobOutput:
    """A finished run: its CSV row and, when asked for, its solution."""

    row: dict[str, Any]
    solution: Any = field(default=None, compare=False)


def run_job(job: Job) -> JobOutput:
    """Run one job: read the instance, solve it, and build its row (errors become rows).

    Parameters
    ----------
    job
        The run.

    Returns
    -------
    JobOutput
        ``row["status"]`` is ``"error"`` with ``row["error"]`` set when anything raised.
    """
    row = _base_row(job)
    start = time.perf_counter()
    try:
        for module in job.modules:
            importlib.import_module(module)
        prob = problems.get(job.problem)
        instance = prob.read(job.path)
        result = _solvers.solve(job.problem, instance, job.solver, time_limit=job.time_limit, seed=job.seed,
                                instance_name=row["instance"], **dict(job.options))
    except Exception as exc:  # one failed run is one error row
        row.update(status="error", feasible=False, time_s=time.perf_counter() - start, error=_one_line(exc))
        return JobOutput(row)
    objective = result.objective if result.feasible else None
    row.update(
        objective=result.objective,
        feasible=bool(result.feasible),
        status=result.status,
        time_s=result.time_s,
        gap_pct=problems.gap_percent(objective, job.reference, prob.sense_of(instance)),
        nodes=result.nodes,
        dual_bound=result.dual_bound,
    )
    return JobOutput(row, result.solution if job.keep_solution else None)


def _base_row(job: Job) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(problem=job.problem, instance=_instances.instance_name(job.path), path=job.path, solver=job.solver,
               options=options_text(dict(job.options)), seed=job.seed, time_limit=float(job.time_limit),
               reference=job.reference, feasible=False)
    return row


def _one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())


# ----------------------------------------------------------------------------- validation


def _check_args(problem: str, paths: Sequence[Path], solver_names: Sequence[str], time_limit: float, seeds: int,
                workers: int, backend: str, address: str | None, options: dict[str, Any]) -> list[_solvers.SolverSpec]:
    problems.get(problem)
    if not solver_names:
        raise InputError("give at least one solver")
    specs = [_solvers.get(problem, name) for name in dict.fromkeys(solver_names)]
    if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)) \
            or not math.isfinite(time_limit) or time_limit <= 0:
        raise InputError(f"time limit must be a positive number of seconds, got {time_limit!r}")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise InputError(f"seeds must be a positive integer (runs use seeds 0..seeds-1), got {seeds!r}")
    parallel.check_args(workers, backend, address)
    if not paths:
        raise InputError("no instances to run")
    for path in paths:
        if not Path(path).is_file():
            raise InputError("instance file not found", path)
    for spec in specs:
        unknown = set(options) - set(spec.options)
        if unknown:
            allowed = ", ".join(spec.options) or "none"
            raise InputError(f"solver {spec.name!r} has no option {', '.join(sorted(unknown))}; its options: {allowed}")
    return specs


# ----------------------------------------------------------------------------- results file


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return value


def _format_line(row: dict[str, Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([_cell(row.get(c)) for c in COLUMNS])
    return buf.getvalue()


def _key_of(fields: dict[str, str]) -> Key:
    return Key(fields["path"], fields["solver"], fields["options"], int(fields["seed"]), float(fields["time_limit"]))


def write_atomic(path: Path, fill: Callable[[Any], None], binary: bool = False) -> None:
    """Write a file through a temporary file in the same folder: ``fill(f)`` writes it, then fsync, rename.

    A crash leaves either the old file or the new one, never a part (the temporary file ends in ``.tmp``).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with (os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="")) as f:
            fill(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`write_atomic`)."""
    write_atomic(path, lambda f: f.write(text))


def prepare_results(out: Path) -> set[Key]:
    """Make ``out`` a valid results file and return the keys of the runs it holds.

    A missing or empty file gets the header. An incomplete last line (a run killed while
    being written) is dropped and the file rewritten atomically.

    Parameters
    ----------
    out
        The results CSV.

    Returns
    -------
    set of Key

    Raises
    ------
    InputError
        If ``out`` is a folder, has another header, or has a malformed line before the last.
    """
    out = Path(out)
    if out.is_dir():
        raise InputError("the results file is a folder; give a .csv file name", out)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = _format_line(dict(zip(COLUMNS, COLUMNS)))
    text = out.read_bytes().decode("utf-8", errors="replace") if out.exists() else ""
    # Split on "\n" only: a field never holds a line break, but may hold other odd characters.
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    if not lines[-1]:
        lines.pop()
    if not lines or not lines[0].endswith("\n"):
        write_text_atomic(out, header)
        return set()
    if lines[0] != header:
        raise InputError("the file exists with a different header, so it is not a coptim bench results file; "
                         "choose another output file", out, 1)
    keep, done = [lines[0]], set()
    for number, line in enumerate(lines[1:], start=2):
        last = number == len(lines)
        if not line.strip():
            continue
        fields = next(csv.reader([line]))
        complete = line.endswith("\n") and len(fields) == len(COLUMNS)
        if complete:
            try:
                done.add(_key_of(dict(zip(COLUMNS, fields))))
            except ValueError:
                complete = False
        if not complete:
            if last:
                continue  # a run cut off while being written: drop it
            raise InputError("malformed results line (not the last one, so not a cut-off write)", out, number)
        keep.append(line)
    if len(keep) != len(lines):
        write_text_atomic(out, "".join(keep))
    return done


def read_results(path: str | Path) -> Any:
    """The rows of a results CSV as a pandas DataFrame (empty cells are NaN).

    Raises
    ------
    InputError
        If the file is missing or lacks the result columns.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise InputError("results file not found", path)
    df = pd.read_csv(path, dtype={"problem": str, "instance": str, "path": str, "solver": str, "options": str,
                                  "status": str, "error": str}, keep_default_na=False,
                     na_values={c: [""] for c in COLUMNS if c != "options"})
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"not a coptim results file: no column(s) {', '.join(missing)}", path, 1)
    df["feasible"] = df["feasible"].astype(str).str.lower().eq("true")
    return df


# ----------------------------------------------------------------------------- summary


def shifted_geometric_mean(values: Iterable[float], shift: float = TIME_SHIFT) -> float:
    """``exp(mean(log(v + shift))) - shift``; NaN for no values."""
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not vals:
        return math.nan
    return math.exp(sum(math.log(max(v, 0.0) + shift) for v in vals) / len(vals)) - shift


def summarize(df: Any, by: Sequence[str] = ("solver",)) -> Any:
    """Per-group figures of a results table.

    Parameters
    ----------
    df
        Rows as from :func:`read_results`.
    by
        Grouping columns.

    Returns
    -------
    pandas.DataFrame
        One row per group, in order of first appearance, with ``runs``, ``feasible`` (count),
        ``errors`` (count), ``mean_gap_pct`` and ``max_gap_pct`` (over the feasible runs with a
        reference; NaN if none) and ``sgm_time_s`` (shifted geometric mean of ``time_s`` over
        all runs, shift :data:`TIME_SHIFT` s).
    """
    import pandas as pd

    records = []
    for keys, group in df.groupby(list(by), sort=False, dropna=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        gaps = pd.to_numeric(group["gap_pct"], errors="coerce")
        gaps = gaps[group["feasible"].astype(bool)].dropna()
        records.append({
            **dict(zip(by, keys)),
            "runs": len(group),
            "feasible": int(group["feasible"].astype(bool).sum()),
            "errors": int((group["status"] == "error").sum()),
            "mean_gap_pct": float(gaps.mean()) if len(gaps) else math.nan,
            "max_gap_pct": float(gaps.max()) if len(gaps) else math.nan,
            "sgm_time_s": shifted_geometric_mean(pd.to_numeric(group["time_s"], errors="coerce")),
        })
    columns = [*by, "runs", "feasible", "errors", "mean_gap_pct", "max_gap_pct", "sgm_time_s"]
    return pd.DataFrame.from_records(records, columns=columns)


def _print_summary(summary: Any, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, caption=f"gaps over feasible runs with a reference; time: shifted geometric mean "
                                       f"(shift {TIME_SHIFT:g} s)")
    for col, label in (("solver", "solver"), ("runs", "runs"), ("feasible", "feasible"), ("errors", "errors"),
                       ("mean_gap_pct", "mean gap %"), ("max_gap_pct", "max gap %"), ("sgm_time_s", "time s")):
        table.add_column(label, justify="left" if col == "solver" else "right")
    for rec in summary.to_dict("records"):
        table.add_row(str(rec["solver"]), str(rec["runs"]), str(rec["feasible"]), str(rec["errors"]),
                      _fmt(rec["mean_gap_pct"]), _fmt(rec["max_gap_pct"]), _fmt(rec["sgm_time_s"], ".3g"))
    Console().print(table)


def _fmt(value: float, spec: str = ".2f") -> str:
    return "-" if value is None or not math.isfinite(value) else format(value, spec)


# ----------------------------------------------------------------------------- the benchmark


def run_bench(
    problem: str,
    instances: Sequence[str | Path],
    solvers: Sequence[str],
    *,
    time_limit: float,
    seeds: int = 1,
    workers: int = 1,
    out: str | Path,
    backend: str = "local",
    address: str | None = None,
    plot_dir: str | Path | None = None,
    progress: bool = True,
    options: dict[str, Any] | None = None,
) -> Any:
    """Run every solver on every instance with seeds ``0..seeds-1`` and summarise.

    Parameters
    ----------
    problem
        Problem name.
    instances
        Instance files (see :func:`coptim.instances.resolve` to turn a suite, folder or
        glob into files).
    solvers
        Solver names registered for ``problem``.
    time_limit
        Seconds per run.
    seeds
        Number of seeds per (instance, solver).
    workers
        Runs at the same time; 1 runs in this process.
    out
        Results CSV. Existing runs in it are kept and skipped (resume).
    backend, address
        See :func:`coptim.parallel.run`.
    plot_dir
        If given, write ``<problem>_gap_vs_time.png`` and, for TSP and CVRP, a drawing of
        the best solution found for the first instance.
    progress
        Show a progress bar (on stderr).
    options
        Solver options, passed to every solver (each must accept all of them).

    Returns
    -------
    pandas.DataFrame
        The summary per solver over this grid's rows (old and new), see :func:`summarize`.
        It is also printed as a table.

    Raises
    ------
    InputError
        On an unknown problem or solver, a non-positive time limit, seeds or workers,
        a missing instance file, an option a solver does not take, or an unusable ``out``
        file; all checked before any run starts.
    """
    options = dict(options or {})
    paths = list(dict.fromkeys(str(Path(p).resolve()) for p in instances))
    specs = _check_args(problem, paths, solvers, time_limit, seeds, workers, backend, address, options)
    if plot_dir is not None and Path(plot_dir).exists() and not Path(plot_dir).is_dir():
        raise InputError("the plot folder is a file", plot_dir)
    prob = problems.get(problem)
    modules = tuple(dict.fromkeys(m for m in (prob.read.__module__, *(s.fn.__module__ for s in specs))
                                  if m and m != "__main__"))
    keep = plot_dir is not None and problem in plots.DRAWABLE
    grid: list[Job] = []
    for path in paths:
        ref = _reference(path)
        for spec in specs:
            for seed in range(seeds):
                grid.append(Job(problem, path, spec.name, seed, float(time_limit), ref,
                                tuple(sorted(options.items())), modules,
                                keep_solution=keep and path == paths[0]))
    out = Path(out)
    done = prepare_results(out)
    todo = [job for job in grid if job.key not in done]
    solutions: dict[Key, Any] = {}
    with open(out, "a", encoding="utf-8", newline="") as f, _Progress(progress, len(todo), problem) as advance:
        for job, output in parallel.run(run_job, todo, workers=workers, backend=backend, address=address):
            if isinstance(output, BaseException):
                output = JobOutput({**_base_row(job), "status": "error", "error": _one_line(output)})
            f.write(_format_line(output.row))
            f.flush()
            os.fsync(f.fileno())
            if output.solution is not None:
                solutions[job.key] = output.solution
            advance(f"{output.row['instance']} {job.solver}")
    keys = {job.key for job in grid}
    df = read_results(out)
    df = df[[_row_key(r) in keys for r in df.to_dict("records")]]
    summary = summarize(df).set_index("solver").reindex([s.name for s in specs]).reset_index()
    summary[["runs", "feasible", "errors"]] = summary[["runs", "feasible", "errors"]].fillna(0).astype(int)
    skipped = len(grid) - len(todo)
    title = (f"{problem}: {len(paths)} instance(s) x {len(specs)} solver(s) x {seeds} seed(s), "
             f"time limit {time_limit:g} s" + (f" ({skipped} run(s) resumed from {out.name})" if skipped else ""))
    _print_summary(summary, title)
    if plot_dir is not None:
        try:
            _plots(problem, df, Path(plot_dir), paths[0], solutions, options)
        except Exception as exc:  # the results are saved; a figure must not turn the run into a failure
            from rich.console import Console

            Console(stderr=True).print(f"could not draw the figures: {_one_line(exc)}")
    return summary


def _reference(path: str) -> float | None:
    found = _instances.reference(path)
    return None if found is None else found[0]


def _row_key(rec: dict[str, Any]) -> Key | None:
    try:
        return Key(str(rec["path"]), str(rec["solver"]), str(rec["options"]), int(rec["seed"]),
                   float(rec["time_limit"]))
    except (TypeError, ValueError):
        return None


class _Progress:
    """A rich progress bar on stderr (or nothing); ``advance(text)`` counts one run."""

    def __init__(self, show: bool, total: int, problem: str):
        self.show, self.total, self.problem = show, total, problem
        self.bar: Any = None

    def __enter__(self):
        if not self.show or self.total == 0:
            return lambda text: None
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[last]}"),
                            console=Console(stderr=True))
        self.bar.start()
        task = self.bar.add_task(f"bench {self.problem}", total=self.total, last="")
        return lambda text: self.bar.update(task, advance=1, last=text)

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.stop()


def _plots(problem: str, df: Any, plot_dir: Path, first: str, solutions: dict[Key, Any], options: dict) -> None:
    from rich.console import Console

    plot_dir.mkdir(parents=True, exist_ok=True)
    console = Console(stderr=True)
    target = plot_dir / f"{problem}_gap_vs_time.png"
    if plots.gap_vs_time(df, target):
        console.print(f"wrote {target}")
    else:
        console.print("no gap plot: no feasible run has a reference value")
    if problem not in plots.DRAWABLE:
        return
    rows = df[(df["path"] == first) & df["feasible"]]
    if rows.empty:
        console.print(f"no solution drawing: no feasible run on {_instances.instance_name(first)}")
        return
    prob = problems.get(problem)
    objective = rows["objective"].astype(float)
    instance = prob.read(first)
    best = rows.loc[objective.idxmin() if prob.sense_of(instance) == "min" else objective.idxmax()]
    key = _row_key(best.to_dict())
    solution = solutions.get(key)
    if solution is None:  # the best run was done before (resume): run it again here
        solution = _solvers.solve(problem, instance, key.solver, time_limit=key.time_limit, seed=key.seed,
                                  **options).solution
    target = plot_dir / f"{problem}_{_instances.instance_name(first)}_{key.solver}.png"
    try:
        plots.draw_solution(problem, instance, solution, target)
    except InputError as exc:
        console.print(f"no solution drawing: {exc}")
    else:
        console.print(f"wrote {target}")
