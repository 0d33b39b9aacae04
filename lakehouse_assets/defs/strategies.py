"""Gold assets: the prediction ledger and the weights feedback loop (logic in ``core.book``).

One multi-asset, processed day by day, because each day needs the day before: a day's
entries are scored with the previous session's ``strategy_weights``, those weights come
from the variance of predictions completed by then, and a position entered on one day is
closed (its actuals filled) on a later one. ``strategy_weights`` therefore depends on its
own previous partition, which is how the loop shows in Dagster's lineage. A range is
written with one MERGE per table: entries of the range, and actuals of every position
that exits in it (including positions entered before the range); no other row changes.
"""

import datetime as dt

import dagster as dg
import polars as pl

from lakehouse_assets.config import Config
from lakehouse_assets.core import backtest, book, checks, strategies, variance
from lakehouse_assets.core.calendar import TradingCalendar
from lakehouse_assets.core.regimes import REGIMES
from lakehouse_assets.defs import checks as asset_checks
from lakehouse_assets.defs.common import (
    materialized,
    partitioned_multi_asset,
    plot_metadata,
    preview,
    table_spec,
    write_metadata,
)
from lakehouse_assets.defs.features import features, market_regimes
from lakehouse_assets.defs.ingest import ohlcv_daily
from lakehouse_assets.defs.partitions import partition_dates
from lakehouse_assets.defs.resources import LakehouseResource, SourcesResource
from lakehouse_assets.lake.catalog import TABLES
from lakehouse_assets.lake.delta import Lake

PREVIOUS_SESSION = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)
WEIGHT_REGIMES = [*REGIMES, strategies.UNKNOWN_REGIME]


SPECS = [
    table_spec("strategy_predictions", "strategy", [ohlcv_daily, features, market_regimes, "forecasts"]),
    table_spec("variance_analysis", "strategy", ["strategy_predictions"]),
    table_spec(
        "strategy_weights",
        "strategy",
        ["variance_analysis", dg.AssetDep("strategy_weights", partition_mapping=PREVIOUS_SESSION)],
    ),
    table_spec("backtest_metrics", "strategy", ["strategy_predictions"]),
    table_spec("sector_performance", "strategy", ["strategy_predictions"]),
]


@partitioned_multi_asset(
    specs=SPECS, name="strategy_ledger", check_specs=asset_checks.specs(*(s.key.path[-1] for s in SPECS))
)
def strategy_ledger(context: dg.AssetExecutionContext, lakehouse: LakehouseResource, sources: SourcesResource):  # type: ignore[no-untyped-def]
    """Enter, exit, analyse the variance and re-weight, day by day over the range."""
    start, end = partition_dates(context)
    config, lake, calendar = lakehouse.config(), lakehouse.lake(), lakehouse.calendar()
    rules = config.strategies
    symbols = sources.universe(config)
    days = calendar.sessions(start, end)
    first_signal = calendar.previous_session(start) or start

    signals = _signals(lake, config, calendar, symbols, first_signal, end)
    bars = book.bars(_ohlcv(lake, symbols, start, end))
    ledger = lake.read("strategy_predictions", where=pl.col("symbol").is_in(symbols))
    before = ledger.filter(pl.col("date") < start)
    still_open = before.filter(pl.col("exit_date").is_null() | (pl.col("exit_date") >= start))
    completed = before.filter(pl.col("exit_date").is_not_null() & (pl.col("exit_date") < start))
    weights = lake.read("strategy_weights", first_signal, first_signal)
    if weights.is_empty():  # the lake's first day: base weights (with their regime adjustments)
        nothing = variance.analyze(before.clear(), first_signal, list(rules.enabled), config.variance)
        weights = variance.weights(nothing, first_signal, list(rules.enabled), WEIGHT_REGIMES, config.variance)

    ledger_book = book.Book(rules, config.variance, calendar, config.sectors.sector, still_open)
    run = book.run_days(ledger_book, days, signals, bars, completed, weights, WEIGHT_REGIMES)
    ledger_rows = ledger_book.frame(ledger, end)
    # every position to the range's end, marked at each close: the backtest's equity
    positions = pl.concat([completed, ledger_rows], how="vertical_relaxed")
    sessions = calendar.sessions(positions["date"].min(), end) if positions.height else days  # type: ignore[arg-type]
    closes = _closes(lake, positions, sessions)
    backtests = book.backtests(positions, closes, sessions, days, run.completed, rules)
    sectors = [
        backtest.sector_performance(d, day, rules.min_trades) for day, d in zip(days, run.completed, strict=True)
    ]

    written = lake.merge("strategy_predictions", ledger_rows, delete_range=(start, end))
    frames = {
        "variance_analysis": pl.concat(run.variance),
        "strategy_weights": pl.concat(run.weights),
        "backtest_metrics": pl.concat(backtests),
        "sector_performance": pl.concat(sectors),
    }
    results = {name: lake.sync_range(name, frame, start, end) for name, frame in frames.items()}

    entered = ledger_rows.filter(pl.col("date").is_between(start, end))
    exited = ledger_rows.filter(pl.col("exit_date").is_between(start, end))
    context.log.info(
        f"strategy ledger {start}..{end}: {entered.height} entries, {exited.height} exits, "
        f"{ledger_book.open_count()} positions still open"
    )
    yield materialized(
        context,
        "strategy_predictions",
        entered,
        asset_key="strategy_predictions",
        metadata={
            **write_metadata(written, entered, start, end),
            "entries": entered.height,
            "exits": exited.height,
            "open_positions": ledger_book.open_count(),
            "entries_by_strategy": dg.MetadataValue.json(dict(entered.group_by("strategy_type").len().iter_rows())),
            **preview(entered),
        },
    )
    yield from asset_checks.results(
        "strategy_predictions",
        {
            "unique_keys": checks.unique_keys(lake.read("strategy_predictions", start, end), ["prediction_id"]),
            "score_bounds": checks.within(
                entered, {"predicted_score": (0, 100), "confidence": (0, 1)}, ["prediction_id"]
            ),
        },
    )
    bounds = _bounds(config)
    plotted = {"strategy_weights": "strategy_weights", "backtest_metrics": "equity_curves"}  # table -> plot
    for name, frame in frames.items():
        metadata = {**write_metadata(results[name], frame, start, end), **preview(frame)}
        if name in plotted:
            metadata |= plot_metadata(context, lake, config, plotted[name], end)
        yield materialized(context, name, frame, metadata, asset_key=name)
        table, outcomes = asset_checks.table_outcomes(lake, name, start, end)
        extra = {check: checks.within(table, limits, list(TABLES[name].keys)) for check, limits in bounds[name].items()}
        yield from asset_checks.results(name, {**outcomes, **extra})


