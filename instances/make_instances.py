"""Rebuild ``instances/`` and ``instances/manifest.csv`` from the benchmark data collection.

This is a maintenance tool, run by hand when the shipped set changes; coptim never runs it.
It copies the selected files unmodified (TSPLIB, CVRPLIB, MIPLIB), splits and converts the
knapsack files into one Pisinger block file per instance, checks every reference value it
can check cheaply, and writes the manifest.

Usage::

    python instances/make_instances.py SOURCE_DIR

where ``SOURCE_DIR`` holds ``tsplib/``, ``cvrplib/``, ``knapsack/``, ``miplib/`` and the
``SOURCES.md`` that records where each file came from.
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

COLUMNS = ("name", "problem", "path", "reference", "reference_kind", "size", "suites",
           "source", "licence", "solution", "rows", "cols")

TSPLIB_REPO = "mastqe/tsplib@775541365dc3f7f3cd6faa8d0e206036d2c45e0e"
PYVRP_REPO = "PyVRP/Instances@1445e12e99fc8c252994e45c902ed61db645fa58"
LKH3_REPO = "c4v4/LKH3@5bd63680970445d4a595ca2c966ac593b0b32ad1"
PISINGER_REPO = "MatiPino23/Problema_mochila@e46231807e2facbe164249f2dcdbc2af45357aac"
ORTEGA_REPO = "ttowzg/KnapsackProblem@38519d6d8d2f2321bc9d3deffc5c4df15f999ac0"

TSPLIB_LICENCE = "TSPLIB95 (G. Reinelt), public research benchmark; no licence file in the source repo"
X_LICENCE = "MIT (PyVRP/Instances); CVRPLIB data (Uchoa et al. 2017)"
ABEP_LICENCE = "CVRPLIB data; source repo (LKH-3 fork) states academic and non-commercial use"
PISINGER_LICENCE = "Pisinger's public benchmark; no licence file in the source repo"
ORTEGA_LICENCE = "public benchmark (instances_01_KP); no licence file in the source repo"
MIPLIB_LICENCES = {
    "coin-or-tools/Data-miplib3": "EPL (COIN-OR Data); MIPLIB 3 / MIPLIB 2017 data",
    "optimatika/ojAlgo": "MIT (ojAlgo repo); MIPLIB 2017 data",
    "ds4dm/ecole": "BSD-3-Clause (Ecole repo); MIPLIB 2017 data",
    "ERGO-Code/HiGHS": "MIT (HiGHS repo); MIPLIB 2017 data",
}

SMOKE = {
    "tsp": {"burma14", "ulysses16", "att48", "eil51", "berlin52", "gr17"},
    "cvrp": {"E-n13-k4", "P-n16-k8", "A-n32-k5", "X-n101-k25"},
    "knapsack": {"f1_l-d_kp_10_269", "f6_l-d_kp_10_60", "knapPI_1_50_1000_1", "knapPI_1_100_1000_1"},
    "milp": {"flugpl", "gr4x6", "gt2"},
}


def read_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV file (CRLF or LF)."""
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: v.strip() for k, v in row.items()} for row in csv.DictReader(f)]


def copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    dst.chmod(0o644)


def suites_for(problem: str, name: str, *base: str) -> str:
    names = list(base)
    if name in SMOKE[problem]:
        names.append(f"{problem}-smoke")
    return " ".join(names)


# ---------------------------------------------------------------------------------------------
# TSP


def build_tsp(src: Path, out: Path) -> list[dict]:
    rows = []
    for r in read_csv(src / "tsplib" / "optimal.csv"):
        n = int(r["dimension"])
        explicit = r["edge_weight_type"] == "EXPLICIT"
        if (explicit and n > 1000) or (not explicit and n > 1002):
            continue
        name = r["name"]
        if name == "linhp318":
            # lin318 with a FIXED_EDGES_SECTION (a Hamiltonian path problem): not a plain TSP.
            continue
        rel = f"tsp/tsplib/{name}.tsp"
        copy(src / "tsplib" / r["file"], out / rel)
        if explicit:
            base = ["tsplib-explicit"]
        else:
            base = (["tsplib-small"] if n <= 200 else []) + ["tsplib"]
        rows.append(dict(
            name=name, problem="tsp", path=rel, reference=r["optimal_length"], reference_kind="optimal",
            size=n, suites=suites_for("tsp", name, *base), source=f"{TSPLIB_REPO}/{name}.tsp",
            licence=TSPLIB_LICENCE,
        ))
    return rows


# ---------------------------------------------------------------------------------------------
# CVRP

ABEP_DIRS = {"A": "Augerat_A", "B": "Augerat_B", "E": "Eilon", "P": "Augerat_P"}


