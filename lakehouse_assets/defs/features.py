"""Silver assets over validated bars: technical features and market regimes."""

import dagster as dg
import polars as pl

from lakehouse_assets.core import checks
from lakehouse_assets.core import features as feature_math
from lakehouse_assets.core import regimes as regime_rules
from lakehouse_assets.defs import checks as asset_checks
from lakehouse_assets.defs.common import finish, partitioned_asset, read_history
from lakehouse_assets.defs.partitions import partition_dates
from lakehouse_assets.defs.resources import LakehouseResource, SourcesResource
from lakehouse_assets.lake.catalog import TABLES


@partitioned_asset(
    group_name="silver",
    deps=["ohlcv_daily", "sentiment_daily"],
    description=TABLES["features"].description,
    check_specs=asset_checks.specs("features"),
)
def features(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource, sources: SourcesResource
) -> dg.MaterializeResult:
    """Indicators of every symbol for the partition range, computed in one vectorized pass.

    Reads ``LOOKBACK_BARS`` sessions of bars before the range (a symbol with fewer there:
    from its first bar): enough for the recursive indicators (EMA, Wilder RSI/ADX) to have
    forgotten their start to 1e-12, so a day comes out the same, to 1e-9, whether it runs
    alone or in a backfill, and a day's cost does not grow with the years stored. Bars
    landed later for earlier dates change those indicators; re-materialize then.
    ``feature_bounds`` also fails on a close-based feature null after its warm-up (defence
    in depth: only a missing or non-finite close, which validation rejects, makes one).
    """
    start, end = partition_dates(context)
    config, lake = lakehouse.config(), lakehouse.lake()
    symbols = sources.universe(config)
    in_universe = pl.col("symbol").is_in(symbols)
    calendar, lookback = lakehouse.calendar(), feature_math.LOOKBACK_BARS
    bars = read_history(
        lake, calendar, "ohlcv_daily", start, end, lookback, in_universe, list(feature_math.BAR_COLUMNS)
    )
    sentiment = lake.read(
        "sentiment_daily", start, end, where=in_universe, columns=["symbol", "date", "score", "confidence", "source"]
    )
    # bar numbers count from the window's start: past every warm-up on the range, unless the
    # symbol was read from its first bar; then they are its own
    bar = bars.select("symbol", "date").sort("symbol", "date").with_columns(feature_math.bar_number())
    numbered = feature_math.compute_features(bars, sentiment, since=start)
    numbered = numbered.join(bar, on=["symbol", "date"], how="left", maintain_order="left")
    numbered = numbered.filter(pl.col("date").is_between(start, end))
    frame = numbered.drop("bar")
    result = lake.sync_range("features", frame, start, end, {"symbol": symbols})
    warm_up = frame.filter(pl.any_horizontal(pl.col(c).is_null() for c in feature_math.FEATURE_COLUMNS)).height
    context.log.info(f"features {start}..{end}: {frame.height} rows from {bars.height} bars of history")
    return finish(
        context,
        lake,
        result,
        frame,
        where=in_universe,
        parts=lambda table: {"feature_bounds": _feature_bounds(table, numbered)},
        metadata={"history_bars_read": bars.height, "warm_up_rows": dg.MetadataValue.int(warm_up)},
    )


def _feature_bounds(table: pl.DataFrame, numbered: pl.DataFrame) -> checks.Outcome:
    """Features finite and within their bounds in ``table``, and none null after its warm-up
    in ``numbered`` (the range's rows with each symbol's bar number)."""
    bounds: dict[str, tuple[float | None, float | None]] = {c: (None, None) for c in feature_math.FEATURE_COLUMNS}
    bounds |= {"rsi_14": (0, 100), "adx_14": (0, 100), "realized_vol_21": (0, None), "close": (0, None)}
    return _first_failed(
        checks.within(table, bounds, ["symbol", "date"]),
        checks.warmed_up(numbered, feature_math.WARM_UP, ["symbol", "date"]),
    )


def _first_failed(*outcomes: checks.Outcome) -> checks.Outcome:
    """One part made of several predicates: the first that failed, else the first."""
    return next((o for o in outcomes if not o.passed), outcomes[0])


@partitioned_asset(
    group_name="silver",
    deps=["features"],
    description=TABLES["market_regimes"].description,
    check_specs=asset_checks.specs("market_regimes"),
)
def market_regimes(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource, sources: SourcesResource
) -> dg.MaterializeResult:
    """Regime and trend labels by the rules of ``config/regimes.yaml``, plus the market's.

    The market-wide labels come from the index symbol's features wherever they are in
    the lake, even when the run's universe leaves the index out.
    """
    start, end = partition_dates(context)
    config, lake = lakehouse.config(), lakehouse.lake()
    symbols = sources.universe(config)
    index = config.universe.index_symbol
    wanted = pl.col("symbol").is_in([*symbols, index])
    # the rules look back lookback_rows rows of a symbol; fewer in that many sessions: all of its rows
    lookback = regime_rules.lookback_rows(config.regimes)
    history = read_history(
        lake, lakehouse.calendar(), "features", start, end, lookback, wanted, list(regime_rules.INPUT_COLUMNS)
    )
    labels = regime_rules.classify(history, config.regimes, index, since=start)
    frame = labels.filter(pl.col("date").is_between(start, end) & pl.col("symbol").is_in(symbols))
    result = lake.sync_range("market_regimes", frame, start, end, {"symbol": symbols})
    no_market = frame.filter(pl.col("market_regime").is_null()).height
    if no_market:
        context.log.warning(f"{no_market} rows have no market regime: {index} has no labelled features there")
    counts = frame.group_by("regime").len().sort("regime", nulls_last=True)
    return finish(
        context,
        lake,
        result,
        frame,
        where=pl.col("symbol").is_in(symbols),
        parts=lambda table: {"known_labels": _known_labels(table)},
        metadata={
            "regime_counts": dg.MetadataValue.json({str(r): n for r, n in counts.iter_rows()}),
            "rows_without_market_regime": no_market,
        },
        plot=(config, "regime_timeline"),
    )


def _known_labels(table: pl.DataFrame) -> checks.Outcome:
    """Every regime and trend label of ``table``, the symbol's and the market's, from the configured set."""
    return _first_failed(
        *(
            checks.labels_known(table, column, known, ["symbol", "date"])
            for column, known in (
                ("regime", regime_rules.REGIMES),
                ("market_regime", regime_rules.REGIMES),
                ("trend", regime_rules.TRENDS),
                ("market_trend", regime_rules.TRENDS),
            )
        )
    )