def _bounds(config: Config) -> dict[str, dict[str, dict[str, tuple[float | None, float | None]]]]:
    """Per table, check name -> column bounds."""
    rules = config.variance
    top = max(rules.strategy_weights.values(), default=1.0) * max(1.0, *rules.regime_adjustments.values())
    return {
        "variance_analysis": {"adjustment_bounds": {"weight_adjustment": (1 - rules.weight_adjustment_factor, 1.0)}},
        "strategy_weights": {"weight_bounds": {"weight": (0.0, top)}},
        "backtest_metrics": {},
        "sector_performance": {"accuracy_bounds": {"accuracy": (0.0, 1.0)}},
    }


def _signals(
    lake: Lake, config: Config, calendar: TradingCalendar, symbols: list[str], first: dt.date, end: dt.date
) -> dict[dt.date, list[strategies.Signal]]:
    """The symbols' signals by session in ``first..end`` (:func:`book.signals`)."""
    rules = config.strategies
    in_universe = pl.col("symbol").is_in(symbols)
    columns = ["symbol", "date", "close", "rsi_14", "momentum_20", "sma_20", "sma_50", "adx_14", "realized_vol_21"]
    feats = lake.read("features", first, end, where=in_universe, columns=[*columns, "sentiment_score"])
    regimes = lake.read(
        "market_regimes", first, end, where=in_universe, columns=["symbol", "date", "regime", "trend", "market_regime"]
    )
    champion = lake.read(
        "forecasts",
        first,
        end,
        where=in_universe & pl.col("is_champion") & (pl.col("horizon") == rules.forecast_horizon),
        columns=["symbol", "date", "point", "volatility", "prob_up"],
    )
    horizon = max(config.forecasting.horizons)
    longest = lake.read(
        "forecasts",
        first,
        end,
        where=in_universe & pl.col("is_champion") & (pl.col("horizon") == horizon),
        columns=["symbol", "date", "point"],
    ).select("symbol", "date", drift=pl.col("point") / horizon)
    garch = lake.read(
        "forecasts",
        calendar.shift_sessions(first, -rules.iv_rank_window),
        end,
        where=in_universe & (pl.col("model") == "garch") & (pl.col("horizon") == horizon),
        columns=["symbol", "date", "volatility"],
    )
    iv = book.iv_ranks(garch, horizon, rules.iv_rank_window, rules.iv_rank_min)
    return book.signals(feats, regimes, champion, longest, iv)


def _ohlcv(lake: Lake, symbols: list[str], start: dt.date, end: dt.date) -> pl.DataFrame:
    columns = ["symbol", "date", "open", "high", "low", "close"]
    return lake.read("ohlcv_daily", start, end, where=pl.col("symbol").is_in(symbols), columns=columns)


def _closes(lake: Lake, positions: pl.DataFrame, sessions: list[dt.date]) -> pl.DataFrame:
    """The closes the positions' marks need: their symbols, from the first entry on."""
    if not sessions:
        return pl.DataFrame(schema={"symbol": pl.String, "date": pl.Date, "close": pl.Float64})
    symbols = positions["symbol"].unique().to_list()
    where = pl.col("symbol").is_in(symbols)
    return lake.read("ohlcv_daily", sessions[0], sessions[-1], where=where, columns=["symbol", "date", "close"])
