import datetime as dt
import subprocess
import sys
import zoneinfo

import dagster as dg

from lakehouse_assets.definitions import defs
from lakehouse_assets.defs.common import PARTITIONS

NY = zoneinfo.ZoneInfo("America/New_York")


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
    repository = defs.get_repository_def()
    schedule = repository.get_schedule_def("after_close_schedule")
    with dg.build_schedule_context(scheduled_execution_time=when, repository_def=repository) as context:
        result = schedule.evaluate_tick(context)
    if result.skip_message:
        return dg.SkipReason(result.skip_message)
    (request,) = result.run_requests
    return request


def test_schedule_runs_after_the_close_for_that_day() -> None:
    schedule = defs.get_repository_def().get_schedule_def("after_close_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("30 16 * * 1-5", "America/New_York")
    request = evaluate(dt.datetime(2024, 3, 28, 16, 30, tzinfo=NY))
    assert isinstance(request, dg.RunRequest) and request.partition_key == "2024-03-28"


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
        "drift_reports": "monitoring",
        "prediction_drift": "monitoring",
    }
    checked = {key.asset_key.to_user_string() for key in graph.asset_check_keys}
    assert checked == set(groups) - {"model_fits"}  # every asset but the opaque model store has checks
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
