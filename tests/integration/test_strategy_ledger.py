"""The prediction ledger through Dagster: pieces equal the backfill, one day's actuals are one
MERGE that touches nothing else, re-runs change nothing, and yesterday's weights score today."""

import datetime as dt
import math
import shutil
from pathlib import Path

import dagster as dg
import polars as pl

from lakehouse_assets.lake.delta import Lake
from tests.conftest import SMALL_RANGE, run_pipeline, snapshot, step_errors

LEDGER = ("strategy_predictions", "variance_analysis", "strategy_weights", "backtest_metrics", "sector_performance")


def without_ledger(source: Lake, target: Path) -> Lake:
    """A copy of the lake with every upstream table and no ledger table."""
    copy = Lake(shutil.copytree(source.root, target))
    for name in LEDGER:
        shutil.rmtree(Path(copy.root) / name)
    return copy


def run_ledger(lake: Lake, start: str, end: str, config: str) -> dg.ExecuteInProcessResult:
    result = run_pipeline(lake.root, start, end, config_dir=config, groups=("strategy",))
    assert result.success, step_errors(result)
    return result


def test_the_backfill_has_every_table_and_every_strategy(small_lake: Lake) -> None:
    predictions = small_lake.read("strategy_predictions")
    assert predictions.height > 100
    assert predictions["prediction_id"].is_unique().all()
    assert set(predictions["strategy_type"]) == {
        "iron_condor", "bull_put_spread", "bear_call_spread", "swing_momentum", "mean_reversion", "forecast_follow"
    }  # fmt: skip
    closed = predictions.filter(pl.col("exit_date").is_not_null())
    assert closed.filter(pl.col("exit_date") < pl.col("date")).is_empty()
    assert closed.filter(
        (pl.col("prediction_error") - (pl.col("predicted_return_pct") - pl.col("actual_pnl_pct"))).abs() > 1e-12
    ).is_empty()
    assert set(closed["exit_reason"]) <= {"stop", "target", "time", "expiry"}
    # entries at the open of the session after the signal day
    assert (predictions["timestamp"].dt.hour() >= 13).all() and (predictions["signal_date"] < predictions["date"]).all()
    last = dt.date.fromisoformat(SMALL_RANGE[1])
    for name in LEDGER[1:]:
        assert not small_lake.read(name, last, last).is_empty(), name


def test_pieces_equal_the_backfill(small_lake: Lake, small_config: str, tmp_path: Path) -> None:
    pieces = without_ledger(small_lake, tmp_path / "pieces")
    for start, end in ((SMALL_RANGE[0], "2016-08-15"), ("2016-08-16", "2016-08-16"), ("2016-08-17", SMALL_RANGE[1])):
        run_ledger(pieces, start, end, small_config)
    for name in LEDGER:
        assert snapshot(pieces, name).equals(snapshot(small_lake, name)), name


def test_one_days_actuals_are_one_merge_that_leaves_every_other_row_identical(
    small_lake: Lake, small_config: str, tmp_path: Path
) -> None:
    september = small_lake.read("strategy_predictions", dt.date(2016, 9, 1)).filter(pl.col("exit_date").is_not_null())
    day = september.group_by("exit_date").len().sort("len", "exit_date", descending=True)["exit_date"][0]
    lake = without_ledger(small_lake, tmp_path / "lake")
    run_ledger(lake, SMALL_RANGE[0], (day - dt.timedelta(days=1)).isoformat(), small_config)
    before = snapshot(lake, "strategy_predictions")
    version = lake.stats("strategy_predictions").version

    run_ledger(lake, day.isoformat(), day.isoformat(), small_config)
    after = snapshot(lake, "strategy_predictions")
    history = lake.history("strategy_predictions")
    assert history[0]["version"] == version + 1 and history[0]["operation"] == "MERGE"  # one commit for the day

    exited = after.filter(pl.col("exit_date") == day)["prediction_id"]
    entered = after.filter(pl.col("date") == day)["prediction_id"]
    assert exited.len() > 0 and entered.len() > 0
    untouched = ~pl.col("prediction_id").is_in(exited.to_list() + entered.to_list())
    assert after.filter(untouched).equals(before.filter(untouched))  # every other row identical
    assert after.height == before.height + entered.len()
    filled = after.filter(pl.col("prediction_id").is_in(exited.to_list()))
    was = before.filter(pl.col("prediction_id").is_in(exited.to_list()))
    entry_columns = [c for c in before.columns if c not in ("exit_date", "actual_pnl_pct", "actual_pnl", "exit_time",
                     "exit_reason", "prediction_error", "exit_price", "holding_days")]  # fmt: skip
    assert filled.select(entry_columns).sort("prediction_id").equals(was.select(entry_columns).sort("prediction_id"))
    assert was["exit_date"].null_count() == was.height and filled["actual_pnl"].null_count() == 0

    versions = {name: lake.stats(name).version for name in LEDGER}
    run_ledger(lake, day.isoformat(), day.isoformat(), small_config)  # re-running the day changes nothing
    assert {name: lake.stats(name).version for name in LEDGER} == versions
    assert snapshot(lake, "strategy_predictions").equals(after)


