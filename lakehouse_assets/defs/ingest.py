"""Bronze and silver assets: bars and sentiment from the sources into validated tables."""

from pathlib import Path

import dagster as dg
import polars as pl

from lakehouse_assets.core import checks, ohlcv, sentiment
from lakehouse_assets.core.quarantine import file_record
from lakehouse_assets.defs import checks as asset_checks
from lakehouse_assets.defs.common import partitioned_asset, quarantine, utc_now, write_metadata
from lakehouse_assets.defs.partitions import partition_dates
from lakehouse_assets.defs.resources import LakehouseResource, SourcesResource
from lakehouse_assets.lake.catalog import TABLES
from lakehouse_assets.sources.ohlcv import LANDING_SOURCE


@partitioned_asset(
    group_name="bronze",
    description=TABLES["ohlcv_bronze"].description,
    check_specs=asset_checks.specs("ohlcv_bronze"),
)
def ohlcv_bronze(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource, sources: SourcesResource
) -> dg.MaterializeResult:
    """Typed bars of the partition range from the bundled data or the CSV landing.

    The range's rows of every file read are replaced by what the file now holds; rows of
    files not delivered this time are kept (landing directories are often incremental).
    Rows that cannot be typed go to quarantine. A file that cannot be read at all (e.g.
    no ``close`` column) is quarantined whole and its earlier rows are left as they were;
    the rest is written, then the asset fails naming the file and the column.
    """
    start, end = partition_dates(context)
    config, lake = lakehouse.config(), lakehouse.lake()
    raw, files, problems = sources.ohlcv_deliveries(config, start, end)
    bars, rejected = ohlcv.parse_bars(raw, config.exchange.timezone)
    bars = bars.filter(pl.col("date").is_between(start, end)).with_columns(ingested_at=pl.lit(utc_now()))
    result = lake.sync_range("ohlcv_bronze", bars, start, end, {"file": files})
    rejected = rejected.filter(pl.col("date").is_null() | pl.col("date").is_between(start, end))
    records = [file_record("ohlcv_bronze", p.file, p.reason, p.header, LANDING_SOURCE, p.symbol) for p in problems]
    quarantined = quarantine(lake, pl.concat([rejected, *records]))
    if problems:
        raise dg.Failure(
            description="; ".join(f"{Path(sources.ohlcv_dir or '') / p.file}: {p.reason}" for p in problems),
            metadata={"bad_files": [p.file for p in problems], "rows_written": bars.height},
        )
    context.log.info(f"ohlcv_bronze {start}..{end}: {bars.height} bars, {rejected.height} rejected")
    _, outcomes = asset_checks.table_outcomes(lake, "ohlcv_bronze", start, end)
    outcomes["quarantine_growth"] = checks.quarantine_growth(
        rejected.height, bars.height + rejected.height, config.checks
    )
    return dg.MaterializeResult(
        metadata={
            **write_metadata(result, bars, start, end),
            "rejected_rows": rejected.height,
            "quarantined_new": quarantined,
        },
        check_results=asset_checks.results("ohlcv_bronze", outcomes),
    )


@partitioned_asset(
    group_name="silver",
    deps=[ohlcv_bronze],
    description=TABLES["ohlcv_daily"].description,
    check_specs=asset_checks.specs("ohlcv_daily"),
)
def ohlcv_daily(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource, sources: SourcesResource
) -> dg.MaterializeResult:
    """Validated bars, one per symbol and session, with ``log_return``.

    Reads bronze from a few sessions before the range so that the first day's return
    uses the previous session's close, whether the day runs alone or in a backfill.
    """
    start, end = partition_dates(context)
    config, lake, calendar = lakehouse.config(), lakehouse.lake(), lakehouse.calendar()
    symbols = sources.universe(config)
    first = calendar.shift_sessions(start, -config.sources.ohlcv_lookback_sessions)
    bronze = lake.read("ohlcv_bronze", first, end, where=pl.col("symbol").is_in(symbols))
    valid, rejected = ohlcv.validate_bars(bronze, calendar)
    bars = ohlcv.add_log_return(valid, calendar.previous_session_frame(first, end))
    bars = bars.filter(pl.col("date").is_between(start, end)).select(list(TABLES["ohlcv_daily"].schema))
    result = lake.sync_range("ohlcv_daily", bars, start, end, {"symbol": symbols})
    rejected = rejected.filter(pl.col("date").is_between(start, end))
    quarantined = quarantine(lake, rejected)
    context.log.info(f"ohlcv_daily {start}..{end}: {bars.height} bars, {rejected.height} rejected")
    table, outcomes = asset_checks.table_outcomes(lake, "ohlcv_daily", start, end, pl.col("symbol").is_in(symbols))
    outcomes["ohlc_bounds"] = checks.ohlc_bounds(table)
    outcomes["symbols_present"] = checks.symbols_present(table, symbols, calendar.sessions(start, end))
    return dg.MaterializeResult(
        metadata={
            **write_metadata(result, bars, start, end),
            "rejected_rows": rejected.height,
            "quarantined_new": quarantined,
        },
        check_results=asset_checks.results("ohlcv_daily", outcomes),
    )


