"""Features and regimes through Dagster: a day alone equals the day inside a backfill.

The day alone reads a bounded window (``features.LOOKBACK_BARS`` sessions of bars, the
regime rules' ``lookback_rows`` sessions of features). The day is 760 sessions into the
backfill: the bars' window starts after the first bar, so its features come from a
truncated history (equal to 1e-9 relative: the recursive indicators have forgotten their
start, and the last bits of rolling sums may differ), while the regimes' window (1259
sessions) reaches past the first row, so every symbol is read from its first row (the
per-symbol fallback). tests/core/test_features.py and test_regimes.py check days far
beyond both windows, gaps and late listings.
"""

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from lakehouse_assets.core.features import LOOKBACK_BARS
from lakehouse_assets.lake.catalog import table
from lakehouse_assets.lake.delta import Lake, empty_frame
from tests.conftest import run_pipeline, snapshot, step_errors

FIRST, LAST = "2014-11-03", "2017-11-30"
DAY = dt.date(2017, 11, 8)  # 760 sessions after FIRST (MSFT's bundled bars end on 2017-11-10)
SILVER = ("features", "market_regimes")


def test_a_day_materialized_alone_equals_the_day_inside_a_multi_year_backfill(tmp_path: Path) -> None:
    whole = Lake(tmp_path / "whole")
    backfill = run_pipeline(whole.root, FIRST, LAST, groups=("bronze", "silver"))
    assert backfill.success, step_errors(backfill)
    # the same lake, but with the day's features and regimes never computed
    alone = Lake(shutil.copytree(whole.root, tmp_path / "alone"))
    for name in SILVER:
        alone.sync_range(name, empty_frame(table(name)), DAY, DAY)
        assert alone.read(name, DAY, DAY).is_empty()
    single = run_pipeline(alone.root, DAY.isoformat(), DAY.isoformat(), groups=("bronze", "silver"))
    assert single.success, step_errors(single)
    for name in SILVER:
        assert_frame_equal(snapshot(alone, name), snapshot(whole, name), check_exact=False, rel_tol=1e-9, abs_tol=1e-12)
    # the bound was used: every symbol has bars before the window of the day
    assert (
        whole.read("ohlcv_daily", None, DAY - dt.timedelta(days=1)).group_by("symbol").len()["len"].min()
        > LOOKBACK_BARS
    )
    day = whole.read("market_regimes", DAY, DAY).sort("symbol")
    assert day["symbol"].to_list() == ["MSFT", "^GSPC", "^IXIC"]
    assert day["regime"].null_count() == 0 and set(day["market_regime"]) == {"normal"}
    features = whole.read("features", DAY, DAY)
    assert features.select(pl.all().null_count()).row(0) == (0,) * 19 + (3, 3)  # stub sentiment only