def sol_cost(path: Path) -> int:
    for line in path.read_text().splitlines():
        if line.strip().lower().startswith("cost"):
            return int(float(line.split()[1]))
    raise ValueError(f"{path}: no Cost line")


def build_cvrp(src: Path, out: Path) -> list[dict]:
    rows = []
    for r in read_csv(src / "cvrplib" / "bks.csv"):
        name, group, dim = r["name"], r["set"], int(r["dimension"])
        if group == "X" and dim > 401:
            continue
        rel = f"cvrp/{group}/{name}.vrp"
        copy(src / "cvrplib" / group / f"{name}.vrp", out / rel)
        if name == "E-n101-k14":
            # The LKH-3 copy labels this CVRPLIB instance "TYPE : OVRP"; its data and the
            # 1067 optimum are those of the closed CVRP, so only the label is corrected.
            text = (out / rel).read_text()
            assert text.count("TYPE : OVRP") == 1
            (out / rel).write_text(text.replace("TYPE : OVRP", "TYPE : CVRP"))
        solution = ""
        if group == "X":
            solution = f"cvrp/X/{name}.sol"
            copy(src / "cvrplib" / "X" / f"{name}.sol", out / solution)
            assert sol_cost(out / solution) >= int(r["bks"]), name
            base = (["x-small"] if dim <= 201 else []) + ["x"]
            source = f"{PYVRP_REPO}/CVRP/{name}.vrp"
            licence = X_LICENCE
        else:
            base = ["cvrp-abep"]
            source = f"{LKH3_REPO}/CVRP/INSTANCES/{ABEP_DIRS[group]}/{name}.vrp"
            licence = ABEP_LICENCE
        rows.append(dict(
            name=name, problem="cvrp", path=rel, reference=r["bks"],
            reference_kind="optimal" if r["optimal"] == "yes" else "bks",
            size=dim - 1, suites=suites_for("cvrp", name, *base), source=source, licence=licence,
            solution=solution,
        ))
    return rows


# ---------------------------------------------------------------------------------------------
# Knapsack


def pisinger_block(name: str, capacity: str, z: str, time: str, items: list[tuple[str, str, int]]) -> str:
    """One instance in Pisinger's block format (``items`` are (profit, weight, x) strings)."""
    lines = [name, f"n {len(items)}", f"c {capacity}", f"z {z}", f"time {time}"]
    lines += [f"{i},{p},{w},{x}" for i, (p, w, x) in enumerate(items, start=1)]
    lines.append("-----")
    return "\n".join(lines) + "\n"


def split_pisinger(path: Path) -> list[tuple[str, str]]:
    """(name, block text) for each instance of one of Pisinger's multi-instance CSV files."""
    blocks, current = [], []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("-----"):
            blocks.append(current)
            current = []
        elif line:
            current.append(line)
    if current:
        blocks.append(current)
    out = []
    for lines in blocks:
        name = lines[0]
        if name.startswith("napPI_"):  # the source misses the leading "k" of the first name
            name = "k" + name
        header = dict(line.split(maxsplit=1) for line in lines[1:5])
        items = [tuple(line.split(",")[1:4]) for line in lines[5:]]
        assert len(items) == int(header["n"]), name
        profit = sum(int(p) * int(x) for p, w, x in items)
        weight = sum(int(w) * int(x) for p, w, x in items)
        assert profit == int(header["z"]) and weight <= int(header["c"]), name
        out.append((name, pisinger_block(name, header["c"], header["z"], header["time"], items)))
    return out


def best_subset(values: list[float], weights: list[float], capacity: float) -> list[int]:
    """An optimal 0/1 vector by exhaustive search (only for the ten tiny instances, n <= 23)."""
    n = len(values)
    best, best_x = -1.0, None
    # Split in halves and combine (meet in the middle) to keep 2^23 manageable.
    half = n // 2

    def subsets(idx: range) -> list[tuple[float, float, int]]:
        res = []
        for mask in range(1 << len(idx)):
            w = v = 0.0
            for b, i in enumerate(idx):
                if mask >> b & 1:
                    w += weights[i]
                    v += values[i]
            if w <= capacity + 1e-9:
                res.append((w, v, mask))
        return res

    left = subsets(range(half))
    right = sorted(subsets(range(half, n)))
    # prefix maximum of value over right subsets sorted by weight
    pref, run = [], (-1.0, 0)
    for w, v, m in right:
        if v > run[0]:
            run = (v, m)
        pref.append(run)
    right_w = [w for w, _, _ in right]
    import bisect

    for w, v, m in left:
        k = bisect.bisect_right(right_w, capacity - w + 1e-9) - 1
        if k >= 0 and v + pref[k][0] > best:
            best, best_x = v + pref[k][0], (m, pref[k][1])
    lm, rm = best_x
    return [(lm >> i & 1) if i < half else (rm >> (i - half) & 1) for i in range(n)]


