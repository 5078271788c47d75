"""The shipped benchmark instances: manifest, named suites, and turning a spec into files.

The manifest ``instances/manifest.csv`` has one row per shipped instance with its reference
value (a proven optimum or a best-known solution value), its named suites and its source.
``COPTIM_INSTANCES`` points coptim at another instances folder with the same layout.

References for instances outside the manifest come from sidecar files, looked up in this order:

1. ``references.csv`` in the instance's folder, with columns ``name,reference`` and optionally
   ``reference_kind`` (``optimal`` or ``bks``; ``bks`` when absent). ``name`` is the file name
   without its suffix (``my-instance`` for ``my-instance.vrp`` or ``my-model.mps.gz``).
2. For CVRP, a ``.sol`` file next to the ``.vrp`` (CVRPLIB format) with a ``Cost <value>`` line:
   its cost is taken as a best-known value.
"""

from __future__ import annotations

import csv
import glob
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from coptim.errors import InputError

ENV_VAR = "COPTIM_INSTANCES"
MANIFEST = "manifest.csv"
REFERENCES = "references.csv"
COLUMNS = ("name", "problem", "path", "reference", "reference_kind", "size", "suites",
           "source", "licence", "solution", "rows", "cols")
REFERENCE_KINDS = ("optimal", "bks")

# File suffixes of each problem's instance format, used only while a problem module is not
# importable; the problem's own ``Problem.suffixes`` wins whenever it exists.
_KNOWN_SUFFIXES = {
    "tsp": (".tsp",),
    "cvrp": (".vrp",),
    "knapsack": (".csv",),
    "milp": (".mps", ".mps.gz", ".lp", ".lp.gz"),
}
# Files that live next to instances but are never instances themselves.
_NOT_INSTANCES = {MANIFEST, REFERENCES}


@dataclass(frozen=True)
class Entry:
    """One row of the manifest.

    Parameters
    ----------
    name
        Instance name, unique over the manifest (the file name without its suffix).
    problem
        Problem name (``"tsp"``, ``"cvrp"``, ``"knapsack"``, ``"milp"``).
    path
        Absolute path of the instance file.
    reference
        Reference objective value.
    reference_kind
        ``"optimal"`` (proven optimum) or ``"bks"`` (best-known solution value).
    size
        Nodes (TSP), customers (CVRP), items (knapsack) or columns (MILP).
    suites
        Names of the suites the instance belongs to.
    source
        ``owner/repo@commit/path`` of the file it was copied or converted from.
    licence
        Licence note of the source.
    solution
        Absolute path of a shipped solution file, if any.
    rows, cols
        Constraint and variable counts (MILP only).
    """

    name: str
    problem: str
    path: Path
    reference: float
    reference_kind: str
    size: int
    suites: tuple[str, ...]
    source: str
    licence: str
    solution: Path | None = None
    rows: int | None = None
    cols: int | None = None


