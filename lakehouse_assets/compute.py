"""Where fanned-out work runs: the local process pool or a Dask distributed cluster.

One call, :func:`map_tasks`, applies a top-level function to picklable tasks and returns
the results in task order, whichever pool runs them. ``config/forecasting.yaml`` chooses
the pool (``pool``, ``n_workers``, ``dask_scheduler``); ``$LAKEHOUSE_DASK_SCHEDULER``
overrides the scheduler address. A local pool starts only when the caller's estimate of the
work pays for its workers (:func:`local_workers`); the calling process is one of them. No
Dagster here: the caller passes its logger.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import itertools
import logging
import multiprocessing
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import TypeVar

POOLS = ("local", "dask")
SCHEDULER_ENV = "LAKEHOUSE_DASK_SCHEDULER"
# tcp://host:port, tls://[::1]:port, or host:port (tcp); the port is required
SCHEDULER_ADDRESS = re.compile(r"^(?:(?:tcp|tls|ucx|ws|wss)://)?(?:\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):\d{1,5}$")

# What a local pool costs on top of its share of the work: each spawned worker imports the
# estimators' libraries (statsmodels, arch, scikit-learn, scipy: 2.7 s, and 181 MiB with
# WORKER_REFUSES) and the tasks and results cross processes as pickles. Measured at N = 500
# on 2 cores: an ordinary day's 7.0 s of tasks took 1.8 s longer on 2 spawned workers
# (7.0 / 2 + 5.3).
POOL_START_SECONDS = 5.0
# Tasks queued per spawned worker: the one it runs and the next, so it does not wait for
# this process (busy with its own task) to hand it one.
AHEAD = 2
# Modules a local pool worker does not import. The estimators' libraries import them only for
# optional extras (statsmodels accepts polars frames, arch draws with matplotlib, pandas has
# Arrow dtypes); the tasks carry numpy arrays. Each costs a worker memory for nothing: a
# worker with the estimators imported holds 264 MiB, 181 MiB without these three.
WORKER_REFUSES = ("matplotlib", "polars", "pyarrow")

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class PoolSettings:
    """The pool of one fan-out.

    ``kind`` is ``local`` (``workers`` processes: the calling process and ``workers - 1``
    spawned ones; one worker, or one task, runs in the calling process alone) or ``dask``
    (the cluster whose scheduler listens at ``scheduler``; its workers must be able to
    import this package). ``connect_timeout`` is in seconds.
    """

    kind: str = "local"
    workers: int = 1
    scheduler: str | None = None
    connect_timeout: float = 30.0


class PoolUnavailable(RuntimeError):
    """The configured pool cannot be reached or has no workers."""


def map_tasks(
    fn: Callable[[T], R],
    tasks: Sequence[T],
    pool: PoolSettings,
    log: logging.Logger,
    describe: Callable[[T, R], str] | None = None,
    work_seconds: float | None = None,
) -> list[R]:
    """``[fn(t) for t in tasks]`` on ``pool``, in task order; ``describe(task, result)`` of
    every task is logged at debug level in one message at the end (a Dagster log call is an
    event in the instance: one per task cost 11 s of a 500-symbol day). The first task to
    fail raises here. ``work_seconds``: the caller's estimate of the tasks' seconds in one
    process, which decides whether a local pool starts (:func:`local_workers`); None starts it."""
    if not tasks:
        return []
    if pool.kind == "dask":
        arriving = _on_dask(fn, tasks, pool, log)
    elif pool.kind == "local":
        arriving = _on_local(fn, tasks, local_workers(pool.workers, len(tasks), work_seconds, log))
    else:
        raise ValueError(f"unknown pool {pool.kind!r}; one of {', '.join(POOLS)}")
    results = list(arriving)
    if describe is not None:
        log.debug(f"{len(tasks)} tasks:\n" + "\n".join(describe(t, r) for t, r in zip(tasks, results, strict=True)))
    return results


def local_workers(workers: int, tasks: int, work_seconds: float | None, log: logging.Logger) -> int:
    """The processes that run ``tasks`` tasks on a local pool of ``workers``: 1 (this process)
    when the pool cannot or need not start.

    It cannot in a daemonic process (e.g. a Celery prefork worker may not start children).
    It need not when its workers save less than they cost: ``workers`` processes save at most
    ``work_seconds x (1 - 1/workers)`` and cost ``POOL_START_SECONDS``, and the memory of the
    spawned ones (~190 MiB each at a fit day's peak at N = 500, ``WORKER_REFUSES``). A fit
    day's ~125 s of fits need both cores."""
    if workers <= 1 or tasks <= 1:
        return 1
    if multiprocessing.current_process().daemon:
        log.info(f"{tasks} tasks in this process: it is daemonic and cannot start a process pool")
        return 1
    if work_seconds is not None and work_seconds * (1 - 1 / workers) <= POOL_START_SECONDS:
        log.info(f"{tasks} tasks in this process: ~{work_seconds:.1f}s of work does not pay for starting {workers}")
        return 1
    return workers


def _on_local(fn: Callable[[T], R], tasks: Sequence[T], workers: int) -> Iterator[R]:
    if workers <= 1 or len(tasks) <= 1:
        yield from map(fn, tasks)
        return
    yield from _shared(fn, tasks, min(workers, len(tasks)) - 1)


def _shared(fn: Callable[[T], R], tasks: Sequence[T], helpers: int) -> list[R]:
    """The tasks on this process and ``helpers`` spawned processes, each taking the next task
    when it is free; the results in task order.

    This process works instead of waiting on its pool: a worker costs the memory of the
    estimators' libraries on top of the caller's, which holds the run (Dagster, the lake, the
    inputs; about 550 MiB at the peak of a fit day at N = 500), and the fit day's peak is while
    the pool runs. Two spawned workers and an idle caller peaked at 1,235 MiB for the process
    tree; this process and one worker use the same two cores.
    """
    results: dict[int, R] = {}
    failed: list[BaseException] = []
    claims = iter(range(len(tasks)))
    lock = threading.Lock()

    def claim() -> int | None:
        with lock:
            return None if failed else next(claims, None)

    def fail(exc: BaseException) -> None:
        with lock:
            failed.append(exc)

    spawn = multiprocessing.get_context("spawn")  # no fork: polars and DuckDB hold threads
    executor = ProcessPoolExecutor(helpers, mp_context=spawn, initializer=_refuse, initargs=(WORKER_REFUSES,))
    running: dict[Future[R], int] = {}
    feeder = threading.Thread(target=_feed, args=(executor, fn, tasks, running, claim, results, fail), daemon=True)
    try:
        # the workers start on these submissions (spawned on demand), from this thread
        with _main_not_imported(fn):
            for i in itertools.islice(iter(claim, None), AHEAD * helpers):
                running[executor.submit(fn, tasks[i])] = i
        feeder.start()
        for i in iter(claim, None):
            try:
                results[i] = fn(tasks[i])
            except BaseException as exc:
                fail(exc)
                raise
    finally:
        if feeder.is_alive():
            feeder.join()
        executor.shutdown(wait=True, cancel_futures=True)
    if failed:
        raise failed[0]
    return [results[i] for i in range(len(tasks))]


def _feed(
    executor: ProcessPoolExecutor,
    fn: Callable[[T], R],
    tasks: Sequence[T],
    running: dict[Future[R], int],
    claim: Callable[[], int | None],
    results: dict[int, R],
    fail: Callable[[BaseException], None],
) -> None:
    """Keeps the workers' queue topped up: the next unclaimed task for each one that returns.
    A failure (of a task, or of the pool: a worker killed) stops the claims of both threads."""
    while running:
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in done:
            i = running.pop(future)
            try:
                results[i] = future.result()
                j = claim()
                if j is not None:
                    running[executor.submit(fn, tasks[j])] = j
            except BaseException as exc:
                fail(exc)


@contextlib.contextmanager
def _main_not_imported(fn: Callable[..., object]) -> Iterator[None]:
    """Processes spawned inside skip importing this program's ``__main__``.

    A spawned child imports its parent's main module first, for what the tasks may pickle
    from it; for ``lakehouse run`` that is the CLI with polars, pyarrow, pydantic and the
    configuration: 33 MiB of each worker, and it would bring in what ``WORKER_REFUSES``
    keeps out. ``multiprocessing`` reads ``__main__``'s ``__file__`` and ``__spec__`` while
    starting a child, so they are hidden for that moment, unless ``fn`` itself lives there.
    If a process starts later (it does not on Python 3.11: a spawn pool starts its workers
    from ``submit``), it imports ``__main__`` as before: more memory, the same results.
    """
    main = sys.modules.get("__main__")
    if main is None or getattr(fn, "__module__", None) == "__main__":
        yield
        return
    spec, path = main.__dict__.get("__spec__"), main.__dict__.pop("__file__", None)
    main.__spec__ = None
    try:
        yield
    finally:
        main.__spec__ = spec
        if path is not None:
            main.__file__ = path


class _Refused(importlib.abc.MetaPathFinder):
    """Fails the import of ``names`` (and their submodules) as if they were not installed."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(names)

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if fullname.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r} in a pool worker (compute.WORKER_REFUSES)")
        return None


def _refuse(names: Sequence[str]) -> None:
    """A local pool worker's initializer: ``names`` cannot be imported there (``WORKER_REFUSES``).
    Refused by a finder rather than a None in ``sys.modules``: scikit-learn takes a name in
    ``sys.modules`` as a loaded module (``sys.modules["polars"].DataFrame``)."""
    sys.meta_path.insert(0, _Refused(names))


def _on_dask(fn: Callable[[T], R], tasks: Sequence[T], pool: PoolSettings, log: logging.Logger) -> Iterator[R]:
    from distributed import Client  # only the dask pool needs it

    address = pool.scheduler
    if not address:
        raise PoolUnavailable(f"the dask pool needs a scheduler address (dask_scheduler or ${SCHEDULER_ENV})")
    try:
        client = Client(address, timeout=pool.connect_timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise PoolUnavailable(
            f"cannot connect to the Dask scheduler at {address} within {pool.connect_timeout:g}s: {exc}"
        ) from exc
    with client:
        try:
            client.wait_for_workers(1, timeout=pool.connect_timeout)
        except TimeoutError as exc:
            raise PoolUnavailable(
                f"the Dask scheduler at {address} has no workers after {pool.connect_timeout:g}s"
            ) from exc
        log.info(f"{len(tasks)} tasks on the Dask cluster at {address} ({len(client.nthreads())} workers)")
        # scattered rather than embedded in the task graph: tasks carry arrays and fitted states
        inputs = client.scatter(list(tasks), hash=False)
        futures = client.map(fn, inputs, pure=False)
        yield from client.gather(futures)
