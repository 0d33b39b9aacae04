"""The local pool inside a daemonic process (a Celery prefork worker) runs in-process."""

from __future__ import annotations

import logging
import multiprocessing
import os

from lakehouse_assets.compute import PoolSettings, map_tasks


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
