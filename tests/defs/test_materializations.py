"""The lake records every asset materialization (``materializations``), the assets that wrote
no row included: one row per asset and run, and re-running a range or a part of it commits
nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from lakehouse_assets.build import build_definitions
from lakehouse_assets.config import load_config
from lakehouse_assets.lake.delta import Lake
from tests.conftest import run_pipeline, step_errors

START, END = dt.date(2017, 11, 13), dt.date(2017, 11, 24)


def test_every_asset_records_its_range_once_even_when_it_wrote_nothing(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    graph = build_definitions(load_config(None), lake_uri=lake.root).resolve_asset_graph()
    assets = {key.to_user_string() for key in graph.materializable_asset_keys}
    assert len(assets) == 18

    first = run_pipeline(lake.root, START.isoformat(), END.isoformat(), symbols=["^GSPC"])
    assert first.success, step_errors(first)
    # two weeks of a new lake: too little history to fit or forecast, no sentiment landed
    for empty in ("forecasts", "model_fits", "sentiment_bronze", "strategy_predictions"):
        assert lake.read(empty).is_empty(), empty
    record = lake.read("materializations").sort("asset")
    rows = set(record.select("asset", "range_start", "range_end", "run_id").iter_rows())
    assert rows == {(asset, START, END, first.run_id) for asset in assets}
    version = lake.open("materializations").version()

    again = run_pipeline(lake.root, START.isoformat(), END.isoformat(), symbols=["^GSPC"])
    assert again.success, step_errors(again)
    part = run_pipeline(lake.root, END.isoformat(), END.isoformat(), symbols=["^GSPC"], groups=("bronze",))
    assert part.success, step_errors(part)
    assert lake.open("materializations").version() == version  # the range, and a part of it, were recorded
    assert lake.read("materializations").sort("asset").equals(record)

    later = run_pipeline(lake.root, END.isoformat(), "2017-11-27", symbols=["^GSPC"], groups=("bronze",))
    assert later.success, step_errors(later)
    added = lake.read("materializations").filter(run_id=later.run_id)
    assert sorted(added["asset"]) == ["ohlcv_bronze", "sentiment_bronze"]
    assert set(added["range_start"]) == {END} and set(added["range_end"]) == {dt.date(2017, 11, 27)}