def test_yesterdays_weights_score_todays_entries_in_data_and_in_lineage(small_lake: Lake) -> None:
    predictions = small_lake.read("strategy_predictions")
    weights = small_lake.read("strategy_weights").rename({"as_of": "signal_date", "regime": "regime_at_entry"})
    scored = predictions.join(weights, on=["signal_date", "strategy_type", "regime_at_entry"], how="left")
    assert scored["weight_right"].null_count() == 0  # every entry found the previous session's weight
    assert (scored["weight"] == scored["weight_right"]).all()
    expected = (100 * scored["confidence"] * scored["weight_right"]).clip(upper_bound=100)
    assert all(math.isclose(a, b, rel_tol=1e-12) for a, b in zip(scored["predicted_score"], expected, strict=True))
    assert (scored["weight_right"] != 1.0).any()  # the loop is closed: some weights moved off the base

    from lakehouse_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    node = graph.get(dg.AssetKey("strategy_weights"))
    assert dg.AssetKey("strategy_weights") in node.parent_keys  # depends on its own previous partition
    mapping = node.partition_mappings[dg.AssetKey("strategy_weights")]
    assert isinstance(mapping, dg.TimeWindowPartitionMapping) and (mapping.start_offset, mapping.end_offset) == (-1, -1)


def test_rerunning_the_range_commits_nothing(small_lake: Lake, small_config: str, tmp_path: Path) -> None:
    lake = Lake(shutil.copytree(small_lake.root, tmp_path / "again"))
    versions = {name: lake.stats(name).version for name in LEDGER}
    run_ledger(lake, *SMALL_RANGE, small_config)
    assert {name: lake.stats(name).version for name in LEDGER} == versions


def test_both_regimes_at_entry_and_a_backtest_marked_to_market(small_lake: Lake) -> None:
    """regime_at_entry is the symbol's regime on the signal day, market_regime_at_entry the
    index's; the last day's backtest counts the positions still open at their marks."""
    predictions = small_lake.read("strategy_predictions")
    regimes = small_lake.read("market_regimes").select(
        "symbol", pl.col("date").alias("signal_date"), "regime", "market_regime"
    )
    joined = predictions.join(regimes, on=["symbol", "signal_date"], how="left")
    assert (joined["regime_at_entry"] == joined["regime"].fill_null("unknown")).all()
    assert (joined["market_regime_at_entry"] == joined["market_regime"].fill_null("unknown")).all()
    index = small_lake.read("market_regimes").filter(pl.col("symbol") == "^GSPC").select("date", index="regime")
    days = regimes.rename({"signal_date": "date"}).join(index, on="date", how="inner")
    assert (days["market_regime"].fill_null("-") == days["index"].fill_null("-")).all()  # the index's regime

    last = dt.date.fromisoformat(SMALL_RANGE[1])
    row = small_lake.read("backtest_metrics", last, last).filter(pl.col("strategy_type") == "all").row(0, named=True)
    still_open = predictions.filter(pl.col("exit_date").is_null() | (pl.col("exit_date") > last))
    assert row["open_positions"] == still_open.height > 0
    assert math.isclose(row["equity"], row["capital"] + row["total_pnl"] + row["unrealized_pnl"], rel_tol=1e-12)
    assert row["trades"] == predictions.height - still_open.height
