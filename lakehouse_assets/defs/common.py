"""Pieces every asset shell shares: partitions, retries, writes with their metadata."""

from __future__ import annotations

import datetime as dt
import time
import warnings
from collections.abc import Callable
from typing import Any

import dagster as dg
import polars as pl

from lakehouse_assets import plots, report
from lakehouse_assets.config import Config
from lakehouse_assets.core.calendar import TradingCalendar
from lakehouse_assets.defs.partitions import trading_day_partitions
from lakehouse_assets.defs.settings import calendar_of, config_at
from lakehouse_assets.lake.delta import Lake, WriteResult

CONFIG = config_at(None)
PARTITIONS = trading_day_partitions(CONFIG, calendar_of(CONFIG))


def partitioned_asset(**kwargs: Any) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """``@dg.asset`` on trading-day partitions with a single-run backfill policy.

    A backfill of any range is then one run that processes the range vectorized over all
    symbols. Dagster 1.13 flags ``backfill_policy`` as beta; that one warning is silenced
    here, on purpose, so loading the code location stays warning-free.
    """
    return _partitioned(dg.asset, kwargs)


def partitioned_multi_asset(**kwargs: Any) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """``@dg.multi_asset`` with the same partitions and backfill policy."""
    return _partitioned(dg.multi_asset, kwargs)


def _partitioned(decorator: Callable[..., Any], kwargs: dict[str, Any]) -> Callable[..., dg.AssetsDefinition]:
    def decorate(fn: Callable[..., Any]) -> dg.AssetsDefinition:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*backfill_policy.*", category=dg.BetaWarning)
            return decorator(
                partitions_def=PARTITIONS,
                backfill_policy=dg.BackfillPolicy.single_run(),
                **({"kinds": {"delta", "polars"}} if decorator is dg.asset else {}),
                **kwargs,
            )(fn)

    return decorate


def table_spec(name: str, group: str, deps: list) -> dg.AssetSpec:
    """The spec of an asset that is one catalogued table (its description from the catalogue)."""
    from lakehouse_assets.lake.catalog import TABLES

    return dg.AssetSpec(
        name, group_name=group, deps=deps, description=TABLES[name].description, kinds={"delta", "polars"}
    )


def read_history(
    lake: Lake,
    calendar: TradingCalendar,
    name: str,
    start: dt.date,
    end: dt.date,
    lookback: int,
    where: pl.Expr,
    columns: list[str],
) -> pl.DataFrame:
    """Rows of ``name`` from ``lookback`` sessions before ``start`` to ``end``; a symbol with
    fewer rows there (listed inside the window, or with gaps) is read from its first row, as
    a backfill reads it. What keeps a daily run's reads bounded (``docs/architecture.md``)."""
    from lakehouse_assets.core.features import short_of_history

    first = calendar.shift_sessions(start, -lookback)
    rows = lake.read(name, first, end, where=where, columns=columns)
    if short := short_of_history(rows, start, lookback):
        earlier = pl.col("symbol").is_in(short) & (pl.col("date") < first)
        rows = pl.concat([lake.read(name, None, first, where=earlier, columns=columns), rows])
    return rows


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def quarantine(lake: Lake, records: pl.DataFrame) -> int:
    """Add rejected records to ``quarantine`` (insert-only MERGE: a re-run adds nothing)."""
    if records.is_empty():
        lake.ensure("quarantine")  # an empty quarantine is a fact worth showing too
        return 0
    return lake.merge("quarantine", records.with_columns(quarantined_at=pl.lit(utc_now())), insert_only=True).inserted


def write_metadata(result: WriteResult, frame: pl.DataFrame, start: dt.date, end: dt.date) -> dict[str, object]:
    """The range's figures every materialization carries (totals of the whole range)."""
    symbols = sorted(frame.get_column("symbol").unique().to_list()) if "symbol" in frame.columns else []
    return {
        "range_rows": frame.height,
        "rows_inserted": result.inserted,
        "rows_updated": result.updated,
        "rows_deleted": result.deleted,
        "table_version": result.version,
        "date_range": f"{start}..{end}",
        "symbols": ", ".join(symbols) if symbols else "(none)",
    }


def materialized(
    context: dg.AssetExecutionContext,
    table: str,
    frame: pl.DataFrame,
    metadata: dict[str, object],
    check_results: list[dg.AssetCheckResult] | None = None,
    asset_key: str | None = None,
) -> dg.MaterializeResult:
    """The materialization of ``table`` (the asset ``asset_key`` of a multi-asset) with its
    metadata on the range's last partition, the one the UI shows as the latest.

    Dagster copies a range run's result metadata onto the event of every partition of the
    range, so a 3-day run showed each day the range's total as its ``dagster/row_count``,
    and a 14-year backfill stored its preview and plot 3,500 times. Here the last
    partition gets its own row count (rows of ``frame`` dated that day) and the range's
    figures (``write_metadata``: ``range_rows``, inserted/updated/deleted, previews,
    plots); the others get none. Not a count for each partition: Dagster validates the
    partition of every ``add_asset_metadata`` call against the whole range, so one call
    per partition costs the square of the range (10 s for 3,500 sessions).
    """
    from lakehouse_assets.lake.catalog import TABLES

    last = context.partition_key_range.end
    column = TABLES[table].date_column
    rows = frame.filter(pl.col(column) == dt.date.fromisoformat(last)).height if column in frame.columns else 0
    context.add_asset_metadata({"dagster/row_count": rows, **metadata}, asset_key=asset_key, partition_key=last)
    return dg.MaterializeResult(asset_key=asset_key, check_results=check_results)


def preview(frame: pl.DataFrame, rows: int = 5) -> dict[str, object]:
    """The head of the written partition as a markdown table (metadata ``preview``)."""
    return {"preview": dg.MetadataValue.md(markdown_table(frame.head(rows)))}


def plot_metadata(
    context: dg.AssetExecutionContext, lake: Lake, config: Config, name: str, end: dt.date
) -> dict[str, object]:
    """Plot ``name`` of :data:`lakehouse_assets.report.PLOTS` over the window ending on ``end``, as an
    embedded markdown image (metadata ``plot``). A plot never fails its asset: when drawing it
    fails, the asset gets no plot and the log a warning."""
    began = time.perf_counter()
    try:
        title, png = report.plot(lake, config, name, end)
    except (Exception, pl.exceptions.PanicException) as exc:  # a polars panic is no Exception
        context.log.warning(f"plot {name} skipped: {type(exc).__name__}: {exc}")
        return {}
    context.log.debug(f"plot {name}: {len(png)} bytes in {time.perf_counter() - began:.2f}s")
    return {"plot": dg.MetadataValue.md(plots.markdown_image(title, png))}


def markdown_table(frame: pl.DataFrame, width: int = 40) -> str:
    """A markdown table of every row of ``frame``; cells cut to ``width`` characters, ``|`` escaped."""
    if frame.width == 0:
        return "(no columns)"

    def cell(value: object) -> str:
        if value is None:
            return ""
        text = f"{value:.6g}" if isinstance(value, float) else str(value)
        text = " ".join(text.split())  # a newline would end the table row
        text = text if len(text) <= width else text[: width - 1] + "…"
        return text.replace("\\", "\\\\").replace("|", "\\|")

    lines = ["| " + " | ".join(cell(c) for c in frame.columns) + " |", "|" + "---|" * frame.width]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join(lines) + ("\n\n(no rows)" if frame.is_empty() else "")
