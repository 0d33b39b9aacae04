import datetime as dt
import os
import shutil
import subprocess
import sys
import zoneinfo
from pathlib import Path

import dagster as dg

from lakehouse_assets.build import build_definitions
from lakehouse_assets.config import load_config
from lakehouse_assets.definitions import defs
from lakehouse_assets.defs.partitions import trading_day_partitions
from lakehouse_assets.defs.settings import calendar_of
from tests.conftest import REPO, edit

NY = zoneinfo.ZoneInfo("America/New_York")
CONFIG = load_config(REPO / "config")
PARTITIONS = trading_day_partitions(CONFIG, calendar_of(CONFIG))


def test_partitions_are_exactly_the_nyse_sessions(calendar) -> None:
    keys = PARTITIONS.get_partition_keys_in_range(dg.PartitionKeyRange("2024-03-25", "2024-04-05"))
    assert "2024-03-29" not in keys  # Good Friday
    assert keys == [d.isoformat() for d in calendar.sessions(dt.date(2024, 3, 25), dt.date(2024, 4, 5))]
    all_keys = PARTITIONS.get_partition_keys(current_time=dt.datetime(2018, 12, 31, 17, tzinfo=NY))
    assert all_keys[0] == "1986-03-13"
    assert all_keys == [d.isoformat() for d in calendar.sessions(dt.date(1986, 3, 13), dt.date(2018, 12, 31))]
    horizon = calendar.last_session  # the holiday rules are exact up to the calendar's horizon
    at_horizon = PARTITIONS.get_partition_keys(current_time=dt.datetime.combine(horizon, dt.time(17), NY))
    assert at_horizon == [d.isoformat() for d in calendar.sessions(dt.date(1986, 3, 13), horizon)]


def test_holidays_are_excluded_by_rules_where_a_rule_is_exact(calendar) -> None:
    from dagster._serdes import serialize_value

    rules = [e for e in PARTITIONS.exclusions or [] if isinstance(e, str)]
    # MLK Day (a session before 1998) and Juneteenth (before 2022) are no rule from 1986 on
    assert "0 0 * 11 4#4" in rules and "0 0 * 1 1#3" not in rules and "0 0 19 6 *" not in rules
    dates = len(PARTITIONS.exclusions or []) - len(rules)
    assert dates < len(calendar.non_sessions(dt.date(1986, 3, 13), calendar.last_session)) / 2
    assert len(serialize_value(PARTITIONS)) < 15_000  # paid once per partition and check of a range run


def test_todays_partition_exists_at_the_close() -> None:
    keys = PARTITIONS.get_partition_keys(current_time=dt.datetime(2024, 3, 28, 16, 30, tzinfo=NY))
    assert keys[-1] == "2024-03-28"


def evaluate(when: dt.datetime) -> dg.RunRequest | dg.SkipReason:
    """A tick of the code location's after_close_schedule, with its resources (the bundled data)."""
    repository = defs.get_repository_def()
    schedule = repository.get_schedule_def("after_close_schedule")
    resources = repository.get_top_level_resources()
    with dg.build_schedule_context(
        scheduled_execution_time=when, repository_def=repository, resources=resources
    ) as context:
        result = schedule.evaluate_tick(context)
    if result.skip_message:
        return dg.SkipReason(result.skip_message)
    (request,) = result.run_requests
    return request