def instances_dir() -> Path:
    """The instances folder: ``$COPTIM_INSTANCES`` if set, else the repository's ``instances/``."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser().resolve()
    return (Path(__file__).resolve().parent.parent / "instances").resolve()


def load_manifest() -> list[Entry]:
    """All entries of the manifest, in file order (parsed once per instances folder).

    Raises
    ------
    InputError
        If the manifest is missing or a row is malformed (names the line).
    """
    return list(_load(instances_dir()))


def clear_cache() -> None:
    """Forget parsed manifests (after editing a manifest in place)."""
    _load.cache_clear()
    _index.cache_clear()


@lru_cache(maxsize=8)
def _load(root: Path) -> tuple[Entry, ...]:
    path = root / MANIFEST
    if not path.is_file():
        raise InputError(f"no instance manifest found; set {ENV_VAR} to a folder with a {MANIFEST}", path)
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        missing = [c for c in COLUMNS if header is None or c not in header]
        if missing:
            raise InputError(f"manifest header lacks column(s) {', '.join(missing)}", path, 1)
        entries, seen = [], set()
        for line, values in enumerate(reader, start=2):
            if not values:
                continue
            if len(values) != len(header):
                raise InputError(f"expected {len(header)} fields, found {len(values)}", path, line)
            entry = _entry(dict(zip(header, values)), root, path, line)
            if entry.name in seen:
                raise InputError(f"instance name {entry.name!r} appears twice", path, line)
            seen.add(entry.name)
            entries.append(entry)
    return tuple(entries)


def _entry(row: dict[str, str], root: Path, path: Path, line: int) -> Entry:
    reference = _number(row["reference"], "reference", path, line)
    if row["reference_kind"] not in REFERENCE_KINDS:
        raise InputError(f"reference_kind must be optimal or bks, not {row['reference_kind']!r}", path, line)
    try:
        size = int(row["size"])
    except ValueError:
        raise InputError(f"size must be an integer, not {row['size']!r}", path, line) from None
    return Entry(
        name=row["name"],
        problem=row["problem"],
        path=root / row["path"],
        reference=reference,
        reference_kind=row["reference_kind"],
        size=size,
        suites=tuple(row["suites"].split()),
        source=row["source"],
        licence=row["licence"],
        solution=root / row["solution"] if row["solution"] else None,
        rows=int(row["rows"]) if row["rows"] else None,
        cols=int(row["cols"]) if row["cols"] else None,
    )


def _number(text: str, what: str, path: Path, line: int | None) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InputError(f"{what} must be a finite number, not {text!r}", path, line)
    return value


def suites() -> dict[str, list[Entry]]:
    """Suite name -> its entries, suites in order of first appearance in the manifest."""
    out: dict[str, list[Entry]] = {}
    for entry in load_manifest():
        for suite in entry.suites:
            out.setdefault(suite, []).append(entry)
    return out


def suffixes(problem: str) -> tuple[str, ...]:
    """File suffixes of ``problem``'s instance format (``(".tsp",)``).

    Raises
    ------
    InputError
        If ``problem`` is not a known problem.
    """
    from coptim import problems

    try:
        return tuple(problems.get(problem).suffixes)
    except ModuleNotFoundError:
        if problem in _KNOWN_SUFFIXES:
            return _KNOWN_SUFFIXES[problem]
        raise


def instance_name(path: str | Path) -> str:
    """The instance name of a file: its name without the format suffix (and ``.gz``)."""
    name = Path(path).name
    if name.endswith(".gz"):
        name = name[:-3]
    stem, dot, _ = name.rpartition(".")
    return stem if dot else name


def _has_suffix(path: Path, sufs: tuple[str, ...]) -> bool:
    return path.is_file() and path.name not in _NOT_INSTANCES and path.name.endswith(sufs)


def resolve(spec: str, problem: str) -> list[Path]:
    """The instance files that ``spec`` names, for ``problem``.

    Parameters
    ----------
    spec
        A suite name from the manifest (``"tsplib-small"``), a folder (every file in it or
        below with one of the problem's suffixes), a glob pattern (``"data/*.vrp"``, ``**``
        allowed; only files with the problem's suffixes are kept) or a single file.
    problem
        The problem the files are instances of.

    Returns
    -------
    list of Path
        Sorted by path for folders and globs, in manifest order for suites.

    Raises
    ------
    InputError
        If nothing matches, or the suite belongs to another problem.
    """
    sufs = suffixes(problem)
    table = suites()
    if spec in table:
        entries = table[spec]
        others = sorted({e.problem for e in entries if e.problem != problem})
        if others:
            raise InputError(f"suite {spec!r} holds {', '.join(others)} instances, not {problem}")
        return [e.path for e in entries]
    path = Path(spec).expanduser()
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if _has_suffix(p, sufs))
        if not found:
            raise InputError(f"folder {spec} has no {problem} instances (files ending in {', '.join(sufs)})")
        return found
    if path.is_file():
        return [path]
    if glob.has_magic(spec):
        matches = [Path(p) for p in glob.glob(os.path.expanduser(spec), recursive=True)]
        found = sorted(p for p in matches if _has_suffix(p, sufs))
        if not found:
            raise InputError(f"pattern {spec!r} matches no {problem} instances (files ending in {', '.join(sufs)})")
        return found
    own = [name for name, entries in table.items() if entries[0].problem == problem]
    raise InputError(
        f"{spec!r} is not a suite, file, folder or pattern; {problem} suites: {', '.join(own) or 'none'}"
    )


def reference(path_or_name: str | Path) -> tuple[float, str] | None:
    """The reference value of an instance and its kind (``"optimal"`` or ``"bks"``).

    Parameters
    ----------
    path_or_name
        An instance file (looked up in the manifest by resolved path, then in sidecar files,
        see the module docstring) or the name of a shipped instance.

    Returns
    -------
    (float, str) or None
        None when no reference is known.

    Raises
    ------
    InputError
        If a sidecar file exists but is malformed.
    """
    by_path, by_name = _index(instances_dir())
    path = Path(path_or_name).expanduser()
    if path.is_file():
        resolved = path.resolve()
        entry = by_path.get(resolved)
        if entry is not None:
            return entry.reference, entry.reference_kind
        return _sidecar_reference(resolved)
    entry = by_name.get(str(path_or_name))
    return None if entry is None else (entry.reference, entry.reference_kind)


@lru_cache(maxsize=8)
def _index(root: Path) -> tuple[dict[Path, Entry], dict[str, Entry]]:
    entries = _load(root)
    return {e.path.resolve(): e for e in entries}, {e.name: e for e in entries}


def _sidecar_reference(path: Path) -> tuple[float, str] | None:
    name = instance_name(path)
    table = path.parent / REFERENCES
    if table.is_file():
        found = _read_references(table).get(name)
        if found is not None:
            return found
    if path.name.endswith(".vrp"):
        sol = path.with_suffix(".sol")
        if sol.is_file():
            return _sol_cost(sol), "bks"
    return None


def _read_references(path: Path) -> dict[str, tuple[float, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or not {"name", "reference"} <= set(reader.fieldnames):
            raise InputError("references file needs the columns name,reference", path, 1)
        out = {}
        for row in reader:
            line = reader.line_num
            kind = (row.get("reference_kind") or "bks").strip()
            if kind not in REFERENCE_KINDS:
                raise InputError(f"reference_kind must be optimal or bks, not {kind!r}", path, line)
            out[row["name"].strip()] = (_number((row["reference"] or "").strip(), "reference", path, line), kind)
    return out


def _sol_cost(path: Path) -> float:
    with open(path, encoding="utf-8") as f:
        for line, text in enumerate(f, start=1):
            parts = text.split()
            if parts and parts[0].lower() == "cost":
                if len(parts) < 2:
                    raise InputError("Cost line has no value", path, line)
                return _number(parts[1], "Cost", path, line)
    raise InputError("solution file has no 'Cost <value>' line", path)
