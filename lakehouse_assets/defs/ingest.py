"""Bronze and silver assets: bars and sentiment from the sources into validated tables."""

from pathlib import Path

import dagster as dg
import polars as pl

from lakehouse_assets.core import checks, ohlcv, sentiment
from lakehouse_assets.core.quarantine import file_record
from lakehouse_assets.defs import checks as asset_checks
from lakehouse_assets.defs.common import finish, partitioned_asset, quarantine, utc_now
from lakehouse_assets.defs.partitions import partition_dates
from lakehouse_assets.defs.resources import LakehouseResource, SourcesResource
from lakehouse_assets.lake.catalog import TABLES
from lakehouse_assets.sources import ohlcv as ohlcv_source
from lakehouse_assets.sources import sentiment as sentiment_source
from lakehouse_assets.sources.ohlcv import LANDING_SOURCE, FileProblem


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
    Rows that cannot be typed (a value missing, non-numeric or not finite: ``NaN``,
    ``inf``, ``1e400``) and rows dated outside the calendar go to quarantine; a re-delivered
    file's bad row never replaces its earlier good row. A file that cannot be read at all
    (e.g. no ``close`` column, or not UTF-8) is quarantined whole and its earlier rows are
    left as they were; the rest is written, then the asset fails naming the file. Files
    and folders no run reads (misnamed, not a symbol) are quarantined with the reason and
    fail the ``landed_files_read`` warning. ``quarantine_growth`` counts every row of the
    delivery that will not reach ``ohlcv_daily``, whatever the reason.
    """
    start, end = partition_dates(context)
    config, lake, calendar = lakehouse.config(), lakehouse.lake(), lakehouse.calendar()
    raw, files, problems = sources.ohlcv_deliveries(config, start, end)
    screened = ohlcv.screen_delivery(raw, config.exchange.timezone, calendar, start, end)
    previous = lake.read("ohlcv_bronze", start, end, where=pl.col("file").is_in(files))
    fresh = screened.bars.with_columns(ingested_at=pl.lit(utc_now()))
    bars = ohlcv.keep_replaced(fresh, screened.quarantined, previous)
    result = lake.sync_range("ohlcv_bronze", bars, start, end, {"file": files})
    folder = sources.ohlcv_dir
    unread = ohlcv_source.landing_problems(folder, sources.universe(config)) if folder else []
    records = _file_records("ohlcv_bronze", problems + unread, LANDING_SOURCE)
    quarantined = quarantine(lake, pl.concat([screened.quarantined, *records]))
    if problems:
        raise dg.Failure(
            description="; ".join(f"{Path(folder or '') / p.file}: {p.reason}" for p in problems),
            metadata={"bad_files": [p.file for p in problems], "rows_written": bars.height},
        )
    context.log.info(f"ohlcv_bronze {start}..{end}: {bars.height} bars, rejected {screened.rejected}")
    _warn_unread(context, unread)
    growth = checks.quarantine_growth(screened.rejected, screened.delivered, config.checks)
    return finish(
        context,
        lake,
        result,
        bars,
        parts=lambda _: {"quarantine_growth": growth, "landed_files_read": _files_read(unread)},
        metadata={
            "rejected_rows": sum(screened.rejected.values()),  # the gate's count; rules' rows go to silver's quarantine
            "rejected_by_kind": dg.MetadataValue.json(screened.rejected),
            "unread_files": len(unread),
            "quarantined_new": quarantined,
        },
    )


def _file_records(table_name: str, problems: list[FileProblem], source: str) -> list[pl.DataFrame]:
    return [file_record(table_name, p.file, p.reason, p.raw_value, source, p.symbol or None) for p in problems]


def _warn_unread(context: dg.AssetExecutionContext, unread: list[FileProblem]) -> None:
    if unread:
        said = "; ".join(f"{p.file}: {p.reason}" for p in unread[:5])
        context.log.warning(f"{len(unread)} landed files not read (quarantined): {said}")


def _files_read(unread: list[FileProblem]) -> checks.Outcome:
    return checks.files_read((p.file, p.reason) for p in unread)


@partitioned_asset(
    group_name="silver",
    deps=["ohlcv_bronze"],
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
    return finish(
        context,
        lake,
        result,
        bars,
        where=pl.col("symbol").is_in(symbols),
        parts=lambda table: {
            "ohlc_bounds": checks.ohlc_bounds(table),
            "symbols_present": checks.symbols_present(table, symbols, calendar.sessions(start, end)),
        },
        metadata={"rejected_rows": rejected.height, "quarantined_new": quarantined},
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
    Lines that are not valid (not JSON, not UTF-8, a score not finite or out of bounds)
    are quarantined with the line as delivered; files no run reads (misnamed, dated
    outside the calendar, in a folder that is not a symbol) are quarantined with the
    reason and fail the ``landed_files_read`` warning.
    """
    start, end = partition_dates(context)
    config, lake, calendar = lakehouse.config(), lakehouse.lake(), lakehouse.calendar()
    lines, files = sources.sentiment_lines(config, start, end)
    rows, rejected = sentiment.parse_snapshot_lines(lines)
    rows = rows.with_columns(ingested_at=pl.lit(utc_now()))
    result = lake.sync_range("sentiment_bronze", rows, start, end, {"file": files})
    folder, universe = sources.sentiment_dir, sources.universe(config)
    unread = sentiment_source.landing_problems(folder, universe, calendar) if folder else []
    quarantined = quarantine(
        lake, pl.concat([rejected, *_file_records("sentiment_bronze", unread, sentiment.LANDING_SOURCE)])
    )
    _warn_unread(context, unread)
    growth = checks.quarantine_growth(rejected.height, rows.height + rejected.height, config.checks)
    return finish(
        context,
        lake,
        result,
        rows,
        parts=lambda _: {"quarantine_growth": growth, "landed_files_read": _files_read(unread)},
        metadata={
            "rejected_rows": rejected.height,
            "unread_files": len(unread),
            "quarantined_new": quarantined,
            "landing": sources.sentiment_dir or "(none: stub sentiment downstream)",
        },
    )


@partitioned_asset(
    group_name="silver",
    deps=["sentiment_bronze", "ohlcv_daily"],
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
    bounds = {"score": (-1, 1), "confidence": (0, 1)}
    return finish(
        context,
        lake,
        result,
        daily,
        where=in_universe,
        parts=lambda table: {"score_bounds": checks.within(table, bounds, ["symbol", "date"])},
        metadata={"stub_rows": stub},
    )
