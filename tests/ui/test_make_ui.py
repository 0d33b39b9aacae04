"""``make ui`` as a user runs it: a materialization and a backfill launched through the
webserver's GraphQL the way the Materialize dialog launches them raise no freshness alarm,
and Ctrl-C stops every process within 10 s."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.execution.backfill import BulkActionStatus
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from lakehouse_assets.defs.alerts import alerts_sensor, run_events
from lakehouse_assets.defs.resources import LakehouseResource
from lakehouse_assets.lake.delta import Lake
from tests.conftest import REPO, terminal_signals
from tests.servers import free_port, wait_for_dagster

pytestmark = pytest.mark.slow

LOCATION = {"repositoryLocationName": "lakehouse_assets.definitions", "repositoryName": "__repository__"}
LAUNCH_RUN = """mutation($p: ExecutionParams!) { launchPipelineExecution(executionParams: $p) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on InvalidSubsetError { message } } }"""
LAUNCH_BACKFILL = """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""
BARS = ("ohlcv_bronze", "ohlcv_daily")
# one partition of everything up to the forecasts: a run with a step process that works for seconds
FORECASTING = (
    *BARS,
    *("sentiment_bronze", "sentiment_daily", "features", "market_regimes", "drift_reports"),
    *("model_fits", "forecasts", "forecast_scores", "model_registry", "error_replay_buffer"),
)


def session_processes(sid: int) -> list[str]:
    """``pid state command`` of every live (not zombie) process of the session."""
    listing = subprocess.run(["ps", "-eo", "pid=,sid=,stat=,args="], capture_output=True, text=True, check=True)
    rows = [line.split(None, 3) for line in listing.stdout.splitlines()]
    return [" ".join((r[0], r[2], r[3][:120])) for r in rows if len(r) == 4 and r[1] == str(sid) and "Z" not in r[2]]


@contextlib.contextmanager
def make_ui(base: Path, **env: str) -> Iterator[tuple[subprocess.Popen[bytes], str, dg.DagsterInstance, Lake]]:
    """``make ui`` on a free loopback port with a new Dagster home and lake, in a session of
    its own with SIGINT at its default (a shell's ``&`` would start it with SIGINT ignored)."""
    home, lake = base / "home", Lake(base / "lake")
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "LAKEHOUSE_", "MAKE"))}
    environment.update(DAGSTER_HOME=str(home), LAKEHOUSE_LAKE=lake.root, **env)
    log = base / "make_ui.log"
    # -o: take .venv as set up (the shared checkout's venv is never rebuilt by a test)
    args = ["make", "--no-print-directory", "-o", ".venv/bin/lakehouse", "ui", f"UI_PORT={port}"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args,
            cwd=REPO,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=terminal_signals,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_dagster(url, proc, "make ui", log)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            yield proc, url, instance, lake
    finally:
        for row in session_processes(proc.pid):  # only what this test started: its own session
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(row.split()[0]), signal.SIGKILL)
        proc.wait()


def graphql(url: str, query: str, variables: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as reply:
        answer = json.loads(reply.read())
    (result,) = answer["data"].values()
    assert result["__typename"] in ("LaunchRunSuccess", "LaunchBackfillSuccess"), result
    return result


def launch_assets(url: str, assets: tuple[str, ...], checks: list[tuple[str, str]], partition: str) -> str:
    """What the Materialize dialog sends for one partition: the job ``__ASSET_JOB``, the
    assets, and every check of theirs in that job (``fresh`` included)."""
    selector = {
        **LOCATION,
        "pipelineName": "__ASSET_JOB",
        "assetSelection": [{"path": [a]} for a in assets],
        "assetCheckSelection": [{"assetKey": {"path": [a]}, "name": name} for a, name in checks],
    }
    params = {
        "selector": selector,
        "mode": "default",
        "runConfigData": "{}",
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]},
    }
    return str(graphql(url, LAUNCH_RUN, {"p": params})["run"]["runId"])  # type: ignore[index]


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 600, poll: float = 1) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout:.0f}s: {what}"
        time.sleep(poll)


def ended(instance: dg.DagsterInstance) -> bool:
    runs = instance.get_runs()
    return bool(runs) and all(r.is_finished for r in runs)


