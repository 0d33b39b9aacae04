"""The `fresh` check of ohlcv_daily, run by its own job as the freshness schedule runs it."""

import datetime as dt

import dagster as dg
import polars as pl

from lakehouse_assets.build import build_definitions
from lakehouse_assets.config import load_config
from lakehouse_assets.defs.checks import last_closed_session
from lakehouse_assets.lake.catalog import TABLES
from lakehouse_assets.lake.delta import Lake
from tests.conftest import REPO


def run_check(lake: Lake) -> dg.AssetCheckEvaluation:
    defs = build_definitions(load_config(REPO / "config"), lake_uri=lake.root)
    result = defs.resolve_job_def("freshness_job").execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success  # a stale lake is a WARN check result, not a failed run
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def bar(day: dt.date) -> pl.DataFrame:
    row = {c: None for c in TABLES["ohlcv_daily"].schema} | {"symbol": "^GSPC", "date": day}
    row |= {"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0}
    return pl.DataFrame([row], schema=TABLES["ohlcv_daily"].schema)


def test_fresh_fails_on_an_old_lake_and_passes_one_session_behind(lake: Lake, calendar) -> None:  # type: ignore[no-untyped-def]
    expected = last_closed_session(calendar, dt.datetime.now(dt.UTC))
    assert calendar.close_time(expected) <= dt.datetime.now(dt.UTC)

    lake.merge("ohlcv_daily", bar(dt.date(2018, 12, 31)))
    stale = run_check(lake)
    assert (stale.check_name, stale.passed, stale.severity) == ("fresh", False, dg.AssetCheckSeverity.WARN)
    assert "sessions behind" in (stale.description or "")

    lake.merge("ohlcv_daily", bar(calendar.previous_session(expected)))
    fresh = run_check(lake)
    assert fresh.passed and fresh.metadata["sessions_behind"].value == 1
