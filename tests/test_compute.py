"""The local pool: in-process inside a daemonic process (a Celery prefork worker) or when the
work does not pay for its workers, this process working beside its workers otherwise, lean
workers, and the same stored fits whichever process made them."""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import multiprocessing
import os
import pickle
import sys

import pytest

from lakehouse_assets.compute import POOL_START_SECONDS, WORKER_REFUSES, PoolSettings, map_tasks
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


def test_the_local_pool_is_this_process_and_spawned_workers() -> None:
    """Two workers: this process and one spawned, which is handed the first two tasks before
    this process takes one."""
    pids = map_tasks(_pid_of, [1, 2, 3, 4, 5], PoolSettings("local", workers=2), LOG)
    assert len(set(pids)) == 2, pids
    assert os.getpid() in pids
    assert pids[0] == pids[1] != os.getpid()


def _imported(_: int) -> tuple[int, list[str], str]:
    """The pid, which of the refused modules are loaded (and the caller's main module, which
    a spawned child imports as ``__mp_main__``, else an alias of its own), and what importing
    a refused one says."""
    loaded = [m for m in WORKER_REFUSES if m in sys.modules]
    if getattr(sys.modules.get("__mp_main__"), "__file__", None) is not None:
        loaded.append("__mp_main__")
    try:
        importlib.import_module("pyarrow.compute")
        refused = "imported"
    except ModuleNotFoundError as exc:
        refused = str(exc)
    return os.getpid(), loaded, refused


def test_a_worker_loads_neither_the_refused_modules_nor_the_main_module() -> None:
    """What a worker imports is what its tasks import: not the caller's ``__main__`` (here
    pytest's script) and not the optional extras of ``WORKER_REFUSES``, which fail to import
    as if not installed; this process is left as it was."""
    import pyarrow  # noqa: F401  (loaded here, so refused there for a reason of its own)

    main = sys.modules["__main__"]
    spec_file = main.__spec__, getattr(main, "__file__", None)
    seen = map_tasks(_imported, [1, 2, 3], PoolSettings("local", workers=2), LOG)
    worker = [(loaded, refused) for pid, loaded, refused in seen if pid != os.getpid()]
    assert worker, seen
    for loaded, refused in worker:
        assert loaded == []
        assert "No module named 'pyarrow' in a pool worker" in refused
    assert (main.__spec__, getattr(main, "__file__", None)) == spec_file
    assert [refused for pid, _, refused in seen if pid == os.getpid()] == ["imported"]


def _fails_on(n: int) -> int:
    if n == 3:
        raise ValueError(f"task {n} failed in process {os.getpid()}")
    return n


@pytest.mark.parametrize("tasks", [[3, 1, 2, 4], [1, 2, 3, 4]], ids=["in a worker", "in this process"])
def test_a_failed_task_raises_here(tasks: list[int]) -> None:
    """The first two tasks go to the worker, the third to this process: either failure
    stops the claims and is raised by ``map_tasks`` once the running tasks are back."""
    with pytest.raises(ValueError, match="task 3 failed in process") as raised:
        map_tasks(_fails_on, tasks, PoolSettings("local", workers=2), LOG)
    in_this_process = str(raised.value).endswith(f" {os.getpid()}")
    assert in_this_process == (tasks[2] == 3)


def test_work_that_does_not_pay_for_the_pool_runs_in_this_process() -> None:
    """Two workers save half the work: up to twice the pool's start it stays here."""
    pool = PoolSettings("local", workers=2)
    small = map_tasks(_pid_of, [1, 2, 3], pool, LOG, work_seconds=2 * POOL_START_SECONDS)
    assert small == [os.getpid()] * 3
    large = map_tasks(_pid_of, [1, 2, 3], pool, LOG, work_seconds=2 * POOL_START_SECONDS + 1)
    assert set(large) - {os.getpid()}


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
