"""Features and regimes through Dagster: a day alone equals the day inside a backfill."""

import datetime as dt
import shutil
from pathlib import Path

import polars as pl

from lakehouse_assets.lake.catalog import table
from lakehouse_assets.lake.delta import Lake, empty_frame
from tests.conftest import run_pipeline, snapshot, step_errors

DAY = dt.date(2017, 6, 15)
SILVER = ("features", "market_regimes")


def test_a_day_materialized_alone_equals_the_day_inside_a_multi_year_backfill(tmp_path: Path) -> None:
    whole = Lake(tmp_path / "whole")
    backfill = run_pipeline(whole.root, "2015-01-02", "2017-12-29", groups=("bronze", "silver"))
    assert backfill.success, step_errors(backfill)
    # the same lake, but with the day's features and regimes never computed
    alone = Lake(shutil.copytree(whole.root, tmp_path / "alone"))
    for name in SILVER:
        alone.sync_range(name, empty_frame(table(name)), DAY, DAY)
        assert alone.read(name, DAY, DAY).is_empty()
    single = run_pipeline(alone.root, DAY.isoformat(), DAY.isoformat(), groups=("bronze", "silver"))
    assert single.success, step_errors(single)
    for name in SILVER:
        assert snapshot(alone, name).equals(snapshot(whole, name)), name
    day = whole.read("market_regimes", DAY, DAY).sort("symbol")
    assert day["symbol"].to_list() == ["MSFT", "^GSPC", "^IXIC"]
    assert day["regime"].null_count() == 0 and set(day["market_regime"]) == {"normal"}
    features = whole.read("features", DAY, DAY)
    assert features.select(pl.all().null_count()).row(0) == (0,) * 19 + (3, 3)  # stub sentiment only
