"""The local pool: in-process inside a daemonic process (a Celery prefork worker) or when the
work does not pay for its workers, and the same stored fits whichever process made them."""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
import pickle

from lakehouse_assets.compute import POOL_START_SECONDS, PoolSettings, map_tasks
from lakehouse_assets.core.forecasting import Fit

LOG = logging.getLogger("t")


def _pid_of(_: int) -> int:
    return os.getpid()


def _in_daemon(queue) -> None:
    try:
        queue.put(
            ("ok", map_tasks(_pid_of, [1, 2, 3], PoolSettings("local", workers=2), logging.getLogger("t")), os.getpid())
        )
    except Exception as exc:  # reported to the parent, which fails the test
        queue.put(("error", repr(exc), os.getpid()))


def test_a_daemonic_process_fans_out_in_process() -> None:
    spawn = multiprocessing.get_context("spawn")
    queue = spawn.Queue()
    worker = spawn.Process(target=_in_daemon, args=(queue,), daemon=True)
    worker.start()
    status, pids, own = queue.get(timeout=60)
    worker.join(timeout=30)
    assert status == "ok", pids
    assert pids == [own] * 3  # every task ran in the daemonic process itself


def test_the_local_pool_uses_other_processes() -> None:
    pids = map_tasks(_pid_of, [1, 2, 3], PoolSettings("local", workers=2), logging.getLogger("t"))
    assert os.getpid() not in pids


def test_work_that_does_not_pay_for_the_pool_runs_in_this_process() -> None:
    """Two workers save half the work: up to twice the pool's start it stays here."""
    pool = PoolSettings("local", workers=2)
    small = map_tasks(_pid_of, [1, 2, 3], pool, LOG, work_seconds=2 * POOL_START_SECONDS)
    assert small == [os.getpid()] * 3
    large = map_tasks(_pid_of, [1, 2, 3], pool, LOG, work_seconds=2 * POOL_START_SECONDS + 1)
    assert os.getpid() not in large


def _fit_of(horizon: int) -> Fit:
    """A classifier-like state: the horizon's key made twice by ``str``, as ``direction_fit`` does."""
    state = {"report": {str(horizon): {"accepted": True}}, "models": {str(horizon): [0.5, -0.25]}}
    return Fit("MSFT", "direction_classifier", dt.date(2018, 10, 12), state, 750, 0.1)


def test_a_fit_stores_the_same_bytes_from_a_worker_as_from_this_process() -> None:
    horizons = [1, 5, 21]
    here = [_fit_of(h) for h in horizons]
    pooled = map_tasks(_fit_of, horizons, PoolSettings("local", workers=2), LOG)
    assert [f.blob() for f in pooled] == [f.blob() for f in here]
    # what the blob undoes: a state that crossed a process pickles differently (one-character keys)
    assert pickle.dumps(pooled[0].state, protocol=5) != pickle.dumps(here[0].state, protocol=5)
