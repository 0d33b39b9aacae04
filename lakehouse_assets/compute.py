"""Where fanned-out work runs: the local process pool or a Dask distributed cluster.

One call, :func:`map_tasks`, applies a top-level function to picklable tasks and returns
the results in task order, whichever pool runs them. ``config/forecasting.yaml`` chooses
the pool (``pool``, ``n_workers``, ``dask_scheduler``); ``$LAKEHOUSE_DASK_SCHEDULER``
overrides the scheduler address. No Dagster here: the caller passes its logger.
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
) -> list[R]:
    """``[fn(t) for t in tasks]`` on ``pool``, in task order; ``describe(task, result)`` of
    every task is logged at debug level in one message at the end (a Dagster log call is an
    event in the instance: one per task cost 11 s of a 500-symbol day). The first task to
    fail raises here."""
    if not tasks:
        return []
    if pool.kind == "dask":
        arriving = _on_dask(fn, tasks, pool, log)
    elif pool.kind == "local":
        workers = pool.workers
        if workers > 1 and len(tasks) > 1 and multiprocessing.current_process().daemon:
            # e.g. a Celery prefork worker: a daemonic process may not start children
            log.info(f"{len(tasks)} tasks in this process: it is daemonic and cannot start a process pool")
            workers = 1
        arriving = _on_local(fn, tasks, workers)
    else:
        raise ValueError(f"unknown pool {pool.kind!r}; one of {', '.join(POOLS)}")
    results = list(arriving)
    if describe is not None:
        log.debug(f"{len(tasks)} tasks:\n" + "\n".join(describe(t, r) for t, r in zip(tasks, results, strict=True)))
    return results


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
