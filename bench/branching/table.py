"""Branching-rule comparison table (Gasse et al. 2019, Table 2 style) from ``coptim bench milp`` CSVs.

Usage::

    .venv/bin/python bench/branching/table.py bench/results/branching/*.csv [--out table.md]

Every row of the CSVs is one SCIP run; its rule is the ``branching`` solver option (``relpscost``,
``pscost``, ``learned:setcover-easy``, ...; no option means SCIP's default ``relpscost``), labelled with
any other solver options (``params={...}``) so that runs with other settings stay apart. Runs are
grouped by instance class: the name of the folder holding the instance (``setcover-500``, ...).
Per class and rule:

* **time**: 1-shifted geometric mean of the run time over all runs (a run stopped by the time
  limit counts with its time: at least the limit);
* **nodes**: 1-shifted geometric mean of the branch-and-bound nodes over the (instance, seed)
  pairs solved to optimality by *every* rule of the class (so that all rules are measured on the
  same solves);
* **wins**: (instance, seed) pairs on which the rule was the fastest of the rules that proved
  optimality (ties: every tied rule wins);
* **solved**: runs that ended ``optimal``, out of all runs; **errors**: runs that failed;
* **open gap**: mean over the runs stopped by the time limit with an incumbent of the relative
  primal-dual gap at the limit, ``|dual bound - objective| / |objective|`` in percent (for classes
  that no rule solves within the limit, where time and wins say nothing), and in brackets on how
  many (instance, seed) pairs that every rule left open the rule's gap was the smallest.

Check: for each instance, every run that ended ``optimal`` must report the same objective (to a
relative 1e-6); otherwise the disagreeing runs are listed and the script exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from coptim import bench
from coptim.errors import InputError

#: Relative tolerance of the optimal-value check.
TOLERANCE = 1e-6
DEFAULT_RULE = "relpscost"


def rule_of(solver: str, options: str) -> tuple[str, str]:
    """``(scip:<rule>, other options)`` of a run (``relpscost`` when there is no ``branching`` option)."""
    opts = json.loads(options) if isinstance(options, str) and options else {}
    label = f"scip:{opts.pop('branching', DEFAULT_RULE)}" if solver == "scip" else solver
    extra = " ".join(f"{k}={json.dumps(v, sort_keys=True, separators=(',', ':')) if isinstance(v, dict) else v}"
                     for k, v in sorted(opts.items()))
    return label, extra


def _sgm(values) -> float:
    return bench.shifted_geometric_mean(values, shift=1.0)


def _fmt(value: float, spec: str) -> str:
    return "–" if value is None or not math.isfinite(value) else format(value, spec)


def load(paths: list[Path]):
    """All rows of the CSVs with ``rule`` and ``class`` columns."""
    import pandas as pd

    frames = [bench.read_results(p) for p in paths]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if df.empty:
        raise InputError("no runs in the results files")
    df = df[df["problem"] == "milp"].copy()
    if df.empty:
        raise InputError("no MILP runs in the results files")
    labels = [rule_of(s, o) for s, o in zip(df["solver"], df["options"])]
    extras = {extra for _, extra in labels}
    # options shared by every run go to a note (df.attrs); otherwise they label the rows
    df["rule"] = [rule if len(extras) == 1 or not extra else f"{rule} {extra}" for rule, extra in labels]
    df.attrs["common_options"] = next(iter(extras)) if len(extras) == 1 else ""
    df["class"] = [Path(p).parent.name for p in df["path"]]
    # one row per (path, rule, seed, time limit): a run repeated across files counts once
    return df.drop_duplicates(subset=["path", "rule", "seed", "time_limit"], keep="last")


def check_optima(df) -> list[str]:
    """Instances whose optimal runs disagree on the objective, as one line each."""
    problems = []
    opt = df[df["status"] == "optimal"]
    for path, group in opt.groupby("path", sort=True):
        values = group["objective"].astype(float)
        lo, hi = float(values.min()), float(values.max())
        if hi - lo > TOLERANCE * max(1.0, abs(lo), abs(hi)):
            detail = ", ".join(f"{r} s{s}: {v:.10g}" for r, s, v in zip(group["rule"], group["seed"], values))
            problems.append(f"{Path(path).name}: optimal values differ ({detail})")
    return problems


def _open_gaps(runs):
    """Relative primal-dual gaps (percent) of the time-limited runs with an incumbent, and how many had none."""
    import pandas as pd

    limited = runs[runs["status"] == "time_limit"]
    obj = pd.to_numeric(limited["objective"], errors="coerce")
    bound = pd.to_numeric(limited.get("dual_bound", pd.Series(index=limited.index, dtype=float)), errors="coerce")
    ok = obj.notna() & bound.notna() & (obj.abs() > 0)
    return 100 * (bound[ok] - obj[ok]).abs() / obj[ok].abs(), int((~ok).sum())


def _open_gap(runs, lowest: int | None) -> str:
    """The open-gap cell: mean gap, pairs where the rule's gap was the smallest, runs without incumbent."""
    if not (runs["status"] == "time_limit").any():
        return "–"
    gaps, missing = _open_gaps(runs)
    text = _fmt(float(gaps.mean()), ".2f") if len(gaps) else "–"
    notes = ([f"{lowest} lowest"] if lowest is not None else []) + ([f"{missing} without incumbent"] if missing else [])
    return f"{text} ({', '.join(notes)})" if notes else text