def test_schedule_runs_after_the_close_for_that_day() -> None:
    schedule = defs.get_repository_def().get_schedule_def("after_close_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("30 16 * * 1-5", "America/New_York")
    request = evaluate(dt.datetime(2018, 12, 31, 16, 30, tzinfo=NY))  # the bundled data's last session
    assert isinstance(request, dg.RunRequest) and request.partition_key == "2018-12-31"


def test_schedule_skips_a_session_with_nothing_landed() -> None:
    """The bundled data ends in 2018: a tick of a later session skips instead of running a
    day without bars (which would fail its checks and alert every day)."""
    skip = evaluate(dt.datetime(2024, 3, 28, 16, 30, tzinfo=NY))
    assert isinstance(skip, dg.SkipReason)
    assert (
        skip.skip_message == "nothing landed for 2024-03-28: no bar of that session in the OHLCV input; nothing to run"
    )


def test_every_schedule_and_sensor_is_stopped_until_turned_on() -> None:
    """A fresh `make ui` must not run anything by itself (README: "Turning on the schedule and the alerts")."""
    repository = defs.get_repository_def()
    automations = [*repository.schedule_defs, *repository.sensor_defs]
    assert {a.name for a in automations} == {
        "after_close_schedule",
        "freshness_schedule",
        "weekly_maintenance_schedule",
        "alerts_sensor",
    }
    statuses = {a.name: a.default_status for a in automations}
    assert statuses == {
        name: dg.DefaultSensorStatus.STOPPED if name == "alerts_sensor" else dg.DefaultScheduleStatus.STOPPED
        for name in statuses
    }


def test_schedule_skips_a_holiday_with_a_reason() -> None:
    skip = evaluate(dt.datetime(2024, 3, 29, 16, 30, tzinfo=NY))
    assert isinstance(skip, dg.SkipReason)
    assert "2024-03-29 is not a XNYS trading session (exchange holiday: Good Friday)" in skip.skip_message


def test_daily_job_and_every_asset_share_the_partitions() -> None:
    job = defs.resolve_job_def("daily_job")
    assert job.partitions_def == PARTITIONS
    graph = defs.resolve_asset_graph()
    groups = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups == {
        "ohlcv_bronze": "bronze",
        "sentiment_bronze": "bronze",
        "ohlcv_daily": "silver",
        "sentiment_daily": "silver",
        "features": "silver",
        "model_fits": "gold",
        "forecasts": "gold",
        "forecast_scores": "gold",
        "model_registry": "gold",
        "error_replay_buffer": "gold",
        "strategy_predictions": "strategy",
        "variance_analysis": "strategy",
        "strategy_weights": "strategy",
        "backtest_metrics": "strategy",
        "sector_performance": "strategy",
        "market_regimes": "silver",
        "drift_reports": "drift",
        "prediction_drift": "strategy",
    }
    checked = {key.asset_key.to_user_string() for key in graph.asset_check_keys}
    assert checked == set(groups)  # every asset has its checks
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.partitions_def == PARTITIONS
        assert node.backfill_policy == dg.BackfillPolicy.single_run()


def test_code_location_loads_without_warnings() -> None:
    code = "import lakehouse_assets.definitions as d; d.defs.resolve_asset_graph(); d.defs.resolve_job_def('daily_job')"
    done = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Warning" not in done.stderr


def test_core_does_not_import_dagster_or_storage() -> None:
    code = (
        "import sys, lakehouse_assets.core.ohlcv, lakehouse_assets.core.sentiment, lakehouse_assets.core.calendar;"
        "import lakehouse_assets.core.features, lakehouse_assets.core.regimes;"
        "bad = [m for m in ('dagster', 'deltalake', 'duckdb') if m in sys.modules]; print(bad); sys.exit(bool(bad))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def london(tmp_path: Path) -> Path:
    """The shipped configuration on the London Stock Exchange, from 2010, at 17:35 London time."""
    folder = Path(shutil.copytree(REPO / "config", tmp_path / "config"))
    edit(
        folder / "exchange.yaml",
        ("calendar: XNYS", "calendar: XLON"),
        ("timezone: America/New_York", "timezone: Europe/London"),
        ("partitions_start: 1986-03-13", "partitions_start: 2010-01-04"),
        ('schedule_time: "16:30"', 'schedule_time: "17:35"'),
    )
    return folder


def test_partitions_schedules_and_resources_come_from_the_configuration_given(tmp_path: Path) -> None:
    config = load_config(london(tmp_path))
    built = build_definitions(config, lake_uri=str(tmp_path / "lake"))
    repository = built.get_repository_def()
    zones = {s.name: (s.cron_schedule, s.execution_timezone) for s in repository.schedule_defs}
    assert zones == {
        "after_close_schedule": ("35 17 * * 1-5", "Europe/London"),
        "freshness_schedule": ("35 19 * * 1-5", "Europe/London"),
        "weekly_maintenance_schedule": ("0 6 * * 6", "Europe/London"),
    }
    partitions = built.resolve_job_def("daily_job").partitions_def
    assert partitions == trading_day_partitions(config, calendar_of(config))
    keys = partitions.get_partition_keys(current_time=dt.datetime(2010, 1, 12, tzinfo=zoneinfo.ZoneInfo("UTC")))
    assert keys[:3] == ["2010-01-04", "2010-01-05", "2010-01-06"]
    lakehouse = built.resources["lakehouse"]
    assert lakehouse.config() is config  # the object given, not the files read again
    assert lakehouse.lake_uri == str(tmp_path / "lake")


def test_the_code_location_is_built_from_lakehouse_config(tmp_path: Path) -> None:
    code = (
        "from lakehouse_assets.definitions import defs;"
        "print(defs.get_repository_def().get_schedule_def('weekly_maintenance_schedule').execution_timezone)"
    )
    env = {**os.environ, "LAKEHOUSE_CONFIG": str(london(tmp_path))}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "Europe/London"


def test_importing_the_assets_reads_no_configuration(tmp_path: Path) -> None:
    """No import-time global: the defs modules load with no configuration anywhere in sight."""
    code = "import lakehouse_assets.defs.ingest, lakehouse_assets.defs.strategies, lakehouse_assets.defs.forecasting"
    env = {**os.environ, "LAKEHOUSE_CONFIG": str(tmp_path / "missing")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]


def test_the_partitions_start_where_the_bundled_universe_starts() -> None:
    """``partitions_start`` as shipped is the first bar of the bundled universe: no partition
    before it could hold data, and no bundled bar falls before the first partition."""
    from lakehouse_assets.sources.ohlcv import bundled_bars

    bars = bundled_bars([(b.dataset, b.symbol) for b in CONFIG.universe.bundled], CONFIG.exchange.timezone)
    assert bars.get_column("date").min() == CONFIG.exchange.partitions_start
