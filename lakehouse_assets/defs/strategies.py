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
import functools
from collections.abc import Iterator

import dagster as dg
import polars as pl

from lakehouse_assets.config import Config
from lakehouse_assets.core import book, checks, strategies
from lakehouse_assets.core.calendar import TradingCalendar
from lakehouse_assets.defs import checks as asset_checks
from lakehouse_assets.defs.common import finish, partitioned_multi_asset, table_spec
from lakehouse_assets.defs.partitions import partition_dates
from lakehouse_assets.defs.resources import LakehouseResource, SourcesResource
from lakehouse_assets.lake.catalog import TABLES
from lakehouse_assets.lake.delta import Lake

PREVIOUS_SESSION = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)
PLOTS = {"strategy_weights": "strategy_weights", "backtest_metrics": "equity_curves"}  # table -> its plot


SPECS = [
    table_spec("strategy_predictions", "strategy", ["ohlcv_daily", "features", "market_regimes", "forecasts"]),
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
def strategy_ledger(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource, sources: SourcesResource
) -> Iterator[dg.MaterializeResult]:
    """Enter, exit, analyse the variance and re-weight, day by day over the range."""
    start, end = partition_dates(context)
    config, lake, calendar = lakehouse.config(), lakehouse.lake(), lakehouse.calendar()
    run = _ledger(lake, config, calendar, sources.universe(config), start, end)
    written = lake.merge("strategy_predictions", run.predictions, delete_range=(start, end))
    results = {name: lake.sync_range(name, frame, start, end) for name, frame in run.tables.items()}
    context.log.info(
        f"strategy ledger {start}..{end}: {run.entered.height} entries, {run.exits} exits, "
        f"{run.open_positions} positions still open"
    )
    bounds = book.ledger_bounds(config.variance)
    entered = run.entered
    by_strategy = dict(entered.group_by("strategy_type").len().iter_rows())
    yield finish(
        context,
        lake,
        written,
        entered,
        parts=lambda _: _within(bounds, "strategy_predictions", entered),  # this run's entries
        metadata={
            "entries": entered.height,
            "exits": run.exits,
            "open_positions": run.open_positions,
            "entries_by_strategy": dg.MetadataValue.json(by_strategy),
        },
    )
    for name, frame in run.tables.items():
        plot = (config, PLOTS[name]) if name in PLOTS else None
        yield finish(context, lake, results[name], frame, parts=functools.partial(_within, bounds, name), plot=plot)


def _within(bounds: dict[str, dict[str, book.Bounds]], table: str, rows: pl.DataFrame) -> dict[str, checks.Outcome]:
    """The table's bound checks (:func:`book.ledger_bounds`) on ``rows``."""
    return {check: checks.within(rows, limits, list(TABLES[table].keys)) for check, limits in bounds[table].items()}


def _ledger(
    lake: Lake, config: Config, calendar: TradingCalendar, symbols: list[str], start: dt.date, end: dt.date
) -> book.Ledger:
    """The symbols' ledger over ``start..end`` (:func:`book.run_ledger`), from the stored rows it needs."""
    in_universe = pl.col("symbol").is_in(symbols)
    signal_day = book.signal_day(calendar, start)
    stored = lake.read("strategy_predictions", where=in_universe)
    return book.run_ledger(
        config.strategies,
        config.variance,
        calendar,
        config.sectors.sector,
        start,
        end,
        signals=_signals(lake, config, calendar, symbols, signal_day, end),
        ohlcv=lake.read(
            "ohlcv_daily", start, end, where=in_universe, columns=["symbol", "date", "open", "high", "low", "close"]
        ),
        ledger=stored,
        weights=lake.read("strategy_weights", signal_day, signal_day),
        closes=lake.read(
            "ohlcv_daily", book.first_mark(stored, start), end, where=in_universe, columns=["symbol", "date", "close"]
        ),
    )


def _signals(
    lake: Lake, config: Config, calendar: TradingCalendar, symbols: list[str], first: dt.date, end: dt.date
) -> dict[dt.date, list[strategies.Signal]]:
    """The symbols' signals by session in ``first..end`` (:func:`book.signals`)."""
    rules, horizon = config.strategies, max(config.forecasting.horizons)
    in_universe = pl.col("symbol").is_in(symbols)
    champion = in_universe & pl.col("is_champion")
    columns = ["symbol", "date", "close", "rsi_14", "momentum_20", "sma_20", "sma_50", "adx_14", "realized_vol_21"]
    return book.signals(
        lake.read("features", first, end, where=in_universe, columns=[*columns, "sentiment_score"]),
        lake.read(
            "market_regimes",
            first,
            end,
            where=in_universe,
            columns=["symbol", "date", "regime", "trend", "market_regime"],
        ),
        lake.read(
            "forecasts",
            first,
            end,
            where=champion & (pl.col("horizon") == rules.forecast_horizon),
            columns=["symbol", "date", "point", "volatility", "prob_up"],
        ),
        lake.read(
            "forecasts",
            first,
            end,
            where=champion & (pl.col("horizon") == horizon),
            columns=["symbol", "date", "point"],
        ),
        lake.read(
            "forecasts",
            calendar.shift_sessions(first, -rules.iv_rank_window),
            end,
            where=in_universe & (pl.col("model") == "garch") & (pl.col("horizon") == horizon),
            columns=["symbol", "date", "volatility"],
        ),
        horizon=horizon,
        rules=rules,
    )
