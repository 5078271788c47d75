"""Run one function over many jobs: in-process, on a local process pool, or on a Ray cluster.

:func:`run` yields ``(job, result)`` pairs as jobs finish; a job that raises yields its
exception in place of a result, so one failing job never stops the others. Worker
processes get one thread each for the usual numerical thread pools (OpenMP, BLAS, torch),
so that N workers use N cores.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from typing import Any, TypeVar

from coptim.errors import InputError

J = TypeVar("J")

BACKENDS = ("local", "ray")

# Set in every worker process before the numerical libraries are loaded.
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
}


def run(
    fn: Callable[[J], Any],
    jobs: Iterable[J],
    workers: int = 1,
    backend: str = "local",
    address: str | None = None,
) -> Iterator[tuple[J, Any]]:
    """Apply ``fn`` to every job and yield ``(job, result_or_exception)`` as each finishes.

    Parameters
    ----------
    fn
        A module-level function (it is pickled by reference for worker processes).
    jobs
        The jobs; each must be picklable when ``workers > 1`` or ``backend="ray"``.
    workers
        Number of jobs run at the same time. ``1`` with the local backend runs the jobs
        in this process, in order (simplest to debug, fully deterministic).
    backend
        ``"local"``: a process pool started with the ``spawn`` method (``fork`` is unsafe
        with the threads of torch and OR-Tools). ``"ray"``: Ray tasks, one CPU each.
    address
        Ray only: the address of a running cluster (``"auto"``, ``"ray://host:10001"``);
        None starts a local Ray instance with ``workers`` CPUs. Every node needs coptim
        installed.

    Yields
    ------
    (job, result or BaseException)
        In completion order (submission order when ``workers == 1`` locally).

    Raises
    ------
    InputError
        On a bad ``workers``, ``backend`` or ``address`` value.
    """
    check_args(workers, backend, address)
    jobs = list(jobs)
    if not jobs:
        return
    if backend == "ray":
        yield from _run_ray(fn, jobs, workers, address)
    elif workers == 1:
        for job in jobs:
            yield job, _call(fn, job)
    else:
        yield from _run_pool(fn, jobs, workers)


def check_args(workers: int, backend: str, address: str | None) -> None:
    """Validate the arguments of :func:`run`.

    Raises
    ------
    InputError
        If ``workers`` is not a positive integer, ``backend`` is unknown, or an
        ``address`` is given for the local backend.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError(f"workers must be a positive integer, got {workers!r}")
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if address is not None and backend != "ray":
        raise InputError("an address is only used with the ray backend")


def _call(fn: Callable[[J], Any], job: J) -> Any:
    """``fn(job)``, or the exception it raised."""
    try:
        return fn(job)
    except Exception as exc:  # reported per job, never raised
        return exc


def limit_threads() -> None:
    """Use one thread for OpenMP/BLAS (and torch, if loaded) in this process.

    Called at the start of every worker process; not meant for the main process.
    """
    os.environ.update(THREAD_ENV)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def _call_limited(fn: Callable[[J], Any], job: J) -> Any:
    out = _call(fn, job)
    torch = sys.modules.get("torch")  # a job may have imported torch after the worker started
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    return out


@contextmanager
def _child_env() -> Iterator[None]:
    """Set the thread variables while worker processes are spawned, so they inherit them."""
    saved = {k: os.environ.get(k) for k in THREAD_ENV}
    os.environ.update(THREAD_ENV)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _run_pool(fn: Callable[[J], Any], jobs: list[J], workers: int) -> Iterator[tuple[J, Any]]:
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context,
                               initializer=limit_threads)
    pending: dict[Future, J] = {}
    try:
        # The pool starts its processes while jobs are submitted; they inherit this environment.
        with _child_env():
            for job in jobs:
                pending[pool.submit(_call_limited, fn, job)] = job
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in [f for f in pending if f in done]:  # submission order within a batch
                job = pending.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # the worker died (BrokenProcessPool) or pickling failed
                    result = exc
                yield job, result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_ray(fn: Callable[[J], Any], jobs: list[J], workers: int, address: str | None) -> Iterator[tuple[J, Any]]:
    import ray

    started = False
    if not ray.is_initialized():
        options: dict[str, Any] = {
            "runtime_env": {"env_vars": dict(THREAD_ENV)},
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": logging.WARNING,
        }
        if address is None:
            options["num_cpus"] = workers
        ray.init(address=address, **options)
        started = True
    task = ray.remote(num_cpus=1, max_retries=0)(_call_limited)
    todo = iter(jobs)
    running: dict[Any, J] = {}
    try:
        for job in todo:
            running[task.remote(fn, job)] = job
            if len(running) >= workers:
                break
        while running:
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                job = running.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as exc:  # the task's worker died
                    result = exc
                yield job, result
            for job in todo:
                running[task.remote(fn, job)] = job
                if len(running) >= workers:
                    break
    finally:
        for ref in running:
            ray.cancel(ref, force=True)
        if started:
            ray.shutdown()
