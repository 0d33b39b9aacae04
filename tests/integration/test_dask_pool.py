"""Per-symbol fits on a real Dask cluster: the same lake as the local process pool.

A ``LocalCluster`` of two worker processes stands in for a deployment's cluster; the
forecasting assets run once on the local pool and once on ``pool: dask`` pointed at the
cluster's scheduler, over a short range with shorter windows than ``small_config``.
"""

import datetime as dt
import logging
import operator
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from dask.utils import key_split
from distributed import Client, LocalCluster, Scheduler

from lakehouse_assets.compute import SCHEDULER_ENV, PoolSettings, PoolUnavailable, map_tasks
from lakehouse_assets.core.forecasting import MODEL_GROUPS
from lakehouse_assets.lake.catalog import TABLES
from lakehouse_assets.lake.delta import Lake
from tests.conftest import edit, run_pipeline, snapshot, step_errors

pytestmark = pytest.mark.slow

START, END = "2016-01-04", "2016-05-31"
SYMBOLS = ["MSFT", "^GSPC"]
UPSTREAM = ("bronze", "silver", "drift")
LOG = logging.getLogger(__name__)
COMPARED = ("forecasts", "forecast_scores", "model_registry", "model_fits")


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as running:
        yield running


def short_config(small_config: str, folder: Path, *pool: tuple[str, str]) -> str:
    """``small_config`` with windows short enough that the five months from January have
    forecasts (from April), scores and decisions; ``pool`` edits choose the pool."""
    copied = Path(shutil.copytree(small_config, folder))
    edit(
        copied / "forecasting.yaml",
        ("fit_window: 250", "fit_window: 100"),
        ("min_observations: 120", "min_observations: 60"),
        *pool,
    )
    return str(copied)


def run_symbol_keys(client: Client) -> list[str]:
    """Keys of the ``run_symbol`` tasks the scheduler saw computed (its transition log)."""

    def computed(dask_scheduler: Scheduler) -> list[str]:
        return [str(key) for key, _, finish, *_ in dask_scheduler.transition_log if finish == "memory"]

    return sorted({key for key in client.run_on_scheduler(computed) if key_split(key) == "run_symbol"})


def test_the_dask_pool_writes_what_the_local_pool_writes(
    cluster: LocalCluster, small_config: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)  # the address is the one in the file
    local_config = short_config(small_config, tmp_path / "local")
    dask_config = short_config(
        small_config,
        tmp_path / "dask",
        ("pool: local", "pool: dask"),
        ("dask_scheduler: ", f"dask_scheduler: {cluster.scheduler_address} "),
    )
    # bars, features and drift reports once; the forecasting assets on each pool
    inputs = Lake(tmp_path / "inputs")
    result = run_pipeline(inputs.root, START, END, symbols=SYMBOLS, config_dir=local_config, groups=UPSTREAM)
    assert result.success, step_errors(result)
    local = Lake(shutil.copytree(inputs.root, tmp_path / "local_lake"))
    remote = Lake(shutil.copytree(inputs.root, tmp_path / "dask_lake"))
    with Client(cluster, set_as_default=False) as observer:
        result = run_pipeline(local.root, START, END, symbols=SYMBOLS, config_dir=local_config, groups=("gold",))
        assert result.success, step_errors(result)
        assert run_symbol_keys(observer) == []  # the local pool left the cluster alone

        result = run_pipeline(remote.root, START, END, symbols=SYMBOLS, config_dir=dask_config, groups=("gold",))
        assert result.success, step_errors(result)
        assert len(run_symbol_keys(observer)) == len(SYMBOLS) * len(MODEL_GROUPS)

    forecasts = snapshot(remote, "forecasts")
    assert forecasts.height > 0 and set(forecasts["symbol"]) == set(SYMBOLS)
    assert forecasts["date"].min() < dt.date(2016, 5, 1) and snapshot(remote, "forecast_scores").height > 0
    for name in COMPARED:
        timing = list(TABLES[name].volatile)
        expected, actual = snapshot(local, name).drop(timing), snapshot(remote, name).drop(timing)
        assert actual.height > 0, name
        assert actual.equals(expected), name


def test_map_tasks_keeps_task_order_on_either_pool(cluster: LocalCluster) -> None:
    numbers = list(range(25))
    dask = PoolSettings(kind="dask", scheduler=cluster.scheduler_address, connect_timeout=10)
    for pool in (PoolSettings(kind="local", workers=2), PoolSettings(kind="local", workers=1), dask):
        assert map_tasks(operator.neg, numbers, pool, LOG) == [-n for n in numbers], pool


def test_an_unreachable_scheduler_is_named_in_the_error() -> None:
    with socket.socket() as probe:  # a port nothing listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    pool = PoolSettings(kind="dask", scheduler=address, connect_timeout=1)
    with pytest.raises(PoolUnavailable, match=f"cannot connect to the Dask scheduler at {address} within 1s"):
        map_tasks(operator.neg, [1, 2], pool, LOG)
