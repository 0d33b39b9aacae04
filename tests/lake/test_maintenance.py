"""Maintenance on real Delta tables: a year written day by day, compacted and vacuumed."""

import dataclasses
import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from lakehouse_assets.config import load_config
from lakehouse_assets.defs.maintenance import maintenance_job, weekly_maintenance_schedule
from lakehouse_assets.defs.resources import LakehouseResource
from lakehouse_assets.lake import catalog
from lakehouse_assets.lake.delta import Lake
from lakehouse_assets.lake.maintenance import (
    MIN_RETENTION_DAYS,
    MaintenanceSettings,
    RetentionTooShortError,
    check_retention,
    maintain,
    maintain_all,
    table_health,
)
from tests.conftest import REPO

NAME = "ohlcv_daily"
SYMBOLS = ("AAA", "BBB")
# 252 weekdays from 2019-07-01 (to 2020-06-16): two year partitions, 132 and 120 daily files
DAYS = [d for d in (dt.date(2019, 7, 1) + dt.timedelta(days=i) for i in range(370)) if d.weekday() < 5][:252]
EARLY, MIDDLE = 10, 150  # versions read by time travel (version v holds the first v days)


def day_bars(day: dt.date, i: int, symbols: tuple[str, ...] = SYMBOLS) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "symbol": list(symbols),
            "date": [day] * len(symbols),
            "open": [100.0 + i + k for k in range(len(symbols))],
            "high": [101.0 + i + k for k in range(len(symbols))],
            "low": [99.0 + i + k for k in range(len(symbols))],
            "close": [100.5 + i + k for k in range(len(symbols))],
            "volume": 1e6 + i,
            "log_return": None,
            "source": "test",
        },
        schema=catalog.TABLES[NAME].schema,
    )


def sorted_rows(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns, nulls_last=True)


