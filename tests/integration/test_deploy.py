"""The deployment profile of ``deploy/``: a Dagster instance on a real PostgreSQL server, the
daemon running CLI backfills, and run steps on real Celery workers with a Redis broker.

Each test starts the servers on loopback, a ``dagster-daemon`` (and Celery worker) as
separate processes with the environment a deployment sets, submits
``dagster job backfill`` for two trading days, waits for the backfill to finish, and
compares the lake with the same two days run in-process with the default executor.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse_assets.config import load_config
from lakehouse_assets.defs.settings import calendar_of
from lakehouse_assets.lake.delta import Lake
from tests.conftest import REPO, run_pipeline, step_errors
from tests.integration.test_s3 import comparable
from tests.servers import postgres_server, redis_server, stop_group

pytestmark = pytest.mark.slow

DAYS = ("2018-01-02", "2018-01-03")
BIN = Path(sys.executable).parent


@pytest.fixture
def postgres() -> Iterator[dict[str, str]]:
    """A new PostgreSQL server per test (about a second to start): a history of its own."""
    with postgres_server() as settings:
        yield settings


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The two days in one in-process run with the default executor and a SQLite instance."""
    lake = Lake(tmp_path_factory.mktemp("reference") / "lake")
    result = run_pipeline(lake.root, *DAYS)
    assert result.success, step_errors(result)
    return lake


def deployment_env(home: Path, postgres: dict[str, str], lake: Path, **extra: str) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "LAKEHOUSE_"))}
    deployment = {
        **env,
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": postgres["host"],
        "DAGSTER_PG_PORT": postgres["port"],
        "DAGSTER_PG_USERNAME": postgres["user"],
        "DAGSTER_PG_PASSWORD": postgres["password"],
        "DAGSTER_PG_DB": postgres["db"],
        "LAKEHOUSE_LAKE": str(lake),
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",  # dagster-celery starts `celery` from PATH
        **extra,
    }
    # a new database gets its schema once, before the daemon and the CLI both try to create it
    migrated = subprocess.run(
        [str(BIN / "dagster"), "instance", "migrate"], env=deployment, capture_output=True, text=True
    )
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    return deployment


@contextlib.contextmanager
def background(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        stop_group(proc)


def backfill(env: dict[str, str], servers: dict[Path, subprocess.Popen], timeout: float = 420.0) -> list[str]:
    """Submit ``dagster job backfill`` for DAYS and wait for it, while ``servers`` (by log
    file) stay up; returns its run ids."""
    import dagster as dg
    from dagster._core.execution.backfill import BulkActionStatus

    DONE = (BulkActionStatus.COMPLETED, BulkActionStatus.COMPLETED_SUCCESS)

    command = [str(BIN / "dagster"), "job", "backfill", "-w", "workspace.yaml", "-j", "daily_job"]
    submitted = subprocess.run(
        [*command, "--partitions", ",".join(DAYS), "--noprompt"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert submitted.returncode == 0, submitted.stderr[-3000:]
    with pytest.MonkeyPatch.context() as patch:
        for name in [k for k in env if k.startswith(("DAGSTER_PG_", "DAGSTER_HOME"))]:
            patch.setenv(name, env[name])
        with dg.DagsterInstance.get() as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            deadline = time.monotonic() + timeout
            while True:  # the backfill is done when its runs are submitted; then they run
                backfills = instance.get_backfills()
                assert len(backfills) == 1
                runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfills[0].backfill_id}))
                submitted_all = backfills[0].status in DONE
                if submitted_all and runs and all(r.is_finished for r in runs):
                    break
                failed = backfills[0].status not in (BulkActionStatus.REQUESTED, *DONE)
                died = any(proc.poll() is not None for proc in servers.values())
                if failed or died or time.monotonic() > deadline:
                    tails = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in servers)
                    pytest.fail(f"backfill {backfills[0].status}, runs {[r.status for r in runs]}\n{tails}")
                time.sleep(2)
            assert sorted(r.tags["dagster/partition"] for r in runs) == list(DAYS)
            failures = [
                f"{e.dagster_event.event_type_value} {e.step_key}: {e.message} {e.dagster_event.event_specific_data}"
                for r in runs
                if r.status != dg.DagsterRunStatus.SUCCESS
                for e in instance.all_logs(r.run_id)
                if e.dagster_event and e.dagster_event.is_failure
            ]
            assert not failures, "\n".join(failures)[-6000:]
            return [r.run_id for r in runs]


