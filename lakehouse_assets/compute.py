"""Where fanned-out work runs: the local process pool or a Dask distributed cluster.

One call, :func:`map_tasks`, applies a top-level function to picklable tasks and returns
the results in task order, whichever pool runs them. ``config/forecasting.yaml`` chooses
the pool (``pool``, ``n_workers``, ``dask_scheduler``); ``$LAKEHOUSE_DASK_SCHEDULER``
overrides the scheduler address. A local pool starts only when the caller's estimate of the
work pays for its workers (:func:`local_workers`). No Dagster here: the caller passes its logger.
"""

from __future__ import annotations

import logging
import multiprocessing
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

POOLS = ("local", "dask")
SCHEDULER_ENV = "LAKEHOUSE_DASK_SCHEDULER"
# tcp://host:port, tls://[::1]:port, or host:port (tcp); the port is required
SCHEDULER_ADDRESS = re.compile(r"^(?:(?:tcp|tls|ucx|ws|wss)://)?(?:\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):\d{1,5}$")

# What a local pool costs on top of its share of the work: each spawned worker imports the
# estimators' libraries (statsmodels, arch, scikit-learn, scipy: 2.7 s and 270 MiB alone)
# and the tasks and results cross processes as pickles. Measured at N = 500 on 2 cores: an
# ordinary day's 7.0 s of tasks took 1.8 s longer on 2 workers (7.0 / 2 + 5.3).
POOL_START_SECONDS = 5.0

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class PoolSettings:
    """The pool of one fan-out.

    ``kind`` is ``local`` (``workers`` spawned processes; one worker, or one task, runs in
    the calling process) or ``dask`` (the cluster whose scheduler listens at ``scheduler``;
    its workers must be able to import this package). ``connect_timeout`` is in seconds.
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
    ``work_seconds x (1 - 1/workers)`` and cost ``POOL_START_SECONDS``, and their memory
    (~270 MiB each before the first task; 240 MiB more at the peak of an ordinary day at
    N = 500, whose models filter their stored fits). A fit day's ~125 s of fits need both cores."""
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
    spawn = multiprocessing.get_context("spawn")  # no fork: polars and DuckDB hold threads
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=spawn) as executor:
        yield from executor.map(fn, tasks)


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