@pytest.fixture(scope="module")
def year_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake whose ``ohlcv_daily`` got one sync per weekday for a year (built once, ~20 s)."""
    root = tmp_path_factory.mktemp("year") / "lake"
    lake = Lake(root)
    for i, day in enumerate(DAYS):
        lake.sync_range(NAME, day_bars(day, i), day, day)
    return root


@pytest.fixture
def lake(year_lake: Path, tmp_path: Path) -> Lake:
    """A private copy of the year lake."""
    return Lake(shutil.copytree(year_lake, tmp_path / "lake"))


def test_maintain_compacts_a_year_of_daily_files_and_keeps_the_rows(lake: Lake) -> None:
    before = table_health(lake, NAME)
    assert (before.version, before.files, before.small_files, before.partitions) == (252, 252, 252, 2)
    assert before.max_files_per_partition == 132 and before.rows == 2 * 252
    assert before.needs_maintenance and before.last_optimize is None and before.last_vacuum is None
    rows = sorted_rows(lake.read(NAME))

    result = maintain(lake, NAME)

    after = table_health(lake, NAME)
    assert after.max_files_per_partition <= 2 and after.partitions == 2
    assert not after.needs_maintenance and after.last_optimize is not None
    assert after.rows == before.rows
    assert sorted_rows(lake.read(NAME)).equals(rows)
    assert (result.files_before, result.files_after) == (252, after.files)
    assert result.skipped_reason is None and result.compacted
    # one OPTIMIZE commit; the default retention keeps every file, so vacuum commits nothing
    assert (result.version_before, result.version_after) == (252, 253)
    assert [e["operation"] for e in lake.history(NAME)[:2]] == ["OPTIMIZE", "MERGE"]
    assert result.files_removed_by_vacuum == 0
    assert (Path(lake.uri(NAME)) / "_delta_log" / f"{253:020d}.checkpoint.parquet").exists()


def test_time_travel_inside_the_retention_survives_maintenance(lake: Lake) -> None:
    snapshots = {v: sorted_rows(lake.read(NAME, version=v)) for v in (EARLY, MIDDLE)}
    assert snapshots[EARLY].height == 2 * EARLY and snapshots[MIDDLE].height == 2 * MIDDLE

    maintain(lake, NAME)  # default: 7 days of time travel

    for version, snapshot in snapshots.items():
        raw = pl.scan_delta(lake.open(NAME, version=version)).drop(catalog.PARTITION_COLUMN).collect()
        assert sorted_rows(raw).equals(snapshot)
        assert sorted_rows(lake.read(NAME, version=version)).equals(snapshot)


def test_zero_retention_vacuums_the_files_of_old_versions(lake: Lake) -> None:
    early = lake.read(NAME, version=EARLY)
    assert early.height == 2 * EARLY
    current = sorted_rows(lake.read(NAME))

    result = maintain(lake, NAME, MaintenanceSettings(retention_days=0))

    assert result.files_removed_by_vacuum == 252  # every daily file, now inside the compacted ones
    # OPTIMIZE, then VACUUM START and VACUUM END
    assert result.version_after == result.version_before + 3
    assert [e["operation"] for e in lake.history(NAME)[:3]] == ["VACUUM END", "VACUUM START", "OPTIMIZE"]
    assert table_health(lake, NAME).last_vacuum is not None
    with pytest.raises(FileNotFoundError):  # the log of version 10 is there, its files are not
        lake.read(NAME, version=EARLY)
    assert sorted_rows(lake.read(NAME)).equals(current)


def test_retention_is_measured_back_from_now(lake: Lake) -> None:
    first = maintain(lake, NAME)  # compacts; its removed files are younger than 7 days: kept
    assert first.files_removed_by_vacuum == 0
    assert lake.read(NAME, version=EARLY).height == 2 * EARLY

    in_six_days = maintain(lake, NAME, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=6))
    assert in_six_days.files_removed_by_vacuum == 0

    in_eight_days = maintain(lake, NAME, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=8))
    assert in_eight_days.files_removed_by_vacuum == 252
    assert in_eight_days.skipped_reason is not None  # nothing left to compact, only to vacuum
    with pytest.raises(FileNotFoundError):
        lake.read(NAME, version=EARLY)


def test_a_clean_table_costs_no_commit(lake: Lake) -> None:
    maintain(lake, NAME)
    history = lake.history(NAME)
    files = sorted(lake.open(NAME).file_uris())

    again = maintain(lake, NAME)

    assert again.version_after == again.version_before == history[0]["version"]
    assert again.skipped_reason is not None and "2 or more files" in again.skipped_reason
    assert (again.files_before, again.files_after, again.files_removed_by_vacuum) == (len(files),) * 2 + (0,)
    assert lake.history(NAME) == history
    assert sorted(lake.open(NAME).file_uris()) == files


def test_only_crowded_partitions_are_rewritten(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    for i, day in enumerate([*DAYS[:4], *[d for d in DAYS if d.year == 2020][:2]]):  # 4 files in 2019, 2 in 2020
        lake.sync_range(NAME, day_bars(day, i), day, day)
    files_2020 = {f for f in lake.open(NAME).file_uris() if "year=2020" in f}
    rows = sorted_rows(lake.read(NAME))
    settings = MaintenanceSettings(min_small_files=3)

    result = maintain(lake, NAME, settings)

    assert (result.files_before, result.files_after) == (6, 3)
    assert files_2020 <= set(lake.open(NAME).file_uris())  # 2020 was below min_small_files: not rewritten
    assert sorted_rows(lake.read(NAME)).equals(rows)
    assert not table_health(lake, NAME, settings).needs_maintenance


def test_a_partition_below_min_small_files_is_skipped(lake: Lake) -> None:
    settings = MaintenanceSettings(min_small_files=200)  # 132 and 120 files per partition
    assert not table_health(lake, NAME, settings).needs_maintenance

    result = maintain(lake, NAME, settings)

    assert result.skipped_reason is not None and result.version_after == result.version_before == 252
    assert result.files_after == 252


def test_maintain_all_covers_every_table_of_the_lake(lake: Lake) -> None:
    for i, day in enumerate(DAYS[:3]):  # an unpartitioned table, three commits
        row = {c: None for c in catalog.TABLES["quarantine"].schema} | {
            "quarantine_id": f"q{i}",
            "table_name": NAME,
            "key": "k",
            "date": day,
            "reason": "test",
        }
        lake.merge("quarantine", pl.DataFrame([row], schema=catalog.TABLES["quarantine"].schema))
    assert table_health(lake, "quarantine").files == 3
    messages: list[str] = []

    results = maintain_all(lake, MaintenanceSettings(retention_days=0), log=messages.append)

    assert [r.name for r in results] == ["quarantine", NAME]  # catalogue order
    assert [(r.files_before, r.files_after) for r in results] == [(3, 1), (252, 2)]
    assert len(messages) == 2 and messages[0].startswith("[1/2] quarantine: files 3 -> 1")
    assert lake.read("quarantine").get_column("quarantine_id").sort().to_list() == ["q0", "q1", "q2"]
    assert not any(table_health(lake, name).needs_maintenance for name in lake.tables())


@pytest.mark.parametrize(
    ("field", "value"),
    [("retention_days", -1.0), ("small_file_bytes", 0), ("target_file_bytes", 1024), ("min_small_files", 1)],
)
def test_settings_name_the_bad_field(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"^{field}:"):
        dataclasses.replace(MaintenanceSettings(), **{field: value})


def test_retention_rounds_up_to_whole_hours() -> None:
    assert MaintenanceSettings().retention_hours == 168
    assert MaintenanceSettings(retention_days=0.01).retention_hours == 1  # 14.4 minutes: keep an hour
    assert MaintenanceSettings(retention_days=0).retention_hours == 0


def test_maintenance_job_runs_against_a_real_lake(lake: Lake) -> None:
    result = maintenance_job.execute_in_process(
        resources={"lakehouse": LakehouseResource(lake_uri=lake.root)},
        run_config={"ops": {"maintain_lake": {"config": {"retention_days": 0, "force": True}}}},
    )

    assert result.success
    (maintained,) = result.output_for_node("maintain_lake")
    assert (maintained.name, maintained.files_before, maintained.files_removed_by_vacuum) == (NAME, 252, 252)
    assert table_health(lake, NAME).max_files_per_partition <= 2
    (materialization,) = [
        e for e in result.all_node_events if e.event_type_value == "STEP_OUTPUT" and e.step_key == "maintain_lake"
    ]
    metadata = materialization.event_specific_data.metadata
    assert metadata["files_before"].value == 252 and metadata["files_removed_by_vacuum"].value == 252
    summary = metadata["summary"].value
    assert f"| {NAME} | 252 | {maintained.files_after} | 252 | 252 → 255 |" in summary and "| ok |" in summary


def test_weekly_schedule_runs_saturday_morning_in_new_york() -> None:
    schedule = weekly_maintenance_schedule(maintenance_job, load_config(REPO / "config"))  # the exchange's time zone
    assert schedule.name == "weekly_maintenance_schedule"
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 6 * * 6", "America/New_York")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED  # until turned on (README)
    assert schedule.job_name == "maintenance_job"


def test_a_retention_below_the_minimum_needs_force() -> None:
    assert MIN_RETENTION_DAYS == 1.0
    assert check_retention(MIN_RETENTION_DAYS) is None and check_retention(7) is None
    for days in (0.0, 0.5, 0.999):
        with pytest.raises(RetentionTooShortError, match=f"retention {days:g} days is below the minimum of 1 day"):
            check_retention(days)
        forced = check_retention(days, force=True)
        assert forced is not None and "(forced)" in forced and "FileNotFoundError" in forced
    # the library itself still takes any retention >= 0 (the weekly job's configured one, tests)
    assert MaintenanceSettings(retention_days=0).retention_days == 0


def test_the_maintenance_job_refuses_a_retention_that_breaks_readers_unless_forced(lake: Lake) -> None:
    before = lake.stats(NAME)
    result = maintenance_job.execute_in_process(
        resources={"lakehouse": LakehouseResource(lake_uri=lake.root)},
        run_config={"ops": {"maintain_lake": {"config": {"retention_days": 0}}}},
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "below the minimum" in failure.step_failure_data.error.message
    assert lake.stats(NAME) == before  # nothing compacted, nothing vacuumed