def event_messages(env: dict[str, str], run_ids: list[str]) -> list[str]:
    import dagster as dg

    with pytest.MonkeyPatch.context() as patch:
        for name in [k for k in env if k.startswith(("DAGSTER_PG_", "DAGSTER_HOME"))]:
            patch.setenv(name, env[name])
        with dg.DagsterInstance.get() as instance:
            return [e.message or "" for run_id in run_ids for e in instance.all_logs(run_id)]


def same_lake(lake: Lake, reference: Lake) -> None:
    """Every table the runs write holds the same rows (``alerts`` aside: the daemon's
    alerts_sensor writes it, about the runs it watched; ``materializations`` records each
    run's range, one a partition for a backfill of runs per partition, so it is compared by
    the partitions its ranges cover)."""
    written = [name for name in lake.tables() if name != "alerts"]
    assert written == reference.tables()
    for name in written:
        if name == "materializations":
            assert covered(lake) == covered(reference)
        else:
            assert comparable(lake, name).equals(comparable(reference, name)), name


def covered(lake: Lake) -> set[tuple[str, object]]:
    """(asset, session) of every partition the lake's ``materializations`` record covers."""
    sessions = calendar_of(load_config(REPO / "config")).sessions
    ranges = lake.read("materializations").select("asset", "range_start", "range_end").iter_rows()
    return {(asset, day) for asset, start, end in ranges for day in sessions(start, end)}


def test_backfill_through_a_postgres_instance(tmp_path: Path, postgres: dict[str, str], reference: Lake) -> None:
    lake = tmp_path / "lake"
    env = deployment_env(tmp_path / "home", postgres, lake, LAKEHOUSE_EXECUTOR="in_process")
    daemon_log = tmp_path / "daemon.log"
    with background([str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], env, daemon_log) as daemon:
        run_ids = backfill(env, {daemon_log: daemon})
    messages = event_messages(env, run_ids)
    assert any("Finished execution of step" in m or "Started execution of run" in m for m in messages)
    same_lake(Lake(lake), reference)


def test_backfill_on_celery_workers(tmp_path: Path, postgres: dict[str, str], reference: Lake) -> None:
    with redis_server(tmp_path) as redis:
        lake = tmp_path / "lake"
        env = deployment_env(
            tmp_path / "home",
            postgres,
            lake,
            LAKEHOUSE_EXECUTOR="celery",
            LAKEHOUSE_CELERY_BROKER=f"{redis}/0",
            LAKEHOUSE_CELERY_BACKEND=f"{redis}/1",
        )
        worker_log, daemon_log = tmp_path / "worker.log", tmp_path / "daemon.log"
        worker = [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app"]
        worker += ["-y", str(REPO / "deploy" / "celery.yaml"), "-n", "lakehouse-test@%h", "--", "--concurrency", "2"]
        with (
            background(worker, env, worker_log) as celery,
            background([str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], env, daemon_log) as daemon,
        ):
            run_ids = backfill(env, {daemon_log: daemon, worker_log: celery})
        messages = event_messages(env, run_ids)
    on_workers = [m for m in messages if "in celery worker" in m]
    assert len(on_workers) >= 2 * 5, messages[
        :20
    ]  # every step of both runs, e.g. "Executing steps ohlcv_bronze in celery worker"
    same_lake(Lake(lake), reference)
