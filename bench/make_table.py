"""Turn benchmark CSVs into the markdown results table of the README (and gap-vs-time figures).

Usage::

    .venv/bin/python bench/make_table.py bench/results/*.csv [--out table.md] [--plots DIR]

Each CSV holds one suite (its file name is the suite name, as the bench scripts write them).
There is one table row per suite, solver, solver options and time limit: runs, feasible runs,
mean and max gap to the reference in percent (over feasible runs), and the shifted geometric
mean of the run time (shift 1 s). Reference values are proven optima unless a note under the
table says how many are best-known values.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from coptim import bench, instances, problems
from coptim import solvers as _solvers
from coptim.errors import InputError


def _fmt(value: float, spec: str) -> str:
    return "–" if value is None or not math.isfinite(value) else format(value, spec)


def _seconds(value: float) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return "< 0.01" if value < 0.01 else format(value, ".3g")


def _label(solver: str, options: str) -> str:
    """``scip`` or ``scip branching=pscost`` (options from their JSON text)."""
    if not options:
        return solver
    pairs = json.loads(options)
    return solver + " " + " ".join(f"{k}={v}" for k, v in pairs.items())


def _order(path: Path, df) -> tuple[int, int, str]:
    known = list(instances.suites())
    problem = str(df["problem"].iloc[0]) if len(df) else ""
    p = problems.names().index(problem) if problem in problems.names() else 99
    s = known.index(path.stem) if path.stem in known else 99
    return (p, s, path.stem)


def make_table(paths: list[Path], plot_dir: Path | None = None) -> str:
    """The markdown table (with notes) for the result files ``paths``.

    Parameters
    ----------
    paths
        Results CSVs written by ``coptim bench``, one suite each.
    plot_dir
        If given, write ``<suite>_gap_vs_time.png`` there for each file.

    Returns
    -------
    str
        Markdown text ending with a newline.
    """
    from coptim import plots

    tables = [(p, bench.read_results(p)) for p in paths]
    tables = sorted((t for t in tables if len(t[1])), key=lambda t: _order(*t))
    lines = [
        "| problem | suite (instances) | solver | time limit | runs | feasible | proved optimal "
        "| mean gap % | max gap % | time s (SGM) |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    notes = []
    for path, df in tables:
        suite = path.stem
        summary = bench.summarize(df, by=("solver", "options", "time_limit"))
        n = df["instance"].nunique()
        problem = df["problem"].iloc[0]
        for rec in summary.to_dict("records"):
            runs = df[(df["solver"] == rec["solver"]) & (df["options"].fillna("") == (rec["options"] or ""))
                      & (df["time_limit"] == rec["time_limit"])]
            exact = _solvers.get(problem, rec["solver"]).exact
            optimal = str(int((runs["status"] == "optimal").sum())) if exact else "–"
            lines.append(
                f"| {problem} | {suite} ({n}) | {_label(rec['solver'], rec['options'])} | {rec['time_limit']:g} s "
                f"| {rec['runs']} | {rec['feasible']} | {optimal} | {_fmt(rec['mean_gap_pct'], '.2f')} "
                f"| {_fmt(rec['max_gap_pct'], '.2f')} | {_seconds(rec['sgm_time_s'])} |"
            )
        kinds = [instances.reference(p) for p in df["path"].unique()]
        bks = sum(1 for k in kinds if k is not None and k[1] == "bks")
        missing = sum(1 for k in kinds if k is None)
        if bks:
            notes.append(f"{suite}: {bks} of {n} reference values are best-known values, not proven optima.")
        if missing:
            notes.append(f"{suite}: {missing} of {n} instances have no reference value (no gap).")
        if plot_dir is not None:
            plot_dir.mkdir(parents=True, exist_ok=True)
            labelled = df.assign(solver=[f"{_label(s, o)} @{t:g}s"
                                         for s, o, t in zip(df["solver"], df["options"], df["time_limit"])])
            plots.gap_vs_time(labelled, plot_dir / f"{suite}_gap_vs_time.png")
    lines.append("")
    lines.append("Gap: (objective - reference) / reference in percent, worse is positive, over feasible runs. "
                 "Proved optimal: runs of an exact solver that ended with a proof of optimality. "
                 f"Time: shifted geometric mean of the run times, shift {bench.TIME_SHIFT:g} s.")
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Markdown results table from coptim bench CSVs.")
    parser.add_argument("csv", nargs="+", type=Path, help="results files, one suite each")
    parser.add_argument("--out", type=Path, help="write the table here instead of printing it")
    parser.add_argument("--plots", type=Path, help="folder for one gap-vs-time figure per suite")
    args = parser.parse_args(argv)
    try:
        text = make_table(args.csv, args.plots)
    except InputError as exc:
        print(f"make_table: error: {exc}", file=sys.stderr)
        return 2
    if args.out:
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