def build_knapsack(src: Path, out: Path) -> list[dict]:
    rows = []
    optimum = {r["name"]: r["optimum"] for r in read_csv(src / "knapsack" / "kp01_optimum.csv")}
    hard = src / "knapsack" / "pisinger_hard"
    for path in sorted(hard.glob("*/*.csv")):
        for name, text in split_pisinger(path)[:10]:
            rel = f"knapsack/pisinger/{name}.csv"
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_text(text)
            z = text.splitlines()[3].split()[1]
            assert optimum.get(name, optimum.get(name[1:])) == z, name
            rows.append(dict(
                name=name, problem="knapsack", path=rel, reference=z, reference_kind="optimal",
                size=int(text.splitlines()[1].split()[1]),
                suites=suites_for("knapsack", name, "knapsack-pisinger"),
                source=f"{PISINGER_REPO}/{path.parent.name}/{path.name}", licence=PISINGER_LICENCE,
            ))
    ortega = src / "knapsack" / "kp01_ortega"
    for group, suite, folder in (("large_scale", "knapsack-large", "large"),
                                 ("low-dimensional", "knapsack-lowdim", "lowdim")):
        for path in sorted((ortega / group).iterdir()):
            name = path.name
            tokens = path.read_text().split()
            n, capacity = int(tokens[0]), tokens[1]
            pairs = tokens[2:2 + 2 * n]
            values, weights = pairs[0::2], pairs[1::2]
            if not all(t.isdigit() for t in pairs):
                # f5_l-d_kp_15_375 has real-valued data; coptim's knapsack is integer-only.
                print(f"skipped {name}: not integer data", file=sys.stderr)
                continue
            z = (ortega / f"{group}-optimum" / name).read_text().split()[0]
            assert z == optimum[name], name
            if group == "large_scale":
                x = [int(t) for t in tokens[2 + 2 * n:]]
                assert len(x) == n, name
            else:
                assert len(tokens) == 2 + 2 * n, name
                x = best_subset([float(v) for v in values], [float(w) for w in weights], float(capacity))
            profit = sum(float(v) * xi for v, xi in zip(values, x))
            weight = sum(float(w) * xi for w, xi in zip(weights, x))
            assert abs(profit - float(z)) < 1e-3 and weight <= float(capacity) + 1e-9, name
            rel = f"knapsack/{folder}/{name}.csv"
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            # The source has no solve time; "nan" keeps the field without inventing one.
            (out / rel).write_text(pisinger_block(name, capacity, z, "nan", list(zip(values, weights, x))))
            rows.append(dict(
                name=name, problem="knapsack", path=rel, reference=z, reference_kind="optimal", size=n,
                suites=suites_for("knapsack", name, suite), source=f"{ORTEGA_REPO}/{group}/{name}",
                licence=ORTEGA_LICENCE,
            ))
    return rows


# ---------------------------------------------------------------------------------------------
# MILP


def build_milp(src: Path, out: Path) -> list[dict]:
    rows = []
    for r in read_csv(src / "miplib" / "optimal.csv"):
        if r["easy_verified"] != "yes" or "/" in r["file"] or int(r["file_bytes"]) >= 1_000_000:
            continue
        name = r["name"]
        rel = f"milp/miplib/{r['file']}"
        copy(src / "miplib" / r["file"], out / rel)
        base = ["miplib-easy"]
        if float(r["highs_seconds"]) < 1.0:
            base.append("miplib-quick")
        path = r["source_path"].split(" ")[0]
        rows.append(dict(
            name=name, problem="milp", path=rel, reference=r["optimal_objective"], reference_kind="optimal",
            size=int(r["cols"]), suites=suites_for("milp", name, *base),
            source=f"{r['source_repo']}/{path}", licence=MIPLIB_LICENCES[r["source_repo"].split("@")[0]],
            rows=r["rows"], cols=r["cols"],
        ))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="the benchmark data folder (with SOURCES.md)")
    args = parser.parse_args(argv)
    src = args.source
    if not (src / "SOURCES.md").is_file():
        parser.error(f"{src} has no SOURCES.md")
    for sub in ("tsp", "cvrp", "knapsack", "milp"):
        shutil.rmtree(HERE / sub, ignore_errors=True)
    rows = list(itertools.chain(build_tsp(src, HERE), build_cvrp(src, HERE),
                                build_knapsack(src, HERE), build_milp(src, HERE)))
    names = [r["name"] for r in rows]
    assert len(names) == len(set(names)), "instance names must be unique"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({c: r.get(c, "") for c in COLUMNS})
    (HERE / "manifest.csv").write_text(buf.getvalue())
    print(f"wrote {len(rows)} instances to {HERE / 'manifest.csv'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
