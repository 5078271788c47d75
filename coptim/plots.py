"""Benchmark figures: gap against time per solver, and drawings of TSP tours and CVRP routes.

matplotlib is imported inside the functions, with the non-interactive Agg backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from coptim.errors import InputError

#: Problems whose solutions :func:`draw_solution` can draw.
DRAWABLE = ("tsp", "cvrp")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def gap_vs_time(df: Any, path: str | Path) -> bool:
    """Scatter every run's gap against its time, one colour per solver, with each solver's mean.

    Parameters
    ----------
    df
        Results rows (columns ``solver``, ``time_s``, ``gap_pct``, ``feasible``), as from
        :func:`coptim.bench.read_results`.
    path
        PNG file to write.

    Returns
    -------
    bool
        False (and nothing written) when no feasible run has a gap.
    """
    import pandas as pd

    rows = df[df["feasible"].astype(bool)].copy()
    rows["gap_pct"] = pd.to_numeric(rows["gap_pct"], errors="coerce")
    rows["time_s"] = pd.to_numeric(rows["time_s"], errors="coerce")
    rows = rows.dropna(subset=["gap_pct", "time_s"])
    if rows.empty:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    try:
        colours = plt.get_cmap("tab10")
        for i, (solver, group) in enumerate(rows.groupby("solver", sort=False)):
            colour = colours(i % 10)
            ax.scatter(group["time_s"], group["gap_pct"], s=14, alpha=0.45, color=colour, linewidths=0)
            ax.scatter([group["time_s"].mean()], [group["gap_pct"].mean()], s=90, marker="D", color=colour,
                       edgecolors="black", label=f"{solver} (mean of {len(group)})", zorder=3)
        times = rows["time_s"]
        if times.min() > 0 and times.max() / times.min() > 20:
            ax.set_xscale("log")
        ax.axhline(0.0, color="grey", linewidth=0.8, zorder=0)
        ax.set_xlabel("time per run (s)")
        ax.set_ylabel("gap to reference (%)")
        prefix = f"{rows['problem'].iloc[0]}: " if "problem" in rows else ""
        ax.set_title(f"{prefix}gap vs time over {rows['instance'].nunique()} instance(s)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="best")
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return True


def draw_solution(problem: str, instance: Any, solution: Any, path: str | Path) -> None:
    """Draw a TSP tour or CVRP routes over the instance's coordinates.

    Parameters
    ----------
    problem
        ``"tsp"`` or ``"cvrp"``.
    instance
        The instance; needs ``coords`` (an ``(n, 2)`` array; for CVRP the depot is row 0).
    solution
        TSP: the tour as a sequence of node indices. CVRP: a list of routes, each a
        sequence of customer indices (the depot not written).
    path
        PNG file to write.

    Raises
    ------
    InputError
        For another problem, or an instance without coordinates (explicit distances).
    """
    if problem not in DRAWABLE:
        raise InputError(f"cannot draw {problem} solutions; only {', '.join(DRAWABLE)}")
    coords = getattr(instance, "coords", None)
    if coords is None:
        name = getattr(instance, "name", "the instance")
        raise InputError(f"{name} has no coordinates (explicit distances), so its solution cannot be drawn")
    xy = np.asarray(coords, dtype=float)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 6.5), dpi=120)
    try:
        if problem == "tsp":
            _draw_tour(ax, xy, solution)
        else:
            _draw_routes(ax, xy, solution, plt)
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xticks([])
        ax.set_yticks([])
        name = getattr(instance, "name", "")
        ax.set_title(f"{problem.upper()} {name}".strip())
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)


def _draw_tour(ax: Any, xy: np.ndarray, tour: Any) -> None:
    order = np.asarray(list(tour), dtype=int)
    closed = np.append(order, order[:1])
    ax.plot(xy[closed, 0], xy[closed, 1], "-", color="tab:blue", linewidth=1.0)
    ax.scatter(xy[:, 0], xy[:, 1], s=8, color="black", zorder=3)
    ax.scatter(xy[order[:1], 0], xy[order[:1], 1], s=50, marker="s", color="tab:red", zorder=4,
               label="start")
    ax.legend(fontsize=8, loc="best")
    ax.set_xlabel(f"{len(order)} nodes")


def _draw_routes(ax: Any, xy: np.ndarray, routes: Any, plt: Any) -> None:
    routes = [list(r) for r in getattr(routes, "routes", routes) if len(r)]
    cmap = plt.get_cmap("tab20")
    for i, route in enumerate(routes):
        stops = np.array([0, *route, 0], dtype=int)
        ax.plot(xy[stops, 0], xy[stops, 1], "-", color=cmap(i % 20), linewidth=1.1)
        ax.scatter(xy[stops[1:-1], 0], xy[stops[1:-1], 1], s=10, color=cmap(i % 20), zorder=3)
    ax.scatter(xy[:1, 0], xy[:1, 1], s=120, marker="*", color="black", zorder=4, label="depot")
    ax.legend(fontsize=8, loc="best")
    served = sum(len(r) for r in routes)
    ax.set_xlabel(f"{len(routes)} routes, {served} customers")

