"""``lakehouse sync-ui``: a lake written under one Dagster home, opened with a new one, shows
exactly the partitions its runs materialized after the sync (issue 19, item 5), those that
wrote no row included; a lake written before the lake kept the record syncs from its dates."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import dagster as dg
import pytest

from lakehouse_assets.core.calendar import TradingCalendar
from lakehouse_assets.lake.delta import Lake
from tests.conftest import lakehouse_cli, run_pipeline, step_errors

START, END = "2018-01-02", "2018-02-09"


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """Bronze, silver and drift over six weeks, written with an ephemeral instance: no Dagster
    home knows of them. No sentiment is landed, so ``sentiment_bronze`` writes no row."""
    lake = Lake(tmp_path_factory.mktemp("sync") / "lake")
    result = run_pipeline(lake.root, START, END, groups=("bronze", "silver", "drift"))
    assert result.success, step_errors(result)
    return lake


def new_home(tmp_path: Path, name: str) -> Path:
    home = tmp_path / name
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return home


def summary(stderr: str) -> tuple[int, int]:
    """(partitions in the lake, reported) from the summary line."""
    found = re.search(r"(\d+) partitions in .*?; (?:would report|reported) (\d+) to", stderr)
    assert found, stderr
    return int(found[1]), int(found[2])


def test_a_new_home_learns_the_lake_once(landed: Lake, tmp_path: Path, calendar: TradingCalendar) -> None:
    sessions = {d.isoformat() for d in calendar.sessions(dt.date.fromisoformat(START), dt.date.fromisoformat(END))}
    assert len(sessions) == 28  # MLK Day and the weekends are not sessions
    assert landed.read("sentiment_bronze").is_empty()  # run on every session, no row written
    record = landed.read("materializations")
    assert record.height == 7 and set(record["range_start"]) == {dt.date(2018, 1, 2)}  # one row per asset and run
    home = new_home(tmp_path, "home")

    first = lakehouse_cli("sync-ui", "--lake", landed.root, home=home)
    assert first.returncode == 0, first.stderr
    assert f"ohlcv_daily: {len(sessions)} partitions in the lake, 0 known, {len(sessions)} reported" in first.stderr
    assert "forecasts: 0 partitions in the lake, 0 known, 0 reported" in first.stderr  # not run: not shown
    assert "no materializations record" not in first.stderr

    instance = dg.DagsterInstance.from_config(str(home))
    for asset in ("ohlcv_bronze", "sentiment_bronze", "ohlcv_daily", "features", "market_regimes", "drift_reports"):
        assert instance.get_materialized_partitions(dg.AssetKey(asset)) == sessions, asset
    # not run, though its table (drift_reports') holds these days
    for asset in ("forecasts", "model_fits", "prediction_drift"):
        assert instance.get_materialized_partitions(dg.AssetKey(asset)) == set(), asset
    latest = instance.get_latest_materialization_event(dg.AssetKey("sentiment_bronze"))
    assert latest is not None and latest.asset_materialization is not None
    metadata = latest.asset_materialization.metadata
    assert metadata["lakehouse/synced_from"].value == "materializations"
    assert metadata["lakehouse/run_id"].value == record["run_id"][0]
    assert metadata["table_version"].value == landed.open("sentiment_bronze").version()
    held, reported = summary(first.stderr)
    assert held == reported == 7 * len(sessions)

    again = lakehouse_cli("sync-ui", "--lake", landed.root, home=home)
    assert again.returncode == 0, again.stderr
    assert summary(again.stderr) == (held, 0)
    assert f"features: {len(sessions)} partitions in the lake, {len(sessions)} known, 0 reported" in again.stderr
    records = instance.fetch_materializations(dg.AssetKey("features"), limit=1000).records
    assert len(records) == len(sessions)  # one event per partition, none added by the second sync


def test_a_lake_written_before_the_record_syncs_from_its_dates(landed: Lake, tmp_path: Path) -> None:
    """Without the record (as every lake before it), a partition is a day the table holds
    rows for: the day-less ``sentiment_bronze`` is missed, the shared table counts for both
    of its assets, and the output says why."""
    old = Lake(shutil.copytree(landed.root, tmp_path / "old"))
    shutil.rmtree(Path(old.root) / "materializations")
    home = new_home(tmp_path, "home")
    synced = lakehouse_cli("sync-ui", "--lake", old.root, home=home)
    assert synced.returncode == 0, synced.stderr
    assert f"no materializations record in {old.root}" in synced.stderr
    assert "ohlcv_daily: 28 partitions in the lake, 0 known, 28 reported" in synced.stderr
    assert "sentiment_bronze: 0 partitions in the lake" in synced.stderr
    assert "prediction_drift: 28 partitions in the lake" in synced.stderr
    assert summary(synced.stderr) == (7 * 28, 7 * 28)
    latest = dg.DagsterInstance.from_config(str(home)).get_latest_materialization_event(dg.AssetKey("ohlcv_daily"))
    assert latest is not None and latest.asset_materialization is not None
    assert latest.asset_materialization.metadata["lakehouse/synced_from"].value == "dates"


def test_a_lake_that_began_its_record_late_keeps_its_older_days(landed: Lake, tmp_path: Path) -> None:
    """An old lake run on with this code: the record has only the new day, the tables' dates
    tell the days before it (once; a re-run of the day records nothing new)."""
    lake = Lake(shutil.copytree(landed.root, tmp_path / "upgraded"))
    shutil.rmtree(Path(lake.root) / "materializations")
    day = "2018-02-12"
    versions = []
    for _ in range(2):
        result = run_pipeline(lake.root, day, day, groups=("bronze",))
        assert result.success, step_errors(result)
        assert lake.read("materializations").height == 2  # ohlcv_bronze and sentiment_bronze, that day
        versions.append(lake.open("materializations").version())
    assert versions[1] == versions[0]  # the re-run committed nothing

    synced = lakehouse_cli("sync-ui", "--lake", lake.root, home=new_home(tmp_path, "home"))
    assert synced.returncode == 0, synced.stderr
    assert "ohlcv_bronze: 29 partitions in the lake, 0 known, 29 reported" in synced.stderr
    assert "sentiment_bronze: 1 partitions in the lake, 0 known, 1 reported" in synced.stderr
    assert "ohlcv_daily: 28 partitions in the lake" in synced.stderr  # not run on the new day
    # a shared table's days belong to neither asset once the lake keeps the record
    assert "drift_reports: 0 partitions in the lake" in synced.stderr


def test_dry_run_counts_and_reports_nothing(landed: Lake, tmp_path: Path) -> None:
    home = new_home(tmp_path, "dry")
    dry = lakehouse_cli("sync-ui", "--lake", landed.root, "--dry-run", home=home)
    assert dry.returncode == 0, dry.stderr
    held, to_report = summary(dry.stderr)
    assert held == to_report > 0
    assert "would report" in dry.stderr
    instance = dg.DagsterInstance.from_config(str(home))
    for asset in ("ohlcv_daily", "features"):
        assert instance.get_materialized_partitions(dg.AssetKey(asset)) == set(), asset


def test_no_lake_is_a_usage_error(tmp_path: Path) -> None:
    missing = lakehouse_cli("sync-ui", "--lake", str(tmp_path / "nowhere"), home=new_home(tmp_path, "home"))
    assert missing.returncode == 2
    assert "no lake at" in missing.stderr