def _lowest_gaps(group, rules: list[str], key: list[str]) -> dict[str, int] | None:
    """Per rule, the (instance, seed) pairs every rule left open with an incumbent on which its gap was the
    smallest (ties: every tied rule); None when there is no such pair."""
    gaps, _ = _open_gaps(group)
    limited = group.loc[gaps.index].assign(gap=gaps)
    lowest, pairs = dict.fromkeys(rules, 0), 0
    for _, runs in limited.groupby(key):
        if runs["rule"].nunique() < len(rules):
            continue
        pairs += 1
        for r in runs.loc[runs["gap"] == runs["gap"].min(), "rule"]:
            lowest[r] += 1
    return lowest if pairs else None


def table(df) -> str:
    """The markdown table (one row per class and rule) and the check's verdict."""
    lines = ["| class | rule | time limit | runs | solved | errors | time s (SGM) | nodes (SGM, all solved) | wins "
             "| open gap % (mean, limited runs) |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    notes = []
    for cls, group in df.groupby("class", sort=True):
        rules = list(dict.fromkeys(group["rule"]))
        key = ["path", "seed", "time_limit"]
        solved = group[group["status"] == "optimal"]
        # pairs solved by every rule of the class
        counts = solved.groupby(key)["rule"].nunique()
        common = set(counts[counts == len(rules)].index)
        # wins: fastest optimal run per (instance, seed)
        wins = dict.fromkeys(rules, 0)
        for _, runs in solved.groupby(key):
            best = runs["time_s"].astype(float).min()
            for r in runs.loc[runs["time_s"].astype(float) == best, "rule"]:
                wins[r] += 1
        n_inst = group["path"].nunique()
        lowest = _lowest_gaps(group, rules, key)
        for rule in rules:
            runs = group[group["rule"] == rule]
            mine = solved[solved["rule"] == rule]
            in_common = [tuple(k) in common for k in mine[key].itertuples(index=False)]
            nodes = mine.loc[in_common, "nodes"].astype(float) if len(mine) else []
            limits = sorted(runs["time_limit"].unique())
            lines.append(
                f"| {cls} ({n_inst}) | {rule} | {'/'.join(f'{t:g}' for t in limits)} s | {len(runs)} | {len(mine)} "
                f"| {int((runs['status'] == 'error').sum())} | {_fmt(_sgm(runs['time_s'].astype(float)), '.3g')} "
                f"| {_fmt(_sgm(nodes), '.0f')} | {wins[rule]} | {_open_gap(runs, None if lowest is None else lowest[rule])} |")
        notes.append(f"{cls}: {len(common)} (instance, seed) pairs solved to optimality by all {len(rules)} rules")
    lines.append("")
    lines.append("Time: 1-shifted geometric mean over all runs (time-limited runs at their time). Nodes: 1-shifted "
                 "geometric mean over the (instance, seed) pairs every rule solved. Wins: fastest optimal run per "
                 "(instance, seed). Open gap: mean |dual bound - objective| / |objective| of the time-limited runs "
                 "(lowest: pairs every rule left open on which this rule's gap was the smallest).")
    if df.attrs.get("common_options"):
        notes.append(f"every run: {df.attrs['common_options']}")
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Branching-rule comparison from coptim bench milp CSVs.")
    parser.add_argument("csv", nargs="+", type=Path, help="results files of bench/branching/bench.sh")
    parser.add_argument("--out", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    try:
        df = load(args.csv)
        text = table(df)
    except InputError as exc:
        print(f"table: error: {exc}", file=sys.stderr)
        return 2
    bad = check_optima(df)
    n = df[df["status"] == "optimal"]["path"].nunique()
    if bad:
        text += "\n**Optimal values disagree:**\n" + "".join(f"- {b}\n" for b in bad)
    else:
        text += f"\nCheck: every optimal run reports the same objective on each of the {n} instance(s) solved.\n"
    sys.stdout.write(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