def test_ui_materializations_raise_no_freshness_alarm_and_the_freshness_job_does(tmp_path: Path) -> None:
    with make_ui(tmp_path, LAKEHOUSE_EXECUTOR="in_process") as (_, url, instance, lake):
        lakehouse = LakehouseResource(lake_uri=lake.root, config_dir=str(REPO / "config"))
        with dg.build_sensor_context(instance=instance, resources={"lakehouse": lakehouse}) as sensor:
            alerts_sensor(sensor)  # switched on: it watches the runs that end from now on

            checks = [(a, "quality") for a in BARS] + [("ohlcv_daily", "fresh")]
            launch_assets(url, BARS, checks, "2017-11-10")
            backfill = {"assetSelection": [{"path": [a]} for a in BARS], "fromFailure": False, "tags": []}
            backfill["partitionNames"] = ["2017-11-07", "2017-11-08", "2017-11-09"]
            backfill_id = str(graphql(url, LAUNCH_BACKFILL, {"p": backfill})["backfillId"])
            wait_until(
                lambda: getattr(instance.get_backfill(backfill_id), "status", None) != BulkActionStatus.REQUESTED,
                "backfill",
            )
            wait_until(lambda: ended(instance) and len(instance.get_runs()) == 2, "the two runs")
            runs = instance.get_runs()
            assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS] * 2, [r.run_id for r in runs]
            alerts_sensor(sensor)
            # the check was part of both runs (the dialog's selection, the backfill's every check),
            # and neither judged it: no evaluation, so nothing for the sensor
            fresh = dg.AssetCheckKey(dg.AssetKey("ohlcv_daily"), "fresh")
            planned = instance.event_log_storage.get_asset_check_execution_history(fresh, limit=10)
            assert {r.run_id for r in planned} == {r.run_id for r in runs}
            assert {r.status for r in planned} == {AssetCheckExecutionRecordStatus.PLANNED}
            assert [run_events(instance, r.run_id) for r in runs] == [[], []]  # what the sensor alerts on
            assert not lake.exists("alerts")
            assert lake.read("ohlcv_daily").get_column("date").max() == dt.date(2017, 11, 10)

            # the same lake is two thousand sessions behind today: freshness_job says so, and alerts
            graphql(
                url, LAUNCH_RUN, {"p": {"selector": {**LOCATION, "pipelineName": "freshness_job"}, "mode": "default"}}
            )
            wait_until(lambda: ended(instance) and len(instance.get_runs()) == 3, "freshness_job")
            alerts_sensor(sensor)
            (alert,) = lake.read("alerts").to_dicts()
            assert (alert["rule"], alert["asset"]) == ("check:fresh", "ohlcv_daily")
            assert "sessions behind" in alert["message"]


def ctrl_c(make: subprocess.Popen[bytes]) -> None:
    os.killpg(make.pid, signal.SIGINT)  # what the terminal does: SIGINT to the foreground group


def kill(make: subprocess.Popen[bytes]) -> None:
    os.kill(make.pid, signal.SIGTERM)  # `kill PID` or a process manager: make's own process only


@pytest.mark.parametrize("stop", [ctrl_c, kill])
def test_make_ui_stops_every_process_within_10_s(
    tmp_path: Path, stop: Callable[[subprocess.Popen[bytes]], None]
) -> None:
    """Stopped in the forecasting step of a run (the run worker and its step process alive).
    The 3 bundled symbols' ~18 fits of one partition are too little work for the forecasting
    pool (``compute.local_workers``), so no pool worker starts here."""
    with make_ui(tmp_path) as (proc, url, instance, _):
        checks = [(a, "quality") for a in FORECASTING] + [("ohlcv_daily", "fresh")]
        run_id = launch_assets(url, FORECASTING, checks, "2018-12-31")

        def forecasting_started() -> bool:
            events = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)
            return any(e.step_key == "forecasting" for e in events)

        wait_until(forecasting_started, "the forecasting step", poll=0.1)
        # the run worker and its step process are alive now
        assert len(session_processes(proc.pid)) > 4  # make, the wrapper, dagster dev, its servers, the run

        stop(proc)
        deadline = time.monotonic() + 10
        while session_processes(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert session_processes(proc.pid) == []