@partitioned_asset(
    group_name="bronze",
    description=TABLES["sentiment_bronze"].description,
    check_specs=asset_checks.specs("sentiment_bronze"),
)
def sentiment_bronze(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource, sources: SourcesResource
) -> dg.MaterializeResult:
    """Landed sentiment snapshots and VADER-scored headlines of the partition range.

    As for bars, the rows of each file read are replaced and other files' rows are kept.
    """
    start, end = partition_dates(context)
    config, lake = lakehouse.config(), lakehouse.lake()
    lines, files, misnamed = sources.sentiment_lines(config, start, end)
    if misnamed:
        context.log.warning(f"ignored {len(misnamed)} sentiment files not named YYYY-MM-DD.jsonl: {misnamed[:5]}")
    rows, rejected = sentiment.parse_snapshot_lines(lines)
    rows = rows.with_columns(ingested_at=pl.lit(utc_now()))
    result = lake.sync_range("sentiment_bronze", rows, start, end, {"file": files})
    quarantined = quarantine(lake, rejected)
    _, outcomes = asset_checks.table_outcomes(lake, "sentiment_bronze", start, end)
    outcomes["quarantine_growth"] = checks.quarantine_growth(
        rejected.height, rows.height + rejected.height, config.checks
    )
    return dg.MaterializeResult(
        metadata={
            **write_metadata(result, rows, start, end),
            "rejected_rows": rejected.height,
            "quarantined_new": quarantined,
            "landing": sources.sentiment_dir or "(none: stub sentiment downstream)",
        },
        check_results=asset_checks.results("sentiment_bronze", outcomes),
    )


@partitioned_asset(
    group_name="silver",
    deps=[sentiment_bronze, ohlcv_daily],
    description=TABLES["sentiment_daily"].description,
    check_specs=asset_checks.specs("sentiment_daily"),
)
def sentiment_daily(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource, sources: SourcesResource
) -> dg.MaterializeResult:
    """Provider-weighted daily sentiment for every bar; the stub where nothing landed."""
    start, end = partition_dates(context)
    config, lake = lakehouse.config(), lakehouse.lake()
    symbols = sources.universe(config)
    in_universe = pl.col("symbol").is_in(symbols)
    bronze = lake.read("sentiment_bronze", start, end, where=in_universe)
    bars = lake.read("ohlcv_daily", start, end, where=in_universe, columns=["symbol", "date"])
    weights = config.sources
    daily = sentiment.daily_sentiment(bronze, bars, weights.provider_weights, weights.default_weight)
    result = lake.sync_range("sentiment_daily", daily, start, end, {"symbol": symbols})
    stub = daily.filter(pl.col("source") == sentiment.STUB).height
    table, outcomes = asset_checks.table_outcomes(lake, "sentiment_daily", start, end, in_universe)
    outcomes["score_bounds"] = checks.within(table, {"score": (-1, 1), "confidence": (0, 1)}, ["symbol", "date"])
    return dg.MaterializeResult(
        metadata={**write_metadata(result, daily, start, end), "stub_rows": stub},
        check_results=asset_checks.results("sentiment_daily", outcomes),
    )
