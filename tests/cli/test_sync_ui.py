"""``lakehouse sync-ui``: a lake written under one Dagster home, opened with a new one, shows
its partitions as materialized after the sync (issue 19, item 5)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import dagster as dg
import pytest

from lakehouse_assets.core.calendar import TradingCalendar
from lakehouse_assets.lake.delta import Lake
from tests.conftest import lakehouse_cli, run_pipeline, step_errors

START, END = "2018-01-02", "2018-02-09"


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """Bronze and silver over six weeks, written with an ephemeral instance: no Dagster home
    knows of them."""
    lake = Lake(tmp_path_factory.mktemp("sync") / "lake")
    result = run_pipeline(lake.root, START, END, groups=("bronze", "silver"))
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
    home = new_home(tmp_path, "home")

    first = lakehouse_cli("sync-ui", "--lake", landed.root, home=home)
    assert first.returncode == 0, first.stderr
    assert f"ohlcv_daily: {len(sessions)} partitions in the lake, 0 known, {len(sessions)} reported" in first.stderr
    assert "forecasts: 0 partitions in the lake, 0 known, 0 reported" in first.stderr  # not run: not shown

    instance = dg.DagsterInstance.from_config(str(home))
    for asset in ("ohlcv_bronze", "ohlcv_daily", "features", "market_regimes"):
        assert instance.get_materialized_partitions(dg.AssetKey(asset)) == sessions, asset
    assert instance.get_materialized_partitions(dg.AssetKey("forecasts")) == set()
    latest = instance.get_latest_materialization_event(dg.AssetKey("features"))
    assert latest is not None and latest.asset_materialization is not None
    metadata = latest.asset_materialization.metadata
    assert metadata["lakehouse/synced_from"].value == "delta"
    assert metadata["table_version"].value == landed.open("features").version()
    held, reported = summary(first.stderr)
    assert held == reported >= 4 * len(sessions)

    again = lakehouse_cli("sync-ui", "--lake", landed.root, home=home)
    assert again.returncode == 0, again.stderr
    assert summary(again.stderr) == (held, 0)
    assert f"features: {len(sessions)} partitions in the lake, {len(sessions)} known, 0 reported" in again.stderr
    records = instance.fetch_materializations(dg.AssetKey("features"), limit=1000).records
    assert len(records) == len(sessions)  # one event per partition, none added by the second sync


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
